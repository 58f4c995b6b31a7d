import CZlib

/// Decompresses a gzip file with zlib, in constant memory; concatenated gzip members are read as
/// one stream (as `gzip -d` does). A file that ends inside a member is reported as truncated.
public final class GzipByteSource: ByteSource {
    private let file: FileByteSource
    private var stream = z_stream()
    private var input: [UInt8]
    private var inputStart = 0, inputEnd = 0
    private var atEndOfFile = false
    /// True between the end of one member and the first byte of the next.
    private var betweenMembers = false

    public init(_ file: FileByteSource) throws {
        self.file = file
        input = [UInt8](repeating: 0, count: 1 << 16)
        // 15 + 16: a gzip wrapper (not zlib or raw deflate), 32 KiB window.
        let r = inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        if r != Z_OK { throw CorpusError(file: file.path, "cannot initialise zlib (\(r))") }
    }

    deinit { inflateEnd(&stream) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            if inputStart == inputEnd && !atEndOfFile {
                inputEnd = try input.withUnsafeMutableBytes { try file.read(into: $0) }
                inputStart = 0
                if inputEnd == 0 { atEndOfFile = true }
            }
            if atEndOfFile && inputStart == inputEnd {
                if betweenMembers { return 0 }
                // Let zlib flush what it holds; if it cannot finish the member, the file is cut short.
            }
            if betweenMembers {
                if inputStart == inputEnd { continue }
                inflateReset(&stream)
                betweenMembers = false
            }
            let offsetBefore = file.offset - (inputEnd - inputStart)
            let (produced, status, consumed): (Int, Int32, Int) = input.withUnsafeMutableBytes { inBytes in
                stream.next_in = inBytes.baseAddress!.assumingMemoryBound(to: Bytef.self) + inputStart
                stream.avail_in = uInt(inputEnd - inputStart)
                stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(buffer.count)
                let r = inflate(&stream, Z_NO_FLUSH)
                return (buffer.count - Int(stream.avail_out), r, (inputEnd - inputStart) - Int(stream.avail_in))
            }
            inputStart += consumed
            switch status {
            case Z_OK, Z_BUF_ERROR:
                if produced > 0 { return produced }
                if atEndOfFile && inputStart == inputEnd {
                    throw CorpusError(file: file.path, position: .byte(file.offset), "truncated gzip stream (the file ends inside a member)")
                }
            case Z_STREAM_END:
                betweenMembers = true
                if produced > 0 { return produced }
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw CorpusError(file: file.path, position: .byte(offsetBefore + consumed), "corrupt gzip data (\(reason))")
            }
        }
    }
}
