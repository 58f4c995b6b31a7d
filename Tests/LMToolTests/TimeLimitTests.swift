import Foundation
import XCTest
import LM

/// `lmtool train --time-limit`: a wall-clock budget that ends the epoch in progress early,
/// validates it and finishes the run. A limit of a microsecond is spent before the second window
/// of the first epoch, so what it does is deterministic.
final class TimeLimitTests: TemporaryDirectoryTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try writeSplitFiles()
    }

    func trainArguments(run: String, epochs: Int = 3) -> [String] { tinyTrainArguments(run: run, epochs: epochs, batchSize: 2, bptt: 3) }

    func json(_ file: String) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path(file)))) as! [String: Any]
    }

    func testDurationsParse() {
        XCTAssertEqual(TrainingConfig.seconds(parsing: "1800"), 1800)
        XCTAssertEqual(TrainingConfig.seconds(parsing: "90.5"), 90.5)
        XCTAssertEqual(TrainingConfig.seconds(parsing: "90s"), 90)
        XCTAssertEqual(TrainingConfig.seconds(parsing: "30m"), 1800)
        XCTAssertEqual(TrainingConfig.seconds(parsing: "1.5h"), 5400)
        XCTAssertEqual(TrainingConfig.seconds(parsing: "1e-6"), 1e-6)
        for bad in ["", "m", "0", "0m", "-5", "abc", "30x", "inf", "nan", "30 m", "1e308h"] {
            XCTAssertNil(TrainingConfig.seconds(parsing: bad), bad)
        }
    }

    /// The limit is spent after the first window: epoch 1 ends there, is validated, the best
    /// model is tested and summary.json says why training ended; resuming with more epochs
    /// trains nothing more, and a different limit on resume is refused.
    func testASpentLimitEndsTheEpochValidatesAndFinishes() throws {
        let r = try runLMTool(trainArguments(run: "run") + ["--time-limit", "1e-6"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("time limit reached after window 1 of "), r.stdout)
        XCTAssertTrue(r.stdout.contains("time limit of 1e-06 s reached in epoch 1"), r.stdout)
        let summary = try json("run/summary.json")
        XCTAssertEqual(summary["epochs"] as? Int, 1)
        XCTAssertEqual(summary["stop_reason"] as? String, "time limit of 1e-06 s reached in epoch 1")
        XCTAssertNotNil(summary["test_ppl"] as? Double)
        let training = try XCTUnwrap(try json("run/config.json")["training"] as? [String: Any])
        XCTAssertEqual(training["time_limit_seconds"] as? Double, 1e-6)
        let splits = try String(contentsOfFile: path("run/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }.map { $0["split"] as! String }
        XCTAssertEqual(splits, ["train", "valid", "test"])

        let before = try Data(contentsOf: URL(fileURLWithPath: path("run/summary.json")))
        let configBefore = try Data(contentsOf: URL(fileURLWithPath: path("run/config.json")))
        let more = try runLMTool(["train", "--run", path("run"), "--resume", "--epochs", "5", "--threads", "1"])
        XCTAssertEqual(more.status, 0, more.stderr)
        XCTAssertTrue(more.stdout.contains("nothing more to train"), more.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("run/summary.json"))), before, "summary unchanged")
        // The run stays finished: config.json still describes what was trained (3 epochs, not 5).
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path("run/config.json"))), configBefore, "config.json unchanged")

        try assertFails(["train", "--run", path("run"), "--resume", "--time-limit", "1h", "--threads", "1"],
                        mentioning: [path("run/config.json"), "different configuration", "time_limit_seconds"])
    }

    /// A limit that is never reached changes nothing: the same test perplexity, bit for bit, and
    /// stop_reason names the epochs.
    func testAnUnreachedLimitChangesNothing() throws {
        let plain = try runLMTool(trainArguments(run: "plain", epochs: 2))
        XCTAssertEqual(plain.status, 0, plain.stderr)
        let limited = try runLMTool(trainArguments(run: "limited", epochs: 2) + ["--time-limit", "2h"])
        XCTAssertEqual(limited.status, 0, limited.stderr)
        let a = try json("plain/summary.json"), b = try json("limited/summary.json")
        XCTAssertEqual(a["test_ppl"] as? Double, b["test_ppl"] as? Double)
        XCTAssertEqual(b["epochs"] as? Int, 2)
        XCTAssertEqual(a["stop_reason"] as? String, "finished 2 epochs")
        XCTAssertEqual(b["stop_reason"] as? String, "finished 2 epochs")
    }

    /// An ablation spec passes the limit to every run as given, and refuses what is not a duration.
    func testAblationSpecsCheckTheLimit() throws {
        var overrides = TrainOverrides()
        try overrides.set("time-limit", "30m")
        XCTAssertEqual(overrides.arguments.suffix(4), ["--preset", "small", "--time-limit", "30m"])
        XCTAssertThrowsError(try overrides.set("time-limit", "soon")) { error in
            XCTAssertTrue("\(error)".contains("train.time-limit: 'soon' is not a duration"), "\(error)")
        }
    }

    func testBadLimitsAreOneLineErrors() throws {
        for bad in ["0", "-1", "soon", "10x"] {
            let r = try runLMTool(trainArguments(run: "bad") + ["--time-limit", bad])
            XCTAssertNotEqual(r.status, 0, bad)
            XCTAssertTrue(r.stderr.contains("--time-limit"), r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("bad")))
    }
}
