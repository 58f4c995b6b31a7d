/// Which part of a corpus a record belongs to.
public enum Split: String, CaseIterable, Sendable, Codable {
    case train, valid, test
}

/// Where a record came from: the file (as the user named it) and its 1-based line number.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// One unit of a corpus: a line of text (a sentence or paragraph), or one JSONL document.
///
/// `text` is valid UTF-8 (readers check it, or replace invalid bytes on request).
public struct Record: Sendable, Equatable {
    public var text: String
    public var domain: String?
    public var split: Split?
    public var id: String?
    public var location: SourceLocation

    public init(text: String, domain: String? = nil, split: Split? = nil, id: String? = nil,
                location: SourceLocation) {
        self.text = text
        self.domain = domain
        self.split = split
        self.id = id
        self.location = location
    }
}
