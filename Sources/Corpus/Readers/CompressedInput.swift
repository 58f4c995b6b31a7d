/// The compressed side of a decompressing `ByteSource`: a buffer refilled from the file, with
/// the unconsumed bytes at `buffer[start..<end]`.
final class CompressedInput {
    let source: ByteSource
    /// The file's name, for error messages.
    let path: String
    var buffer: [UInt8]
    var start = 0, end = 0
    /// Bytes read from the file so far.
    private(set) var fileOffset = 0
    private(set) var atEndOfFile = false
    /// Whether the file had at least one byte.
    private(set) var sawAnyByte = false

    init(_ source: ByteSource, path: String, capacity: Int) {
        self.source = source
        self.path = path
        buffer = [UInt8](repeating: 0, count: capacity)
    }

    /// Whether every byte of the file has been consumed.
    var isExhausted: Bool { atEndOfFile && start == end }

    /// The offset in the file of the next unconsumed byte (for error messages).
    var offset: Int { fileOffset - (end - start) }

    /// Reads the next chunk of the file when everything buffered has been consumed.
    func refillIfEmpty() throws {
        guard start == end && !atEndOfFile else { return }
        end = try buffer.withUnsafeMutableBytes { try source.read(into: $0) }
        start = 0
        fileOffset += end
        if end == 0 { atEndOfFile = true } else { sawAnyByte = true }
    }
}
