import Foundation
import FuzzSupport
import XCTest
@testable import Corpus

final class JSONLTests: XCTestCase {
    func testFieldsSplitsAndBlankLines() throws {
        let dir = try TempDir()
        let p = try dir.write("d.jsonl", """
            {"id": "x-1", "domain": "poetry", "split": "train", "text": "Sing, O \\"Muse\\"\\nof wrath", "extra": 3}

            {"id": 7, "domain": "drama", "split": "validation", "text": "Enter ghost."}
            {"text": "no labels"}

            """)
        let records = try readAll(p)
        XCTAssertEqual(records.count, 3)
        XCTAssertEqual(records[0], Record(text: "Sing, O \"Muse\"\nof wrath", domain: "poetry", split: .train, id: "x-1", location: SourceLocation(file: p, line: 1)))
        XCTAssertEqual(records[1].id, "7")
        XCTAssertEqual(records[1].split, .valid)
        XCTAssertEqual(records[1].location.line, 3)
        XCTAssertNil(records[2].domain)
    }

    func testBadLinesNameFileAndLine() throws {
        let dir = try TempDir()
        let notJSON = try dir.write("a.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"unterminated\n")
        assertCorpusError(try readAll(notJSON), contains: [notJSON + ":2:", "not valid JSON"])
        let noText = try dir.write("b.jsonl", "{\"text\": \"ok\"}\n{\"body\": \"x\"}\n")
        assertCorpusError(try readAll(noText), contains: [noText + ":2:", "no \"text\" field"])
        let wrongType = try dir.write("c.jsonl", "{\"text\": 5}\n")
        assertCorpusError(try readAll(wrongType), contains: [wrongType + ":1:", "not a string"])
        let array = try dir.write("d.jsonl", "[1, 2]\n")
        assertCorpusError(try readAll(array), contains: [array + ":1:", "not a JSON object"])
        let split = try dir.write("e.jsonl", "{\"text\": \"t\", \"split\": \"holdout\"}\n")
        assertCorpusError(try readAll(split), contains: [split + ":1:", "unknown split"])
    }

    /// A split value holding an escaped newline (or other control character) stays one line in
    /// the error: it is quoted with escapes, as Swift prints strings.
    func testUnknownSplitWithANewlineIsAOneLineError() throws {
        let dir = try TempDir()
        let split = try dir.write("f.jsonl", #"{"text": "t", "split": "a\nb\r\u0000"}"# + "\n")
        assertCorpusError(try readAll(split), contains: [split + ":1:", #"unknown split "a\nb\r\0""#])
    }

    func testFormatAutoDetection() throws {
        let dir = try TempDir()
        // JSON content in a .txt.zst file is detected from its first non-blank line.
        let jsonInTxt = try dir.write("docs.txt.zst", try compress(Array("\n{\"text\": \"hello\", \"domain\": \"x\"}\n".utf8), with: "zstd"))
        XCTAssertEqual(try readAll(jsonInTxt).map(\.text), ["hello"])
        // Plain text whose first line starts with a brace stays plain text.
        let braces = try dir.write("code.txt", "{ not json }\nsecond\n")
        XCTAssertEqual(try readAll(braces).map(\.text), ["{ not json }", "second"])
        // Forcing line mode keeps the JSON as text.
        XCTAssertEqual(try readAll(jsonInTxt, options: ReadOptions(format: .lines)).count, 2)
    }

    /// Leading blank lines wait until the format is known, kept as runs of identical lines: in
    /// line mode each is still its own (empty or whitespace) record with its own line number, in
    /// JSONL mode none is. (A stream of millions of newlines holds one run, not millions.)
    func testLeadingBlankLinesAreKeptAsRunsAndReplayedInLineMode() throws {
        let dir = try TempDir()
        let blanks = String(repeating: "\n", count: 3) + " \t\n \t\n\n" + String(repeating: "\n", count: 20_000)
        let plain = try dir.write("blank.txt.zst", try compress(Array((blanks + "hello\n").utf8), with: "zstd"))
        var seen: [(String, Int)] = []
        try RecordReader(path: plain, options: ReadOptions()).forEachRecord { seen.append((String(decoding: $0.text, as: UTF8.self), $0.location.line)) }
        XCTAssertEqual(seen.count, 20_007)
        XCTAssertEqual(seen.map(\.1), Array(1...20_007))
        XCTAssertEqual(seen.prefix(7).map(\.0), ["", "", "", " \t", " \t", "", ""])
        XCTAssertEqual(seen.last?.0, "hello")
        let json = try dir.write("blank-json.txt.zst", try compress(Array((blanks + "{\"text\": \"hi\"}\n").utf8), with: "zstd"))
        var lines: [Int] = []
        try RecordReader(path: json, options: ReadOptions()).forEachRecord { lines.append($0.location.line) }
        XCTAssertEqual(lines, [20_007])
    }

    func testBlockSplitPatternAndSplitFiltering() throws {
        let blocks = BlockSplit(blockSize: 2)
        let pattern = (0..<22).map { blocks.split(ofRecord: $0) }
        XCTAssertEqual(pattern, Array(repeating: Split.train, count: 16) + [.valid, .valid, .test, .test, .train, .train])

        let dir = try TempDir()
        let p = try dir.write("lines.txt", (0..<40).map { "s\($0)" }.joined(separator: "\n") + "\n")
        let reader = try CorpusReader(paths: [p])
        var valid: [String] = []
        try reader.forEachRecord(in: .valid, blocks: BlockSplit(blockSize: 2)) { valid.append($0.record().text) }
        XCTAssertEqual(valid, ["s16", "s17", "s36", "s37"])
        // A record's own split wins over the block assignment.
        let j = try dir.write("j.jsonl", "{\"text\": \"a\", \"split\": \"test\"}\n{\"text\": \"b\"}\n")
        var test: [String] = []
        try CorpusReader(paths: [j]).forEachRecord(in: .test) { test.append($0.record().text) }
        XCTAssertEqual(test, ["a"])
    }
}
