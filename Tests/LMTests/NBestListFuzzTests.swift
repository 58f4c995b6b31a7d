import Corpus
import Foundation
import NN
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
        let interesting: [UInt8] = Array("\t\n\r -".utf8) + [0, 0x0B, 0x7F, 0x80, 0xC2, 0xA0, 0xED, 0xFF]
        var rng = RNG(seed: 31)
        func pick(_ n: Int) -> Int { rng.int(below: max(1, n)) }
        let path = dir + "/nbest.txt"
        var read = 0, rejected = 0
        for trial in 0..<1500 {
            var bytes = bases[pick(bases.count)]
            for _ in 0..<pick(4) {
                guard !bytes.isEmpty else { break }
                let at = pick(bytes.count)
                switch pick(6) {
                case 0: bytes[at] ^= UInt8(1) << UInt8(pick(8))
                case 1: bytes[at] = interesting[pick(interesting.count)]
                case 2: bytes.insert(interesting[pick(interesting.count)], at: at)
                case 3: bytes.removeSubrange(at..<min(at + 1 + pick(12), bytes.count))
                case 4: bytes.insert(contentsOf: bytes[at..<min(at + 1 + pick(24), bytes.count)], at: at)
                default: bytes.removeSubrange(at...)
                }
            }
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
