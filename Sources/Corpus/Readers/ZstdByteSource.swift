import CZstd

/// Decompresses a zstd file with libzstd's streaming API, in constant memory.
///
/// Concatenated (multi-frame) files and skippable frames are read as one stream. A file that
/// ends inside a frame is reported as truncated; corrupt data as corrupt, with the byte offset in
/// the compressed file where libzstd noticed.
public final class ZstdByteSource: ByteSource {
    private let input: CompressedInput
    private let stream: OpaquePointer
    /// libzstd's last hint: 0 when a frame has just been completed.
    private var lastHint = 0

    /// Decompresses `file`.
    public convenience init(_ file: FileByteSource) throws {
        try self.init(file, path: file.path)
    }

    /// Decompresses the bytes of `source`; `path` names it in errors.
    public init(_ source: ByteSource, path: String) throws {
        input = CompressedInput(source, path: path, capacity: ZSTD_DStreamInSize())
        guard let stream = ZSTD_createDStream() else { throw CorpusError(file: path, "cannot create a zstd stream") }
        self.stream = stream
        ZSTD_initDStream(stream)
    }

    deinit { ZSTD_freeDStream(stream) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        while true {
            try input.refillIfEmpty()
            let (produced, hint, consumedTo): (Int, Int, Int) = try input.buffer.withUnsafeBytes { inBytes in
                var inBuf = ZSTD_inBuffer(src: inBytes.baseAddress! + 0, size: input.end, pos: input.start)
                var outBuf = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
                let r = ZSTD_decompressStream(stream, &outBuf, &inBuf)
                if ZSTD_isError(r) != 0 {
                    let reason = String(cString: ZSTD_getErrorName(r))
                    throw CorpusError(file: input.path, position: .byte(input.offset), "corrupt zstd data (\(reason))")
                }
                return (outBuf.pos, r, inBuf.pos)
            }
            // A call that neither consumed nor produced anything says nothing about frame state
            // (after a finished frame, libzstd then asks for the next frame's header).
            if consumedTo > input.start || produced > 0 { lastHint = hint }
            input.start = consumedTo
            if produced > 0 { return produced }
            if input.isExhausted {
                if input.sawAnyByte && lastHint != 0 {
                    throw CorpusError(file: input.path, position: .byte(input.fileOffset), "truncated zstd stream (the file ends inside a frame)")
                }
                return 0
            }
        }
    }
}
