import Glibc

/// Splits a byte stream into lines, in bounded memory.
///
/// Lines end at `\n`; a `\r` before it is dropped; a last line without a newline still counts.
/// Each line is handed to the caller as a view into the reader's buffer, valid only during the
/// call, so no line is copied unless it straddles two reads. A line longer than `maxLineBytes`
/// is an error naming its line number (memory stays bounded by that limit).
public struct LineReader {
    public static let defaultMaxLineBytes = 4 << 20
    static let chunkBytes = 1 << 20

    public let source: ByteSource
    public let path: String
    public let maxLineBytes: Int

    public init(source: ByteSource, path: String, maxLineBytes: Int = LineReader.defaultMaxLineBytes) {
        precondition(maxLineBytes > 0)
        self.source = source
        self.path = path
        self.maxLineBytes = maxLineBytes
    }

    /// Calls `body(line, lineNumber)` for each line (1-based numbers), in order.
    public func forEachLine(_ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws {
        // Room for the longest line and its newline (no overflow for a limit of Int.max).
        let bufferLimit = maxLineBytes == .max ? maxLineBytes : maxLineBytes + 1
        var capacity = min(Self.chunkBytes, bufferLimit)
        var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 64)
        defer { buffer.deallocate() }
        var start = 0, end = 0  // unconsumed bytes are buffer[start..<end]
        var lineNumber = 0
        var atEnd = false

        func emit(_ from: Int, _ to: Int) throws {
            lineNumber += 1
            var length = to - from
            if length > maxLineBytes {
                throw CorpusError(file: path, position: .line(lineNumber), "line is longer than \(maxLineBytes) bytes (raise --max-line-bytes if this is intended)")
            }
            let base = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self) + from
            if length > 0 && base[length - 1] == UInt8(ascii: "\r") { length -= 1 }
            try body(UnsafeBufferPointer(start: base, count: length), lineNumber)
        }

        while true {
            // Hand out every complete line in the buffer.
            var scanFrom = start
            while scanFrom < end, let nl = memchr(buffer.baseAddress! + scanFrom, 0x0A, end - scanFrom) {
                let at = buffer.baseAddress!.distance(to: nl)
                try emit(start, at)
                start = at + 1
                scanFrom = start
            }
            if atEnd {
                if start < end { try emit(start, end) }
                return
            }
            // Make room: move the partial line to the front, grow if a line fills the buffer.
            if start > 0 {
                if end > start { memmove(buffer.baseAddress!, buffer.baseAddress! + start, end - start) }
                end -= start
                start = 0
            }
            if end == capacity {
                if capacity > maxLineBytes {
                    throw CorpusError(file: path, position: .line(lineNumber + 1), "line is longer than \(maxLineBytes) bytes (raise --max-line-bytes if this is intended)")
                }
                let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: min(capacity * 2, bufferLimit), alignment: 64)
                grown.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[0..<end]))
                buffer.deallocate()
                buffer = grown
                capacity = grown.count
            }
            let n = try source.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[end..<capacity]))
            if n == 0 { atEnd = true } else { end += n }
        }
    }
}
