import Foundation
import XCTest

/// `lmtool pretrain-domain --glomo DIR`: the domain classifier with pretrained GLoMo graphs mixed
/// into its BiLSTM states, as a user runs it (a tiny graph model pretrained on the same corpus).
final class PretrainDomainGLoMoCommandTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmtool-domain-glomo-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // Two separable domains, 40 train / 8 valid / 8 test documents.
        let words = [["apple", "pear", "plum", "fig"], ["saw", "nail", "drill", "vise"]]
        var lines: [String] = []
        for i in 0..<56 {
            let d = i % 2
            let text = (0..<(3 + i % 5)).map { words[d][($0 * 7 + i) % 4] }.joined(separator: " ")
            let split = i < 40 ? "train" : (i < 48 ? "valid" : "test")
            lines.append("{\"text\": \"\(text)\", \"domain\": \"\(d == 0 ? "fruit" : "tools")\", \"split\": \"\(split)\"}")
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: dir + "/toy.jsonl"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func pretrainDomain(_ extra: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try runLMTool(["pretrain-domain", "--corpus", dir + "/toy.jsonl", "--epochs", "1", "--embedding-size", "8",
                       "--hidden-size", "8", "--batch-size", "8", "--lr", "0.02", "--threads", "1"] + extra)
    }

    func testTrainsWithGraphsAndRecordsThem() throws {
        let g = try runLMTool(["pretrain-glomo", "--corpus", dir + "/toy.jsonl", "--out", dir + "/g", "--embedding-size", "8",
                               "--heads", "2", "--graph-layers", "2", "--conv-layers", "1", "--sequence-length", "8",
                               "--batch-size", "4", "--positions", "4", "--min-count", "1", "--valid-sequences", "4",
                               "--steps", "3", "--threads", "1"])
        XCTAssertEqual(g.status, 0, g.stderr)
        let r = try pretrainDomain(["--out", dir + "/run", "--glomo", dir + "/g", "--glomo-weights", "per-token", "--max-length", "6"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("GLoMo graphs from \(dir)/g on the BiLSTM states (per-token mixture weights, windows of 6 tokens): 8 of 8 vocabulary words found"), r.stdout)
        XCTAssertTrue(r.stdout.contains("test accuracy"), r.stdout)
        let config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/run/config.json"))) as? [String: Any])
        let source = try XCTUnwrap(config["graph_model"] as? [String: Any])
        XCTAssertEqual(source["path"] as? String, dir + "/g")
        XCTAssertEqual((source["content_hash"] as? String)?.count, 64)
        let graphs = try XCTUnwrap((config["model"] as? [String: Any])?["graphs"] as? [String: Any])
        XCTAssertEqual(graphs["window"] as? Int, 6)
        XCTAssertEqual(graphs["weighting"] as? String, "per-token")
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/run/summary.json"))) as? [String: Any])
        XCTAssertLessThan(try XCTUnwrap(summary["trainable_parameters"] as? Int), try XCTUnwrap(summary["parameters"] as? Int))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/run/contextual.vec"))
    }

    func testBadGLoMoFlagsAreOneLineErrors() throws {
        for (args, message) in [
            (["--glomo-weights", "global"], "--glomo-weights needs --glomo DIR"),
            (["--glomo", dir + "/g", "--max-length", "0"], "--glomo needs --max-length > 0"),
            (["--glomo", dir + "/g", "--glomo-weights", "local"], "--glomo-weights"),
            (["--glomo", dir + "/missing"], dir + "/missing"),
        ] {
            let r = try pretrainDomain(["--out", dir + "/bad"] + args)
            XCTAssertNotEqual(r.status, 0, "\(args)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad/config.json"), "\(args) left a run behind")
        }
    }
}
