import CZlib

/// Decompresses a gzip file with zlib, in constant memory; concatenated gzip members are read as
/// one stream (as `gzip -d` does). A file that ends inside a member is reported as truncated.
public final class GzipByteSource: ByteSource {
    private let input: CompressedInput
    private var stream = z_stream()
    /// True between the end of one member and the first byte of the next.
    private var betweenMembers = false

    /// Decompresses `file`.
    public convenience init(_ file: FileByteSource) throws {
        try self.init(file, path: file.path)
    }

    /// Decompresses the bytes of `source`; `path` names it in errors.
    public init(_ source: ByteSource, path: String) throws {
        input = CompressedInput(source, path: path, capacity: 1 << 16)
        // 15 + 16: a gzip wrapper (not zlib or raw deflate), 32 KiB window.
        let r = inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        if r != Z_OK { throw CorpusError(file: path, "cannot initialise zlib (\(r))") }
    }

    deinit { inflateEnd(&stream) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            try input.refillIfEmpty()
            // At the end of the file, zlib may still flush what it holds; if it cannot finish
            // the member, the file is cut short.
            if betweenMembers {
                if input.isExhausted { return 0 }
                inflateReset(&stream)
                betweenMembers = false
            }
            let offsetBefore = input.offset
            // zlib counts in 32 bits: fill at most 4 GiB - 1 bytes of a larger buffer.
            let room = min(buffer.count, Int(uInt.max))
            let (produced, status, consumed): (Int, Int32, Int) = input.buffer.withUnsafeMutableBytes { inBytes in
                stream.next_in = inBytes.baseAddress!.assumingMemoryBound(to: Bytef.self) + input.start
                stream.avail_in = uInt(input.end - input.start)
                stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(room)
                let r = inflate(&stream, Z_NO_FLUSH)
                return (room - Int(stream.avail_out), r, (input.end - input.start) - Int(stream.avail_in))
            }
            input.start += consumed
            switch status {
            case Z_OK, Z_BUF_ERROR:
                if produced > 0 { return produced }
                if input.isExhausted {
                    throw CorpusError(file: input.path, position: .byte(input.fileOffset), "truncated gzip stream (the file ends inside a member)")
                }
            case Z_STREAM_END:
                betweenMembers = true
                if produced > 0 { return produced }
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(status)"
                throw CorpusError(file: input.path, position: .byte(offsetBefore + consumed), "corrupt gzip data (\(reason))")
            }
        }
    }
}
