import Support

/// A problem with a corpus input, located as precisely as the reader knows: file, and line or
/// byte offset. Its description is one line, e.g. `train.txt.zst: byte 81920: truncated zstd stream`
/// or `docs.jsonl:17: no "text" field`. Control characters in the file name (a newline, say)
/// are written as escapes (`\n`, `\u{1B}`), so the description stays one line.
public struct CorpusError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Position: Sendable, Equatable {
        case none
        case line(Int)
        case byte(Int)
    }

    public var file: String
    public var position: Position
    public var message: String

    public init(file: String, position: Position = .none, _ message: String) {
        self.file = file
        self.position = position
        self.message = message
    }

    public var description: String {
        let file = escapeControlCharacters(self.file)
        switch position {
        case .none: return "\(file): \(message)"
        case .line(let n): return "\(file):\(n): \(message)"
        case .byte(let n): return "\(file): byte \(n): \(message)"
        }
    }
}
