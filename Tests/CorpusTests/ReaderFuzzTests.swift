import Foundation
import FuzzSupport
import XCTest
@testable import Corpus

/// Asserts that `error` is one line starting with `path` followed by ":" (the project rule for
/// bad input: name the file, and the line or offset).
func assertNamesFile(_ error: Error, _ path: String, _ trial: Int, file: StaticString = #filePath, line: UInt = #line) {
    let text = "\(error)"
    XCTAssertTrue(text.hasPrefix(path + ":"), "trial \(trial): \(text)", file: file, line: line)
    XCTAssertFalse(text.contains("\n"), "trial \(trial): \(text)", file: file, line: line)
}

final class ReaderFuzzTests: XCTestCase {
    static let edgeNumbers = ["0", "-1", "1e999", "-0", "00", "1.5", "4294967296", "9223372036854775807",
                              "9223372036854775808", "-9223372036854775809", "18446744073709551616",
                              String(repeating: "9", count: 400)]

    /// Reads `path` and checks what comes out: every record's text is valid UTF-8.
    func readOrReject(_ path: String, options: ReadOptions, trial: Int) -> Bool {
        do {
            try RecordReader(path: path, options: options).forEachRecord { record in
                XCTAssertNotNil(String(validating: record.text, as: UTF8.self), "trial \(trial)")
                XCTAssertEqual(record.location.file, path)
            }
            return true
        } catch {
            assertNamesFile(error, path, trial)
            return false
        }
    }

    /// The records of `path`, or its error without the file name.
    func outcome(_ path: String, options: ReadOptions) -> [String] {
        do {
            var texts: [String] = []
            try RecordReader(path: path, options: options).forEachRecord { texts.append($0.record().text) }
            return texts
        } catch {
            return ["error" + "\(error)".dropFirst(path.count)]
        }
    }

    /// 1500 mutated plain-text and JSONL files: lines built from fields of every JSON type (and
    /// edge numbers, escaped newlines and NULs, lone surrogates, deep nesting), then damaged byte
    /// by byte (invalid UTF-8, NULs, CRs, cut lines), read in each format with and without
    /// `--replace-invalid` and with tiny line limits. Each is read, every record valid UTF-8, or
    /// rejected with a one-line error naming the file.
    func testMutatedTextAndJSONLFilesAreReadOrRejectedNeverACrash() throws {
        let dir = try TempDir()
        var rng = ByteMutator(seed: 2026, interesting: Array("{}[]:,\"\\\n\r\t 0-e.".utf8) + [0, 0x7F, 0x80, 0xBF, 0xC0, 0xED, 0xF4, 0xFF],
                              edgeNumbers: Self.edgeNumbers)
        let values = [#""the cat sat""#, #""naïve café""#, #""""#, "null", "1", "-1", "1e999", "9223372036854775808",
                      "true", "[]", "{}", #"{"text":"x"}"#, #""a\nb""#, #""\u0000""#, #""\ud800""#, #""train""#,
                      #""valid""#, #""TEST""#, #""dev""#, "[[[[[[1]]]]]]", "0.5"]
        let keys = ["text", "domain", "split", "id", "text", "split", "TEXT", ""]
        var read = 0, rejected = 0
        for trial in 0..<1500 {
            var text = ""
            for _ in 0..<(1 + rng.pick(5)) {
                switch rng.pick(5) {
                case 0: text += "the cat sat on the mat\n"
                case 1: text += rng.pick(2) == 0 ? "\n" : " \t\r\n"
                default:
                    var fields = (0..<(1 + rng.pick(4))).map { _ in "\"\(rng.element(keys))\": \(rng.element(values))" }
                    if rng.pick(2) == 0 { fields.insert(#""text": "a b""#, at: 0) }
                    text += "{" + fields.joined(separator: ", ") + "}" + (rng.pick(4) == 0 ? "\r\n" : "\n")
                }
            }
            var bytes = rng.mutate(Array(text.utf8), rounds: rng.pick(4))
            if rng.pick(40) == 0 {  // deep nesting
                let depth = rng.element([600, 5000, 100_000])
                bytes += Array(String(repeating: "[", count: depth).utf8) + Array(String(repeating: "]", count: depth).utf8) + [10]
            }
            let name = rng.element(["fuzz.txt", "fuzz.jsonl", "fuzz.raw"])
            let path = try dir.write(name, bytes)
            var options = ReadOptions(format: rng.element(RecordFormat.allCases), replaceInvalidUTF8: rng.pick(2) == 0)
            if rng.pick(8) == 0 { options.maxLineBytes = 1 + rng.pick(40) }
            if readOrReject(path, options: options, trial: trial) { read += 1 } else { rejected += 1 }
        }
        XCTAssertGreaterThan(read, 300)
        XCTAssertGreaterThan(rejected, 300)
        print("text/JSONL fuzz: \(read) read, \(rejected) rejected")
    }

    /// 800 mutated zstd and 800 mutated gzip files (single and concatenated frames/members,
    /// zstd with and without checksums): bit flips in headers and data, truncation, deleted,
    /// duplicated and inserted ranges, appended garbage. Each decompresses to lines or is
    /// rejected with a one-line error naming the file (and the byte offset); every eighth is
    /// also read through a pipe, with the same outcome.
    func testMutatedCompressedFilesAreReadOrRejectedNeverACrash() throws {
        let dir = try TempDir()
        var plain = ""
        for i in 0..<60 { plain += "line \(i) of the corpus, naïve café \(i * i)\n" }
        let zstd = try compress(Array(plain.utf8), with: "zstd")
        let zstdNoCheck = try compress(Array(plain.utf8), with: "zstd", arguments: ["--no-check"])
        let gzip = try compress(Array(plain.utf8), with: "gzip")
        var rng = ByteMutator(seed: 7, interesting: [0, 1, 0x7F, 0x80, 0xFF, 0x28, 0xB5, 0x2F, 0xFD, 0x1F, 0x8B, 0x08, 0x50, 0x2A, 0x4D, 0x18],
                              edgeNumbers: ["0"])
        for (kind, bases) in [("zstd", [zstd, zstdNoCheck, zstd + zstdNoCheck]), ("gzip", [gzip, gzip + gzip])] {
            var read = 0, rejected = 0
            for trial in 0..<800 {
                let base = rng.element(bases)
                var bytes: [UInt8]
                if rng.pick(3) == 0 {  // damage in the first bytes (frame and block headers)
                    let cut = min(base.count, 24)
                    bytes = rng.mutate(Array(base[..<cut]), rounds: 1 + rng.pick(2)) + base[cut...]
                } else {
                    bytes = rng.mutate(base, rounds: rng.pick(3))
                }
                if rng.pick(10) == 0 { bytes += (0..<rng.pick(20)).map { _ in UInt8(truncatingIfNeeded: rng.next()) } }
                let path = try dir.write("fuzz-\(kind).txt", bytes)
                let options = ReadOptions(format: .lines, replaceInvalidUTF8: rng.pick(2) == 0)
                if readOrReject(path, options: options, trial: trial) { read += 1 } else { rejected += 1 }
                if trial % 8 == 0 {  // through a pipe: the same records, or the same error at the same offset
                    let piped = try PipeFeeder.withPipe(bytes) { outcome($0, options: options) }
                    XCTAssertEqual(piped, outcome(path, options: options), "trial \(trial)")
                }
            }
            XCTAssertGreaterThan(read, 100, kind)
            XCTAssertGreaterThan(rejected, 300, kind)
            print("\(kind) fuzz: \(read) read, \(rejected) rejected")
        }
    }

    /// 1500 mutated vocabulary files: counts become edge values (Int.max, Int.max + 1, -1,
    /// 400 digits), tokens are duplicated, lines cut, tabs, CRs, spaces, NULs and invalid UTF-8
    /// appear. Each loads as a consistent vocabulary (reserved ids first, non-negative counts,
    /// survives a round trip through its text form) or is rejected with a one-line error naming the file.
    func testMutatedVocabularyFilesAreLoadedOrRejectedNeverACrash() throws {
        let dir = try TempDir()
        let valid = Array("<unk>\t5\n<eos>\t3\nthe\t10\ncat\t2\nnaïve\t1\n<s>\t0\n".utf8)
        var rng = ByteMutator(seed: 11, interesting: Array("\t\n\r -+0<>".utf8) + [0, 0x7F, 0x80, 0xC0, 0xFF],
                              edgeNumbers: Self.edgeNumbers)
        var loaded = 0, rejected = 0
        let path = dir.path("vocab.txt")
        for trial in 0..<1500 {
            let bytes = rng.mutate(valid, rounds: rng.pick(4))
            try dir.write("vocab.txt", bytes)
            do {
                let vocab = try Vocabulary.load(from: path)
                loaded += 1
                XCTAssertEqual(Array(vocab.tokens.prefix(2)), ["<unk>", "<eos>"], "trial \(trial)")
                XCTAssertTrue(vocab.counts.allSatisfy { $0 >= 0 }, "trial \(trial)")
                XCTAssertEqual(Set(vocab.tokens).count, vocab.count, "trial \(trial)")
                XCTAssertEqual(try Vocabulary(tokens: vocab.tokens, counts: vocab.counts), vocab, "trial \(trial)")
            } catch {
                rejected += 1
                assertNamesFile(error, path, trial)
            }
        }
        XCTAssertGreaterThan(loaded, 300)
        XCTAssertGreaterThan(rejected, 500)
        print("vocabulary fuzz: \(loaded) loaded, \(rejected) rejected")
    }
}
