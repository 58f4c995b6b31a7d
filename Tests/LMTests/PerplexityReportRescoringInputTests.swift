import Corpus
import Foundation
import XCTest
@testable import LM

/// The n-best input of `lmtool rescore` (named to sit with the scoring-output tests).
final class PerplexityReportRescoringInputTests: XCTestCase {
    func testPlainAndIDLinesKeepTheirOrder() throws {
        let plain = try NBestList(parsing: "the cat sat\r\nthe cat sad\n", path: "n.txt")
        XCTAssertEqual(plain.hypotheses, [.init(id: nil, text: "the cat sat", line: 1), .init(id: nil, text: "the cat sad", line: 2)])
        let withIDs = try NBestList(parsing: "u1-2\tb c\nu1-1\ta b", path: "n.txt")
        XCTAssertEqual(withIDs.hypotheses.map(\.id), ["u1-2", "u1-1"])
        XCTAssertEqual(withIDs.hypotheses.map(\.text), ["b c", "a b"])
    }

    func testRenderKeepsIDsAndOrder() throws {
        let withIDs = try NBestList(parsing: "u1-2\tb c\nu1-1\ta b\n", path: "n.txt")
        XCTAssertEqual(withIDs.render(log10Probabilities: [-12.5, -3.0103]), "u1-2\t-12.5\nu1-1\t-3.0103\n")
        let plain = try NBestList(parsing: "b c\n", path: "n.txt")
        XCTAssertEqual(plain.render(log10Probabilities: [-0.25]), "-0.25\n")
    }

    func testBadLinesNameFileAndLine() {
        let cases: [(String, String)] = [
            ("a\n\nb\n", "n.txt:2: empty hypothesis"),
            ("a\n   \n", "n.txt:2: empty hypothesis"),
            ("x\ta\ny\t\n", "n.txt:2: empty hypothesis after id 'y'"),
            ("\ta\n", "n.txt:1: empty id before the tab"),
            ("x\ta\tb\n", "n.txt:1: more than one tab; expected 'hypothesis' or 'id<TAB>hypothesis'"),
            ("x\ta\nb\n", "n.txt:2: no id, but line 1 has one (id<TAB>hypothesis)"),
            ("a\nx\tb\n", "n.txt:2: has an id, but line 1 has none"),
            ("", "n.txt: no hypotheses (the file is empty)"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try NBestList(parsing: text, path: "n.txt"), text) { error in
                XCTAssertEqual("\(error)", message)
            }
        }
    }

    func testReadsAFileAndRejectsInvalidUTF8() throws {
        let path = NSTemporaryDirectory() + "nbest-\(UUID().uuidString).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("h1\tthe cat\nh2\tthe hat".utf8).write(to: URL(fileURLWithPath: path))
        let list = try NBestList(contentsOf: path)
        XCTAssertEqual(list.hypotheses.last, .init(id: "h2", text: "the hat", line: 2))
        try Data([0x61, 0x0A, 0xFF, 0x62, 0x0A]).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try NBestList(contentsOf: path)) { error in
            XCTAssertEqual("\(error)", "\(path):2: not valid UTF-8")
        }
    }
}
