import Foundation
import XCTest

/// `lmtool ablate --train/--valid/--test`: a grid on split files (PTB, WikiText-2), passed to
/// the vocabulary step, word2vec and every train line as `lmtool train` takes them.
final class AblateSplitFilesTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "lmtool-ablate-splits-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "slept"]
        func lines(_ count: Int, _ offset: Int) -> String {
            (0..<count).map { i in (0..<(2 + (i + offset) % 5)).map { words[(i + offset + $0) % 8] }.joined(separator: " ") }.joined(separator: "\n") + "\n"
        }
        try lines(120, 0).write(toFile: dir + "/train.txt", atomically: true, encoding: .utf8)
        // "dog" only outside the training file: not in the vocabulary.
        try (lines(20, 3) + "the dog sat\n").write(toFile: dir + "/valid.txt", atomically: true, encoding: .utf8)
        try (lines(20, 5) + "a dog\n").write(toFile: dir + "/test.txt", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    var splitArguments: [String] { ["--train", dir + "/train.txt", "--valid", dir + "/valid.txt", "--test", dir + "/test.txt"] }

    func ablate(_ extra: [String]) -> [String] {
        ["ablate", "--out", dir + "/results", "--seeds", "1", "--preset", "tiny", "--epochs", "1", "--embedding-size", "8",
         "--hidden-size", "8", "--batch-size", "4", "--bptt", "6", "--threads", "1", "--pretrain-epochs", "1"] + extra
    }

    func testGridOnSplitFiles() throws {
        let plan = try runLMTool(ablate(splitArguments + ["--sources", "random,word2vec", "--plan"]))
        XCTAssertEqual(plan.status, 0, plan.stderr)
        let lines = plan.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        guard lines.count == 5 else { return XCTFail(plan.stdout) }
        // The vocabulary from the training file whole (no --split), word2vec on it, each train line on the three files.
        XCTAssertTrue(lines[0].contains(" vocab build \(dir)/train.txt --out \(dir)/results/vocab.txt; fi"), String(lines[0]))
        XCTAssertTrue(lines[1].contains(" embed word2vec \(dir)/train.txt --out ") && !lines[1].contains("--split"), String(lines[1]))
        let trainLines = lines.filter { $0.hasSuffix("# training") }
        XCTAssertEqual(trainLines.count, 2)
        for line in trainLines {
            XCTAssertTrue(line.contains(" --train \(dir)/train.txt --valid \(dir)/valid.txt --test \(dir)/test.txt --vocab "), String(line))
            XCTAssertFalse(line.contains("--corpus"), String(line))
        }

        // Run for real: the runs record the three files as their splits.
        let r = try runLMTool(ablate(splitArguments + ["--sources", "random,word2vec"]))
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("| word2vec-frozen | 1 |"), r.stdout)
        let config = try readJSONObject(atPath: dir + "/results/runs/random-seed1/config.json")
        let corpus = try XCTUnwrap(config["corpus"] as? [String: Any], "\(config)")
        XCTAssertEqual(corpus["train"] as? [String], [dir + "/train.txt"])
        XCTAssertEqual(corpus["valid"] as? [String], [dir + "/valid.txt"])
        XCTAssertEqual(corpus["test"] as? [String], [dir + "/test.txt"])
        // The shared vocabulary is the one lmtool train builds from the training file: the 8
        // words and <unk>, <eos>; "dog" (valid and test only) is not in it.
        let vocabulary = try String(contentsOfFile: dir + "/results/vocab.txt", encoding: .utf8)
            .split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
        XCTAssertEqual(Set(vocabulary), Set(["<unk>", "<eos>", "the", "cat", "sat", "on", "a", "mat", "and", "slept"]))
        let own = try runLMTool(["train", "--run", dir + "/own", "--preset", "tiny", "--epochs", "1", "--embedding-size", "8",
                                 "--hidden-size", "8", "--threads", "1"] + splitArguments)
        XCTAssertEqual(own.status, 0, own.stderr)
        let ownVocabulary = try String(contentsOfFile: dir + "/own/vocab.txt", encoding: .utf8)
        XCTAssertEqual(try String(contentsOfFile: dir + "/results/vocab.txt", encoding: .utf8), ownVocabulary)

        // The same grid from a spec file's "splits".
        try """
            {"splits": {"train": ["\(dir)/train.txt"], "valid": ["\(dir)/valid.txt"], "test": ["\(dir)/test.txt"]},
             "sources": ["random", "word2vec"]}
            """.write(toFile: dir + "/spec.json", atomically: true, encoding: .utf8)
        let again = try runLMTool(ablate(["--spec", dir + "/spec.json"]))
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("0 run (0 resumed), 4 already done"), again.stdout)
    }

    func testSplitFilesAreRefusedWhereTheyCannotApply() throws {
        for (extra, fragment) in [
            (splitArguments + ["--corpus", dir + "/train.txt"], "--corpus and --train/--valid/--test exclude each other"),
            (["--train", dir + "/train.txt"], "split files need --train PATH... and --valid PATH..."),
            (splitArguments + ["--sources", "random,bilm"], "arm bilm-frozen pretrains on a --corpus split by records"),
            (splitArguments + ["--sources", "random", "--glomo", "hidden"], "arm random-glomo-hidden pretrains on a --corpus"),
        ] {
            let r = try runLMTool(ablate(extra + ["--plan"]))
            XCTAssertNotEqual(r.status, 0, extra.joined(separator: " "))
            XCTAssertTrue(r.stderr.hasPrefix("Error: ") && r.stderr.contains(fragment), r.stderr)
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
        }
    }
}
