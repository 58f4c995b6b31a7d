import Foundation
import XCTest

/// A run's model with a NaN or infinite weight, or finite weights whose arithmetic overflows:
/// every command fails with one line naming the file (and the tensor, or the line scored) and
/// exit status 1. The old commands printed the NaN log-probabilities as "zeroprobs" left out of
/// the sums (a wrong perplexity, exit 0), `-nan` for a rescored hypothesis, and generated the
/// last vocabulary word forever.
final class NonFiniteModelTests: TemporaryDirectoryTestCase {
    /// A tiny run trained for one epoch on `writeSplitFiles`' files; its path.
    func trainedRun(_ name: String, _ extra: [String] = []) throws -> String {
        try writeSplitFiles()
        let r = try runLMTool(tinyTrainArguments(run: name, epochs: 1) + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return path(name)
    }

    func commands(_ run: String, nbest: String) -> [[String]] {
        [["perplexity", "--model", run, path("test.txt"), "--unk"],
         ["perplexity", "--model", run, path("test.txt"), path("valid.txt"), "--unk"],   // as batch columns
         ["perplexity", "--model", run, path("test.txt"), "--unk", "--mode", "sentence"],
         ["rescore", "--model", run, nbest],
         ["generate", "--model", run, "--seed", "1", "--words", "5"]]
    }

    /// `expected` is the whole stderr, or with `prefixOnly` its start; `containing` must be in it.
    func assertOneLineError(_ arguments: [String], _ expected: String, prefixOnly: Bool = false, containing: String = "",
                            file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runLMTool(arguments)
        XCTAssertEqual(r.status, 1, "\(arguments): \(r.stdout)", file: file, line: line)
        if !containing.isEmpty { XCTAssertTrue(r.stderr.contains(containing), "\(arguments): \(r.stderr)", file: file, line: line) }
        if prefixOnly {
            XCTAssertTrue(r.stderr.hasPrefix(expected), "\(arguments): \(r.stderr)", file: file, line: line)
        } else {
            XCTAssertEqual(r.stderr, expected, "\(arguments)", file: file, line: line)
        }
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr, file: file, line: line)
    }

    /// One NaN or infinite float in model.safetensors (header and shapes valid): refused by
    /// perplexity (single stream, columns, sentence mode), rescore and generate, naming the file,
    /// the tensor and the element. The trained, intact model scores (0 zeroprobs: a model with
    /// finite weights gives every position a probability above 0 here).
    func testANonFiniteWeightIsRefusedWhereverTheModelIsLoaded() throws {
        let run = try trainedRun("run")
        let nbest = try write("nbest.txt", "the cat sat\nthe mat\n")
        for c in commands(run, nbest: nbest) {
            let r = try runLMTool(c)
            XCTAssertEqual(r.status, 0, "\(c): \(r.stderr)")
            if c[0] == "perplexity" { XCTAssertTrue(r.stdout.contains("\n0 zeroprobs,"), r.stdout) }
        }
        let model = run + "/model.safetensors"
        let saved = try Data(contentsOf: URL(fileURLWithPath: model))
        for (tensor, element, value, shown) in [("decoder.bias", 3, Float.nan, "nan"), ("rnn.weight_hh_l0", 5, .infinity, "inf"),
                                                ("encoder.weight", 0, -.infinity, "-inf")] {
            try saved.write(to: URL(fileURLWithPath: model))
            try overwriteFloats(tensor, in: model, with: value, element: element)
            for c in commands(run, nbest: nbest) {
                try assertOneLineError(c, "Error: \(model): \(tensor) holds a \(shown) value at element \(element) (NaN and infinite weights are refused)\n")
            }
        }
    }

    /// The tester's case: one +inf in the second tail cluster of an adaptive softmax.
    func testANonFiniteWeightOfAnAdaptiveSoftmaxIsRefused() throws {
        // Hidden size 16: the second tail cluster projects to 16 / 4² = 1 (8 would give 0 wide).
        let run = try trainedRun("run", ["--softmax", "adaptive:4,7", "--embedding-size", "16", "--hidden-size", "16"])
        let model = run + "/model.safetensors"
        XCTAssertEqual(try runLMTool(["perplexity", "--model", run, path("test.txt"), "--unk"]).status, 0)
        try overwriteFloats("decoder.tail.1.1.weight", in: model, with: .infinity, element: 1)
        try assertOneLineError(["perplexity", "--model", run, path("test.txt"), "--unk"],
                               "Error: \(model): decoder.tail.1.1.weight holds a inf value at element 1 (NaN and infinite weights are refused)\n")
    }

    /// `train --resume` refuses a last.safetensors with a NaN parameter instead of training on.
    func testResumeRefusesANonFiniteParameter() throws {
        try writeSplitFiles()
        let stopped = try runLMTool(tinyTrainArguments(run: "run", epochs: 2) + ["--stop-after-steps", "3"])
        let last = path("run/last.safetensors")
        XCTAssertTrue(FileManager.default.fileExists(atPath: last), stopped.stderr)
        try overwriteFloats("rnn.weight_ih_l0", in: last, with: .nan, element: 2)
        try assertOneLineError(tinyTrainArguments(run: "run", epochs: 2) + ["--resume"],
                               "Error: \(last): rnn.weight_ih_l0 holds a nan value at element 2 (NaN and infinite weights are refused)\n")
    }

    /// Finite weights whose arithmetic overflows give NaN log-probabilities, which are errors
    /// naming the file scored and the line, never zeroprobs. By hand: with every input and
    /// recurrent bias 1000 (finite), every gate saturates (i = f = o = 1, g = 1), so the cell
    /// grows by 1 a step and every h = tanh(c) ≥ tanh(1) > 0.76; with every decoder weight 1e38
    /// (finite) each logit is 1e38 · Σh ≥ 1e38 · 8 · 0.76 > Float.max = inf, so the log-softmax
    /// computes inf − inf = NaN (printed `nan` or `-nan`) at the first position scored: line 1
    /// of test.txt ("mat …"), the first hypothesis ("the …").
    func testNaNLogProbabilitiesAreErrorsNotZeroprobs() throws {
        let run = try trainedRun("run")
        let nbest = try write("nbest.txt", "the cat sat\nthe mat\n")
        let model = run + "/model.safetensors"
        try overwriteFloats("rnn.bias_ih_l0", in: model, with: 1000)
        try overwriteFloats("rnn.bias_hh_l0", in: model, with: 1000)
        try overwriteFloats("decoder.weight", in: model, with: 1e38)
        let test = path("test.txt")
        for c in commands(run, nbest: nbest) where c[0] == "perplexity" {
            try assertOneLineError(c, "Error: \(test):1: the model gave log-probability ", prefixOnly: true, containing: "nan to 'mat', token 1 of ")
        }
        try assertOneLineError(["rescore", "--model", run, nbest], "Error: \(nbest):1: the model gave log-probability ", prefixOnly: true,
                               containing: "nan to 'the', token 1 of this hypothesis")
    }
}
