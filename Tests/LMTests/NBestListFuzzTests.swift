import Corpus
import Foundation
import FuzzSupport
import XCTest
@testable import LM

final class NBestListFuzzTests: XCTestCase {
    /// 1500 mutated n-best files (plain and id<TAB>hypothesis): bit flips,
    /// tabs, CRs, NULs, spaces and invalid UTF-8 bytes set or inserted, ranges deleted and
    /// duplicated, files cut. Each is read (every hypothesis non-blank, lines increasing, the
    /// same as parsing the text in memory) or rejected with a one-line error naming the file.
    func testMutatedFilesAreReadOrRejectedNeverACrash() throws {
        let dir = NSTemporaryDirectory() + "nbest-fuzz-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bases = [Array("utt1-1\tthe cat sat\nutt1-2\tthe cat sad\r\nutt2-1\tnaïve café\n".utf8),
                     Array("the cat sat\nthe cat sad\r\nnaïve café".utf8)]
        var m = ByteMutator(seed: 31, interesting: Array("\t\n\r -".utf8) + [0, 0x0B, 0x7F, 0x80, 0xC2, 0xA0, 0xED, 0xFF])
        let path = dir + "/nbest.txt"
        var read = 0, rejected = 0
        for trial in 0..<1500 {
            let bytes = m.mutate(m.element(bases), rounds: m.pick(4))
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            do {
                let list = try NBestList(contentsOf: path)
                read += 1
                XCTAssertFalse(list.hypotheses.isEmpty, "trial \(trial)")
                XCTAssertTrue(list.hypotheses.allSatisfy { !$0.text.allSatisfy(\.isWhitespace) }, "trial \(trial)")
                XCTAssertEqual(list.hypotheses.map(\.line), list.hypotheses.map(\.line).sorted(), "trial \(trial)")
                XCTAssertEqual(try NBestList(parsing: String(decoding: bytes, as: UTF8.self), path: path), list, "trial \(trial)")
            } catch {
                rejected += 1
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix(path + ":"), "trial \(trial): \(text)")
                XCTAssertFalse(text.contains("\n"), "trial \(trial): \(text)")
            }
        }
        XCTAssertGreaterThan(read, 300)
        XCTAssertGreaterThan(rejected, 300)
        print("n-best fuzz: \(read) read, \(rejected) rejected")
    }
}
