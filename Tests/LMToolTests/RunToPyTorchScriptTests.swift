import Foundation
import XCTest

/// scripts/run_to_pytorch.py refuses what its RNNModel cannot reproduce, with one `error:` line
/// and exit status 2, instead of scoring another model with exit 0: a GLoMo run, a pretrained
/// input used `concat`, and a model.safetensors tensor it does not load. The old script dropped
/// `glomo.*`, `encoder.pretrained.weight` and `encoder.projection.weight` silently and printed
/// a different perplexity. What it supports still agrees with lmtool: a plain run and a frozen
/// pretrained input (its table is `encoder.weight`). Skipped without torch.
final class RunToPyTorchScriptTests: TemporaryDirectoryTestCase {
    func runScript(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/run_to_pytorch.py").path
        let py = Process()
        py.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        py.arguments = ["python3", script] + arguments
        let out = Pipe(), err = Pipe()
        py.standardOutput = out
        py.standardError = err
        try py.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        py.waitUntilExit()
        if py.terminationStatus != 0 && stderr.contains("No module named 'torch'") {
            throw XCTSkip("python3 cannot import torch: PyTorch cross-check skipped")
        }
        return (py.terminationStatus, stdout, stderr)
    }

    func train(_ run: String, _ extra: [String]) throws -> String {
        let r = try runLMTool(tinyTrainArguments(run: run, epochs: 1) + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return path(run)
    }

    func assertRefused(_ run: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runScript([run, path("test.txt"), "--json"])
        XCTAssertEqual(r.status, 2, "\(run): \(r.stdout)", file: file, line: line)
        XCTAssertEqual(r.stdout, "", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("error: \(fragment)"), r.stderr, file: file, line: line)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr, file: file, line: line)
    }

    func testScriptRefusesWhatItCannotReproduceAndScoresTheRest() throws {
        try writeSplitFiles()
        // 8-dimensional vectors (GloVe text) for the corpus words: frozen needs D = E = 8.
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "slept"]
        let vectors = words.enumerated().map { i, w in ([w] + (0..<8).map { String(Double((i * 8 + $0) % 7) / 7 - 0.4) }).joined(separator: " ") }
        let embeddings = try write("vectors.txt", vectors.joined(separator: "\n") + "\n")
        let plain = try train("plain", [])
        let frozen = try train("frozen", ["--embeddings", embeddings, "--embedding-mode", "frozen"])
        let concat = try train("concat", ["--embeddings", embeddings, "--embedding-mode", "concat"])
        let pretrain = try runLMTool(["pretrain-glomo", "--corpus", path("train.txt"), "--out", path("g"), "--embedding-size", "8",
                                      "--heads", "2", "--graph-layers", "1", "--conv-layers", "1", "--sequence-length", "8",
                                      "--batch-size", "4", "--positions", "4", "--min-count", "1", "--valid-sequences", "4",
                                      "--steps", "2", "--threads", "1"])
        XCTAssertEqual(pretrain.status, 0, pretrain.stderr)
        let glomo = try train("glomo", ["--glomo", path("g"), "--glomo-on", "hidden"])

        // Supported: the script's perplexity is lmtool's (within 0.1%).
        for run in [plain, frozen] {
            let lm = try runLMTool(["perplexity", "--model", run, path("test.txt"), "--unk", "--json"])
            XCTAssertEqual(lm.status, 0, lm.stderr)
            let ours = try XCTUnwrap(((try JSONSerialization.jsonObject(with: Data(lm.stdout.utf8)) as? [String: Any])?["total"]
                as? [String: Any]).flatMap { ($0["withOOVs"] as? [String: Any])?["ppl"] as? Double })
            let r = try runScript([run, path("test.txt"), "--json"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let theirs = try XCTUnwrap((try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["ppl"] as? Double)
            XCTAssertEqual(ours, theirs, accuracy: 1e-3 * theirs, run)
        }
        try assertRefused(concat, "\(concat)/config.json: input_representation ")
        try assertRefused(glomo, "\(glomo)/config.json: a GLoMo run")

        // The concat run's model.safetensors under a config.json that says `random`: the
        // tensors the script's model does not load are refused by name.
        let config = concat + "/config.json"
        var object = try readJSONObject(atPath: config)
        object["input_representation"] = ["kind": "random"]
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: config))
        try assertRefused(concat, "\(concat)/model.safetensors: holds encoder.pretrained.weight, encoder.projection.weight, which this script's model does not load")
    }
}
