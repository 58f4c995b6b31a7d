import Foundation
import FoundationXML
import XCTest

/// Counts `<rect class="cell">` elements of an SVG file.
private final class CellCounter: NSObject, XMLParserDelegate {
    var cells = 0
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if name == "rect" && attributes["class"] == "cell" { cells += 1 }
    }
}

final class GLoMoCommandTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "glomo-cli-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // 1,000 short lines (blocks of 100 lines: 8 of 10 train, 1 valid, 1 test).
        let subjects = ["the cat", "a dog", "the old man", "my friend"], verbs = ["sat on", "saw", "walked to"]
        let objects = ["the mat", "a ship", "the house"]
        var text = ""
        for i in 0..<1000 { text += "\(subjects[i % 4]) \(verbs[i % 3]) \(objects[(i / 3) % 3]) .\n" }
        try text.write(toFile: dir + "/corpus.txt", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// A tiny pretraining into `out` with extra arguments.
    func pretrain(_ out: String, _ extra: [String] = []) throws -> (status: Int32, stdout: String, stderr: String) {
        try runLMTool(["pretrain-glomo", "--corpus", dir + "/corpus.txt", "--out", out, "--embedding-size", "8", "--heads", "2",
                       "--graph-layers", "2", "--conv-layers", "1", "--sequence-length", "8", "--batch-size", "4", "--positions", "4",
                       "--checkpoint-every", "3", "--min-count", "1", "--valid-sequences", "4", "--threads", "1"] + extra)
    }

    func testPretrainWritesAFinishedModelDirectory() throws {
        let r = try pretrain(dir + "/m", ["--steps", "6"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("finished: 6 steps"), r.stdout)
        XCTAssertTrue(r.stdout.contains("step 3: valid loss"), r.stdout)
        for file in ["config.json", "vocab.txt", "model.safetensors", "last.safetensors", "metrics.jsonl", "summary.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/m/" + file), file)
        }
        let metrics = try String(contentsOfFile: dir + "/m/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(metrics.count, 5)  // valid at step 0, train + valid at steps 3 and 6
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/m/summary.json"))) as! [String: Any]
        XCTAssertEqual(summary["steps"] as? Int, 6)
        XCTAssertNotNil(summary["valid_loss"] as? Double)

        // A second run into the same directory is refused unless --force.
        let again = try pretrain(dir + "/m", ["--steps", "6"])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.hasPrefix("Error: \(dir)/m: already holds a GLoMo model"), again.stderr)
        XCTAssertEqual(try pretrain(dir + "/m", ["--steps", "3", "--force"]).status, 0)
    }

    /// `--steps 0` saves the initialised model (the untrained control of an ablation): the same
    /// parameters a one-step run starts from, which one Adam step moves by at most its rate.
    func testStepsZeroSavesTheInitialisedModel() throws {
        let r = try pretrain(dir + "/untrained", ["--steps", "0"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("finished: 0 steps") && r.stdout.contains("(untrained: the initialised model)"), r.stdout)
        let summary = try readJSONObject(atPath: dir + "/untrained/summary.json")
        XCTAssertEqual(summary["steps"] as? Int, 0)
        XCTAssertNil(summary["train_loss"], "nothing was trained: no training loss, not a loss of 0")
        XCTAssertNotNil(summary["valid_loss"] as? Double)
        XCTAssertEqual(try pretrain(dir + "/one", ["--steps", "1", "--lr", "0.001"]).status, 0)
        let untrained = try RawSafetensors(path: dir + "/untrained/model.safetensors")
        let one = try RawSafetensors(path: dir + "/one/model.safetensors")
        XCTAssertEqual(untrained.names, one.names)
        var moved = 0
        for name in untrained.names.sorted() {
            for (a, b) in zip(try untrained.floats(name), try one.floats(name)) {
                XCTAssertLessThanOrEqual(Swift.abs(a - b), Float(0.001 * 1.001), name)
                if a != b { moved += 1 }
            }
        }
        XCTAssertGreaterThan(moved, 0, "the one-step model must differ from the initialisation")
        // Deterministic for a seed; negative steps are refused in one line.
        XCTAssertEqual(try pretrain(dir + "/again", ["--steps", "0"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/again/model.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/untrained/model.safetensors")))
        let negative = try pretrain(dir + "/negative", ["--steps=-1"])
        XCTAssertEqual(negative.status, 64)
        XCTAssertTrue(negative.stderr.contains("--steps must be at least 0"), negative.stderr)
    }

    func testStopAndResumeGiveTheUninterruptedModel() throws {
        XCTAssertEqual(try pretrain(dir + "/whole", ["--steps", "7"]).status, 0)
        let first = try pretrain(dir + "/parts", ["--steps", "7", "--stop-after-steps", "4"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("stopped at step 4"), first.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/parts/summary.json"))
        let second = try runLMTool(["pretrain-glomo", "--out", dir + "/parts", "--resume", "--threads", "1"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("resuming at step 4"), second.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/parts/summary.json"))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/parts/model.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/whole/model.safetensors")))
    }

    /// --patience ends a run early and summary.json says why; --softmax adaptive trains an untied
    /// adaptive softmax recorded in config.json; bad cutoffs are one line naming the flag and
    /// nothing is created.
    /// Ctrl-C stops pretraining as it stops `train` and `pretrain-domain` (one `SessionStop`):
    /// the state is saved, the same "stopped … by signal 2" line, exit status 130, no summary.
    func testInterruptSavesTheStateAndExitsWithTheSignal() throws {
        let process = Process()
        process.executableURL = try lmtoolBinaryURL()
        process.arguments = ["pretrain-glomo", "--corpus", dir + "/corpus.txt", "--out", dir + "/int", "--embedding-size", "8",
                             "--heads", "2", "--graph-layers", "2", "--conv-layers", "1", "--sequence-length", "8", "--batch-size", "4",
                             "--positions", "4", "--min-count", "1", "--valid-sequences", "4", "--threads", "1", "--steps", "1000000"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        var seen = ""
        while !seen.contains("step 10/") {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        process.interrupt()
        seen += String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130, seen)
        XCTAssertTrue(seen.contains(" by signal 2; state saved in \(dir)/int/last.safetensors (continue with --resume)"), seen)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/int/last.safetensors"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/int/summary.json"))
    }

    func testPatienceAndSoftmaxFlags() throws {
        let early = try pretrain(dir + "/early", ["--steps", "300", "--patience", "1", "--lr", "0.3"])
        XCTAssertEqual(early.status, 0, early.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/early/summary.json"))) as! [String: Any]
        XCTAssertEqual(summary["stopped"] as? String, "patience", early.stdout)
        XCTAssertLessThan(summary["steps"] as? Int ?? 300, 300)
        XCTAssertEqual((summary["best_step"] as? Int).map { $0 + 3 }, summary["steps"] as? Int)  // one validation after the best
        XCTAssertTrue(early.stdout.contains("early stop:") && early.stdout.contains("stopped by patience"), early.stdout)
        // Stopped after 4 steps and resumed (at --threads 1): the same stop, the same best model.
        XCTAssertEqual(try pretrain(dir + "/parts", ["--steps", "300", "--patience", "1", "--lr", "0.3", "--stop-after-steps", "4"]).status, 0)
        let resumed = try runLMTool(["pretrain-glomo", "--out", dir + "/parts", "--resume", "--threads", "1"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        var a = summary, b = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/parts/summary.json"))) as! [String: Any]
        a["seconds"] = nil; b["seconds"] = nil
        XCTAssertEqual(NSDictionary(dictionary: a), NSDictionary(dictionary: b))
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: dir + "/parts/model.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: dir + "/early/model.safetensors")))

        let adaptive = try pretrain(dir + "/adaptive", ["--steps", "3", "--softmax", "adaptive:4,8"])
        XCTAssertEqual(adaptive.status, 0, adaptive.stderr)
        XCTAssertTrue(adaptive.stdout.contains("adaptive softmax adaptive:4,8, untied"), adaptive.stdout)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/adaptive/config.json"))) as! [String: Any]
        let recorded = try XCTUnwrap(config["adaptive_softmax"] as? [String: Any])
        XCTAssertEqual(recorded["cutoffs"] as? [Int], [4, 8])
        let fullConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/early/config.json"))) as! [String: Any]
        XCTAssertNil(fullConfig["adaptive_softmax"])

        for (flag, expected) in [("adaptive:8,4", "not increasing"), ("adaptive:4,4", "appears twice"), ("adaptive:4,9999", "not below the vocabulary size")] {
            let r = try pretrain(dir + "/bad", ["--steps", "3", "--softmax", flag])
            XCTAssertEqual(r.status, 64, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("Error: --softmax \(flag): ") && r.stderr.contains(expected), r.stderr)
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad/config.json"))
        }
        let resume = try runLMTool(["pretrain-glomo", "--out", dir + "/adaptive", "--resume", "--softmax", "full"])
        XCTAssertEqual(resume.status, 64)
        XCTAssertTrue(resume.stderr.contains("--softmax does not apply with --resume"), resume.stderr)
    }

    func testShowDrawsEveryLayer() throws {
        XCTAssertEqual(try pretrain(dir + "/m", ["--steps", "3"]).status, 0)
        let svg = dir + "/g.svg"
        let r = try runLMTool(["glomo", "show", "--model", dir + "/m", "--text", "the old man saw a zebra .", "--out", svg])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("7 tokens (1 unknown"), r.stdout)
        let counter = CellCounter()
        let parser = XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: svg)))
        parser.delegate = counter
        XCTAssertTrue(parser.parse())
        XCTAssertEqual(counter.cells, 2 * 7 * 7)  // 2 layers, heads averaged, 7 words
        XCTAssertTrue(try String(contentsOfFile: svg, encoding: .utf8).contains(">zebra?<"))
        let separate = try runLMTool(["glomo", "show", "--model", dir + "/m", "--text", "the cat", "--out", svg, "--heads", "separate"])
        XCTAssertEqual(separate.status, 0, separate.stderr)
        let counter2 = CellCounter()
        let parser2 = XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: svg)))
        parser2.delegate = counter2
        XCTAssertTrue(parser2.parse())
        XCTAssertEqual(counter2.cells, 2 * 2 * 2 * 2)
    }

    /// Overwrites every value of the f32 tensor `name` in the safetensors file at `path` with
    /// `value`, by hand (8-byte header length, JSON header, data).
    /// Weights that are NaN or infinite, or so large that the graphs are not finite (a threshold
    /// bias of -1e30: every edge weight is ReLU(1e30)² = inf in Float, every row inf / inf =
    /// NaN): one error line naming model.safetensors, a non-zero status, no SVG. The old command
    /// crashed (SIGILL converting NaN to Int while colouring a cell).
    func testNonFiniteWeightsOrGraphsAreOneLineErrors() throws {
        XCTAssertEqual(try pretrain(dir + "/m", ["--steps", "2"]).status, 0)
        let file = dir + "/m/model.safetensors"
        let saved = try Data(contentsOf: URL(fileURLWithPath: file))
        for (tensor, value, fragment) in [("graph.layer0.query.weight", Float.nan, "graph.layer0.query.weight holds a nan value"),
                                          ("graph.layer0.query.weight", -.infinity, "graph.layer0.query.weight holds a -inf value"),
                                          ("graph.layer0.threshold.bias", -1e30, "the graphs of this text are not finite")] {
            try saved.write(to: URL(fileURLWithPath: file))
            try overwriteFloats(tensor, in: file, with: value)
            let r = try runLMTool(["glomo", "show", "--model", dir + "/m", "--text", "the cat sat on the mat .", "--out", dir + "/g.svg"])
            XCTAssertNotEqual(r.status, 0, "\(value)")
            XCTAssertTrue(r.stderr.hasPrefix("Error: \(file): "), r.stderr)
            XCTAssertTrue(r.stderr.contains(fragment), r.stderr)
            XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/g.svg"), "\(value)")
        }
    }

    func testBadModelsAreOneLineErrors() throws {
        let missing = try runLMTool(["glomo", "show", "--model", dir + "/none", "--text", "a", "--out", dir + "/g.svg"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertEqual(missing.stderr, "Error: \(dir)/none: not a GLoMo model directory (no config.json)\n")
        XCTAssertEqual(try pretrain(dir + "/m", ["--steps", "3"]).status, 0)
        let file = dir + "/m/model.safetensors"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: file))
        let corrupt = try runLMTool(["glomo", "show", "--model", dir + "/m", "--text", "the cat", "--out", dir + "/g.svg"])
        XCTAssertNotEqual(corrupt.status, 0)
        XCTAssertTrue(corrupt.stderr.hasPrefix("Error: \(file): "), corrupt.stderr)
        XCTAssertEqual(corrupt.stderr.filter { $0 == "\n" }.count, 1, corrupt.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/g.svg"))
        let resume = try runLMTool(["pretrain-glomo", "--out", dir + "/none", "--resume"])
        XCTAssertNotEqual(resume.status, 0)
        XCTAssertEqual(resume.stderr, "Error: \(dir)/none: not a GLoMo model directory (no config.json)\n")
    }
}
