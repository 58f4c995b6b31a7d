import Foundation

/// A syntax check of one JSON text by RFC 8259, stricter than `JSONSerialization`, which on
/// Linux accepts a trailing comma (`{"text": "a",}`) and repeated keys. Run before parsing, so a
/// JSONL line, or a JSON file a user may edit (`checkFile`: an ablation spec, a run's
/// summary.json), is either strict JSON or an error naming where it goes wrong.
public enum StrictJSON {
    struct Problem: Error, Equatable {
        /// 0-based offset of the offending byte in the text.
        var offset: Int
        var message: String
    }

    /// Deeper nesting than this is refused (the check recurses).
    static let maxDepth = 512

    /// Throws a `Problem` at the first syntax error: a trailing comma, a repeated key in an
    /// object, a bad literal, number, string or escape, a control character in a string, or
    /// anything after the value.
    static func check(_ bytes: UnsafeBufferPointer<UInt8>) throws {
        var parser = Parser(bytes: bytes)
        parser.skipSpace()
        try parser.value(depth: 0)
        parser.skipSpace()
        if parser.i < bytes.count { throw Problem(offset: parser.i, message: "unexpected text after the JSON value") }
    }

    /// Checks a whole JSON file's bytes (a byte order mark already skipped). Throws a
    /// `CorpusError` naming `path`, the line and the byte of the line, worded as a JSONL line's
    /// error: `spec.json:3: not valid JSON: repeated key "seeds" (byte 3 of the line)`.
    public static func checkFile(_ bytes: [UInt8], path: String) throws {
        do {
            try bytes.withUnsafeBufferPointer { try check($0) }
        } catch let problem as Problem {
            let before = bytes[..<problem.offset]
            let line = before.count(where: { $0 == 0x0A }) + 1
            let lineStart = before.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
            throw CorpusError(file: path, position: .line(line),
                              "not valid JSON: \(problem.message) (byte \(problem.offset - lineStart + 1) of the line)")
        }
    }

    /// A key (with its quotes, already checked) as a reader sees it: escapes decoded, so
    /// `"se\u0065ds"` repeats `"seeds"`, as it does for Python and Foundation.
    static func keyText(_ quoted: [UInt8]) -> String {
        let plain = String(decoding: quoted.dropFirst().dropLast(), as: UTF8.self)
        guard quoted.contains(UInt8(ascii: "\\")) else { return plain }
        return (try? JSONDecoder().decode(String.self, from: Data(quoted))) ?? plain
    }

    private struct Parser {
        let bytes: UnsafeBufferPointer<UInt8>
        var i = 0

        var current: UInt8? { i < bytes.count ? bytes[i] : nil }

        mutating func skipSpace() {
            while let b = current, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { i += 1 }
        }

        func fail(_ message: String) -> Problem {
            Problem(offset: i, message: i < bytes.count ? message : "the line ends inside the JSON value")
        }

        mutating func expect(_ byte: UInt8, _ what: String) throws {
            guard current == byte else { throw fail("expected \(what)") }
            i += 1
        }

        mutating func value(depth: Int) throws {
            guard let b = current else { throw fail("expected a value") }
            switch b {
            case UInt8(ascii: "{"): try object(depth: depth + 1)
            case UInt8(ascii: "["): try array(depth: depth + 1)
            case UInt8(ascii: "\""): try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw fail("expected a value")
            }
        }

        mutating func object(depth: Int) throws {
            if depth > StrictJSON.maxDepth { throw fail("nested deeper than \(StrictJSON.maxDepth) levels") }
            i += 1
            skipSpace()
            if current == UInt8(ascii: "}") { i += 1; return }
            var keys = Set<String>()
            while true {
                guard current == UInt8(ascii: "\"") else {
                    throw fail(current == UInt8(ascii: "}") ? "trailing comma before }" : "expected a key in double quotes")
                }
                let keyStart = i
                try string()
                let key = Array(bytes[keyStart..<i])
                if !keys.insert(StrictJSON.keyText(key)).inserted {
                    i = keyStart
                    throw fail("repeated key \(String(decoding: key, as: UTF8.self))")
                }
                skipSpace()
                try expect(UInt8(ascii: ":"), "':' after the key")
                skipSpace()
                try value(depth: depth)
                skipSpace()
                if current == UInt8(ascii: ",") { i += 1; skipSpace(); continue }
                try expect(UInt8(ascii: "}"), "',' or '}'")
                return
            }
        }

        mutating func array(depth: Int) throws {
            if depth > StrictJSON.maxDepth { throw fail("nested deeper than \(StrictJSON.maxDepth) levels") }
            i += 1
            skipSpace()
            if current == UInt8(ascii: "]") { i += 1; return }
            while true {
                if current == UInt8(ascii: "]") { throw fail("trailing comma before ]") }
                try value(depth: depth)
                skipSpace()
                if current == UInt8(ascii: ",") { i += 1; skipSpace(); continue }
                try expect(UInt8(ascii: "]"), "',' or ']'")
                return
            }
        }

        mutating func literal(_ word: String) throws {
            for byte in word.utf8 {
                guard current == byte else { throw fail("expected \(word)") }
                i += 1
            }
        }

        mutating func digits() throws {
            guard let b = current, b >= 0x30 && b <= 0x39 else { throw fail("expected a digit") }
            while let b = current, b >= 0x30 && b <= 0x39 { i += 1 }
        }

        mutating func number() throws {
            if current == UInt8(ascii: "-") { i += 1 }
            if current == UInt8(ascii: "0") {
                i += 1
                if let b = current, b >= 0x30 && b <= 0x39 { throw fail("a number with a leading zero") }
            } else {
                try digits()
            }
            if current == UInt8(ascii: ".") { i += 1; try digits() }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                i += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { i += 1 }
                try digits()
            }
        }

        mutating func string() throws {
            i += 1
            while let b = current {
                switch b {
                case UInt8(ascii: "\""):
                    i += 1
                    return
                case UInt8(ascii: "\\"):
                    i += 1
                    guard let e = current else { break }
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"),
                         UInt8(ascii: "f"), UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                        i += 1
                    case UInt8(ascii: "u"):
                        i += 1
                        for _ in 0..<4 {
                            guard let h = current, (h >= 0x30 && h <= 0x39) || (h | 0x20 >= 0x61 && h | 0x20 <= 0x66) else {
                                throw fail("expected four hex digits after \\u")
                            }
                            i += 1
                        }
                    default:
                        throw fail("invalid escape in a string")
                    }
                case 0x00..<0x20:
                    throw fail("a control character in a string (write it as an escape)")
                default:
                    i += 1
                }
            }
            throw fail("unterminated string")
        }
    }
}
