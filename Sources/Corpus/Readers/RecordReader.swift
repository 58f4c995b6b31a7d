import Foundation
import Support

/// How the lines of a corpus file are turned into records.
public enum RecordFormat: String, CaseIterable, Sendable {
    /// Decide per file: JSONL when its name (without a compression extension) ends in `.jsonl`,
    /// `.ndjson` or `.json`, or when its first non-blank line is a JSON object with a `"text"`
    /// string; plain lines otherwise.
    case auto
    /// One record per line (a sentence or paragraph, PTB/WikiText style); blank lines are records too.
    case lines
    /// One JSON object per line with a `"text"` string and optional `"domain"`, `"split"`, `"id"`.
    /// Blank lines are skipped.
    case jsonl
}

/// Options shared by every corpus reader.
public struct ReadOptions: Sendable, Equatable, Codable {
    public var format: RecordFormat
    /// Replace invalid UTF-8 with U+FFFD instead of failing.
    public var replaceInvalidUTF8: Bool
    public var maxLineBytes: Int

    public init(format: RecordFormat = .auto, replaceInvalidUTF8: Bool = false,
                maxLineBytes: Int = LineReader.defaultMaxLineBytes) {
        self.format = format
        self.replaceInvalidUTF8 = replaceInvalidUTF8
        self.maxLineBytes = maxLineBytes
    }

    // As a run's config.json records them (`reading`): the flags' names.
    private enum CodingKeys: String, CodingKey { case format, replaceInvalidUTF8 = "replaceInvalid", maxLineBytes }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decodeChoice(RecordFormat.self, forKey: .format)
        replaceInvalidUTF8 = try c.decode(Bool.self, forKey: .replaceInvalidUTF8)
        maxLineBytes = try c.decode(Int.self, forKey: .maxLineBytes)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format.rawValue, forKey: .format)
        try c.encode(replaceInvalidUTF8, forKey: .replaceInvalidUTF8)
        try c.encode(maxLineBytes, forKey: .maxLineBytes)
    }
}

/// A record as the readers hand it out: the text as UTF-8 bytes, valid only during the callback.
/// Call `record()` for an owned copy.
public struct RecordView {
    public let text: UnsafeBufferPointer<UInt8>
    public let domain: String?
    public let split: Split?
    public let id: String?
    public let location: SourceLocation

    public func record() -> Record {
        Record(text: String(decoding: text, as: UTF8.self), domain: domain, split: split, id: id, location: location)
    }
}

/// Reads the records of one file.
public struct RecordReader {
    public let path: String
    public let options: ReadOptions

    public init(path: String, options: ReadOptions = ReadOptions()) {
        self.path = path
        self.options = options
    }

    static func nameSaysJSONL(_ path: String) -> Bool {
        var parts = (path as NSString).lastPathComponent.lowercased().split(separator: ".").map(String.init)
        while let last = parts.last, CorpusFiles.compressionExtensions.contains(last) { parts.removeLast() }
        guard parts.count >= 2, let ext = parts.last else { return false }
        return ext == "jsonl" || ext == "ndjson" || ext == "json"
    }

    /// Calls `body` with each record of the file, in order. Throws a `CorpusError` naming the file
    /// and line for an empty file, invalid UTF-8, a bad JSONL line (JSONL lines must be strict
    /// JSON: no trailing comma, no repeated key), a corrupt stream, or a file in UTF-16 or UTF-32.
    /// A UTF-8 byte order mark at the start is skipped (see `openTextSource`).
    public func forEachRecord(_ body: (RecordView) throws -> Void) throws {
        let (source, _) = try openTextSource(path: path)
        let lines = LineReader(source: source, path: path, maxLineBytes: options.maxLineBytes)
        var format: RecordFormat? = options.format == .auto ? (Self.nameSaysJSONL(path) ? .jsonl : nil) : options.format
        var sawAnyLine = false
        var repaired: [UInt8] = []
        // Runs of identical consecutive blank lines (content, first line number, count): a file
        // that opens with millions of empty lines (a zstd stream of newlines, say) holds one run.
        var pendingBlankLines: [(bytes: [UInt8], first: Int, count: Int)] = []

        func flushPendingBlankLines() throws {
            if format != .jsonl {
                for run in pendingBlankLines {
                    try run.bytes.withUnsafeBufferPointer { text in
                        for number in run.first..<(run.first + run.count) {
                            try body(RecordView(text: text, domain: nil, split: nil, id: nil, location: SourceLocation(file: path, line: number)))
                        }
                    }
                }
            }
            pendingBlankLines = []
        }

        func handle(_ line: UnsafeBufferPointer<UInt8>, _ number: Int) throws {
            let location = SourceLocation(file: path, line: number)
            if format == nil {
                // Undecided until the first non-blank line. Leading blank lines wait: they are
                // records in line mode and skipped in JSONL mode.
                if Self.isBlank(line) {
                    if let last = pendingBlankLines.last, last.first + last.count == number, last.bytes.elementsEqual(line) {
                        pendingBlankLines[pendingBlankLines.count - 1].count += 1
                    } else {
                        pendingBlankLines.append((Array(line), number, 1))
                    }
                    return
                }
                // Lenient here: a line that JSONSerialization takes for an object with a "text"
                // (a trailing comma, say) makes the file JSONL, so the strict parse below reports it
                // instead of the file being read as plain text.
                format = (try? JSONLine.parse(line, strict: false)) != nil ? .jsonl : .lines
                try flushPendingBlankLines()
            }
            guard format == .jsonl else {
                try body(RecordView(text: line, domain: nil, split: nil, id: nil, location: location))
                return
            }
            if Self.isBlank(line) { return }
            let doc: JSONLine
            do {
                doc = try JSONLine.parse(line)
            } catch let problem as JSONLine.Problem {
                throw CorpusError(file: path, position: .line(number), problem.text)
            }
            try Array(doc.text.utf8).withUnsafeBufferPointer { text in
                try body(RecordView(text: text, domain: doc.domain, split: doc.split, id: doc.id, location: location))
            }
        }

        try lines.forEachLine { line, number in
            sawAnyLine = true
            guard let bad = UTF8Validation.firstInvalidByte(line) else { return try handle(line, number) }
            guard options.replaceInvalidUTF8 else {
                throw CorpusError(file: path, position: .line(number), "invalid UTF-8 at byte \(bad + 1) of the line (use --replace-invalid to replace invalid bytes with U+FFFD)")
            }
            repaired = Array(String(decoding: line, as: UTF8.self).utf8)
            try repaired.withUnsafeBufferPointer { try handle($0, number) }
        }
        try flushPendingBlankLines()
        if !sawAnyLine { throw CorpusError(file: path, "empty file (no lines)") }
    }

    static func isBlank(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0B || $0 == 0x0C }
    }
}

/// One JSONL document: `{"text": ..., "domain": ..., "split": ..., "id": ...}`; other fields ignored.
struct JSONLine {
    struct Problem: Error { var text: String }

    var text: String
    var domain: String?
    var split: Split?
    var id: String?

    /// Parses one line; with `strict`, the line must be RFC 8259 JSON (see `StrictJSON`).
    static func parse(_ line: UnsafeBufferPointer<UInt8>, strict: Bool = true) throws -> JSONLine {
        if strict {
            do {
                try StrictJSON.check(line)
            } catch let problem as StrictJSON.Problem {
                throw Problem(text: "not valid JSON: \(problem.message) (byte \(problem.offset + 1) of the line)")
            }
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(buffer: line), options: [])
        } catch {
            throw Problem(text: "not valid JSON")
        }
        guard let dict = object as? [String: Any] else { throw Problem(text: "not a JSON object") }
        guard let textValue = dict["text"] else { throw Problem(text: "no \"text\" field") }
        guard let text = textValue as? String else { throw Problem(text: "the \"text\" field is not a string") }
        func stringField(_ key: String) throws -> String? {
            switch dict[key] {
            case nil, is NSNull: return nil
            case let s as String: return s
            case let n as NSNumber: return n.stringValue
            default: throw Problem(text: "the \"\(key)\" field is not a string")
            }
        }
        var split: Split?
        if let s = try stringField("split") {
            switch s.lowercased() {
            case "train", "training": split = .train
            case "valid", "validation", "dev": split = .valid
            case "test": split = .test
            default: throw Problem(text: "unknown split \(s.debugDescription) (expected train, valid or test)")
            }
        }
        return JSONLine(text: text, domain: try stringField("domain"), split: split, id: try stringField("id"))
    }
}
