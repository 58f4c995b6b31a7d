import Foundation
import XCTest

/// The reverse-transfer study (experiments/reverse-transfer, issue 19): its specs parse, their
/// plans list every arm × seed the study promises, the headline spec is the full one's first
/// grids with the same settings, and a miniature of the study (the same specs and grids on a
/// tiny corpus with tiny budgets) runs to its report. The study itself is not a test.
final class StudyTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let study = root.path + "/experiments/reverse-transfer"
    /// The specs name ../shared/corpora files (the out-of-domain corpus, the 11-domain corpus).
    static let shared = root.deletingLastPathComponent().path + "/shared/corpora"
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "lmtool-study-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // 240 records over three domains: 8 of 10 train, 1 valid, 1 test.
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "slept", "in", "sun"]
        var lines: [String] = []
        for i in 0..<240 {
            let split = i % 10 < 8 ? "train" : i % 10 == 8 ? "valid" : "test"
            let text = (0..<(3 + i % 5)).map { words[(i * 3 + $0) % 10] }.joined(separator: " ")
            lines.append("{\"text\": \"\(text)\", \"domain\": \"d\(i % 3)\", \"split\": \"\(split)\"}")
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/corpus.jsonl", atomically: true, encoding: .utf8)
        try String(repeating: "the sun sat on the mat and the cat slept\n", count: 50).write(toFile: dir + "/books.txt", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func requireSharedCorpora() throws {
        for file in ["pretrain-gutenberg-10M.txt.zst", "domains.jsonl.zst"] where !FileManager.default.fileExists(atPath: StudyTests.shared + "/" + file) {
            throw XCTSkip("\(StudyTests.shared)/\(file) is missing: the study's specs name it (CI has ../shared beside the clone)")
        }
    }

    /// The run names of `ablate --spec SPEC --plan` (run from the repository root, where the
    /// specs' relative paths point), in plan order.
    func plannedRuns(_ spec: String, _ extra: [String] = []) throws -> [String] {
        let r = try runLMTool(["ablate", "--spec", StudyTests.study + "/" + spec, "--out", dir + "/plan-" + spec, "--plan"] + extra,
                              currentDirectory: StudyTests.root)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\n").filter { $0.hasSuffix("# training") }.map { line -> String in
            let words = line.split(separator: " ")
            let run = words[words.firstIndex(of: "--run")! + 1]
            return String(run.split(separator: "/").last!)
        }
    }

    func runs(_ arms: [String], seeds: Int) -> [String] { arms.flatMap { arm in (1...seeds).map { "\(arm)-seed\($0)" } } }

    static let headlineArms = ["random", "word2vec-frozen", "domain-sentence-frozen", "random-glomo-hidden"]

    func testEverySpecPlansEveryArmTimesItsSeeds() throws {
        try requireSharedCorpora()
        let headline = runs(["random", "word2vec-frozen", "domain-sentence-frozen"], seeds: 5) + runs(["random-glomo-hidden"], seeds: 5)
        XCTAssertEqual(try plannedRuns("paper-default-headline.json"), headline)
        // The other LM and the other corpus: the headline sources with 3 seeds, without GLoMo (budget).
        let withoutGLoMo = runs(["random", "word2vec-frozen", "domain-sentence-frozen"], seeds: 3)
        XCTAssertEqual(try plannedRuns("paper-domains.json"), withoutGLoMo)
        XCTAssertEqual(try plannedRuns("small-default.json"), withoutGLoMo)
        // The whole grid on the default corpus: the headline arms with 5 seeds, then every other
        // source x mode and the other GLoMo placements with 3.
        var rest: [String] = []
        for source in ["word2vec", "word2vec-out", "bilm", "domain-paragraph", "domain-sentence"] {
            for mode in ["frozen", "finetune", "concat"] where !["word2vec-frozen", "domain-sentence-frozen"].contains("\(source)-\(mode)") {
                rest.append("\(source)-\(mode)")
            }
        }
        XCTAssertEqual(rest.count, 13)
        XCTAssertEqual(try plannedRuns("paper-default.json"), headline + runs(rest, seeds: 3)
                       + runs(["random-glomo-embeddings", "random-glomo-hidden-untrained"], seeds: 3))
    }

    /// A spec's grids give each block its seeds: one flag for all of them is refused in one line.
    func testGridFlagsAreRefusedWithASpecThatHasGrids() throws {
        let r = try runLMTool(["ablate", "--spec", StudyTests.study + "/small-default.json", "--out", dir + "/r", "--seeds", "2", "--plan"],
                              currentDirectory: StudyTests.root)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "Error: \(StudyTests.study)/small-default.json: its \"grids\" set the arms and seeds; --seeds applies only to a spec without them\n")
        XCTAssertEqual(r.stdout, "")
    }

    /// The headline spec must be the full spec's first grids with every other setting equal, so
    /// that both write into one results directory (ablate refuses other settings there) and the
    /// headline runs count for the whole study.
    func testTheHeadlineSpecIsTheFullSpecsFirstGrids() throws {
        func object(_ name: String) throws -> [String: Any] {
            let data = try Data(contentsOf: URL(fileURLWithPath: StudyTests.study + "/" + name))
            return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], name)
        }
        var full = try object("paper-default.json"), headline = try object("paper-default-headline.json")
        let fullGrids = try XCTUnwrap(full.removeValue(forKey: "grids") as? [[String: Any]])
        let headlineGrids = try XCTUnwrap(headline.removeValue(forKey: "grids") as? [[String: Any]])
        full["comment"] = nil
        headline["comment"] = nil
        XCTAssertEqual(NSDictionary(dictionary: full), NSDictionary(dictionary: headline))
        XCTAssertEqual(NSArray(array: Array(fullGrids.prefix(headlineGrids.count))), NSArray(array: headlineGrids))
        // The 11-domain part runs the same LM and the headline's first grid (with 3 seeds) on its own corpus.
        var domains = try object("paper-domains.json")
        let domainGrids = try XCTUnwrap(domains.removeValue(forKey: "grids") as? [[String: Any]])
        XCTAssertEqual(NSArray(array: domainGrids.map { $0.filter { $0.key != "seeds" } }), NSArray(array: [headlineGrids[0].filter { $0.key != "seeds" }]))
        XCTAssertEqual(NSDictionary(dictionary: try XCTUnwrap(domains["train"] as? [String: Any])),
                       NSDictionary(dictionary: try XCTUnwrap(full["train"] as? [String: Any])))
    }

    /// The study in miniature: the full default-corpus spec (every source, mode, GLoMo placement
    /// and seed count of the study) on a 240-record corpus with an 8-wide LM and one-step budgets,
    /// run to its report by the real lmtool.
    func testAMiniatureOfTheStudyRunsToItsReport() throws {
        try requireSharedCorpora()
        let results = dir + "/mini"
        let r = try runLMTool(["ablate", "--spec", StudyTests.study + "/paper-default.json", "--out", results,
                               "--corpus", dir + "/corpus.jsonl", "--out-of-domain-corpus", dir + "/books.txt", "--max-size", "40",
                               "--embedding-size", "8", "--hidden-size", "8", "--batch-size", "4", "--bptt", "6", "--epochs", "1",
                               "--train-tokens", "200", "--pretrain-epochs", "1", "--pretrain-tokens", "200", "--glomo-steps", "2"],
                              currentDirectory: StudyTests.root, timeout: 300)
        XCTAssertEqual(r.status, 0, r.stderr)
        // The corpus has domains: the per-domain plot is written, and the status line says so.
        XCTAssertTrue(r.stdout.contains("valid-ppl.svg, differences.svg, domains.svg\n"), r.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: results + "/domains.svg"))
        let report = try String(contentsOfFile: results + "/report.md", encoding: .utf8)
        for arm in StudyTests.headlineArms { XCTAssertTrue(report.contains("| \(arm) | 5 |"), "\(arm)\n\(report)") }
        for arm in ["word2vec-out-frozen", "bilm-concat", "domain-paragraph-finetune", "random-glomo-embeddings", "random-glomo-hidden-untrained"] {
            XCTAssertTrue(report.contains("| \(arm) | 3 |"), "\(arm)\n\(report)")
        }
        XCTAssertFalse(report.contains("Unfinished"), report)
    }
}
