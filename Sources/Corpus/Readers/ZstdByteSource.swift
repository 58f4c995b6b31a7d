import CZstd

/// Decompresses a zstd file with libzstd's streaming API, in constant memory.
///
/// Concatenated (multi-frame) files and skippable frames are read as one stream. A file that
/// ends inside a frame is reported as truncated; corrupt data as corrupt, with the byte offset in
/// the compressed file where libzstd noticed.
public final class ZstdByteSource: ByteSource {
    private let file: FileByteSource
    private let stream: OpaquePointer
    private var input: [UInt8]
    private var inputStart = 0, inputEnd = 0
    private var atEndOfFile = false
    /// libzstd's last hint: 0 when a frame has just been completed.
    private var lastHint = 0
    private var sawAnyInput = false

    public init(_ file: FileByteSource) throws {
        self.file = file
        guard let stream = ZSTD_createDStream() else { throw CorpusError(file: file.path, "cannot create a zstd stream") }
        self.stream = stream
        ZSTD_initDStream(stream)
        input = [UInt8](repeating: 0, count: ZSTD_DStreamInSize())
    }

    deinit { ZSTD_freeDStream(stream) }

    /// Offset in the compressed file of the next byte libzstd will see.
    private var compressedOffset: Int { file.offset - (inputEnd - inputStart) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            if inputStart == inputEnd && !atEndOfFile {
                inputEnd = try input.withUnsafeMutableBytes { try file.read(into: $0) }
                inputStart = 0
                if inputEnd == 0 { atEndOfFile = true } else { sawAnyInput = true }
            }
            let (produced, hint, consumedTo): (Int, Int, Int) = try input.withUnsafeBytes { inBytes in
                var inBuf = ZSTD_inBuffer(src: inBytes.baseAddress! + 0, size: inputEnd, pos: inputStart)
                var outBuf = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
                let r = ZSTD_decompressStream(stream, &outBuf, &inBuf)
                if ZSTD_isError(r) != 0 {
                    let reason = String(cString: ZSTD_getErrorName(r))
                    throw CorpusError(file: file.path, position: .byte(compressedOffset), "corrupt zstd data (\(reason))")
                }
                return (outBuf.pos, r, inBuf.pos)
            }
            // A call that neither consumed nor produced anything says nothing about frame state
            // (after a finished frame, libzstd then asks for the next frame's header).
            if consumedTo > inputStart || produced > 0 { lastHint = hint }
            inputStart = consumedTo
            if produced > 0 { return produced }
            if atEndOfFile && inputStart == inputEnd {
                if sawAnyInput && lastHint != 0 {
                    throw CorpusError(file: file.path, position: .byte(file.offset), "truncated zstd stream (the file ends inside a frame)")
                }
                return 0
            }
        }
    }
}
