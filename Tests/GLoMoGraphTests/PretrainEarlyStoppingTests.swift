import Corpus
import Foundation
import NN
import Support
import XCTest
@testable import GLoMoGraph

/// Early stopping (`patience`) and the adaptive softmax in GLoMo pretraining.
final class PretrainEarlyStoppingTests: XCTestCase {
    /// "a b c d <eos>" repeated: what the model learns to predict.
    func forwardTokens(_ n: Int) -> [Int32] { (0..<n).map { [2, 3, 4, 5, 1][$0 % 5] } }
    /// "d c b a <eos>" repeated: the valid split, which the model gets worse at as it learns the
    /// training order, so the validation loss rises and patience runs out.
    func reversedTokens(_ n: Int) -> [Int32] { (0..<n).map { [5, 4, 3, 2, 1][$0 % 5] } }

    func makeConfig(steps: Int, patience: Int?, softmax: GLoMoSoftmax = .full) throws -> GLoMoModelConfig {
        var p = GLoMoPretrainingConfig()
        p.sequenceLength = 8
        p.batchSize = 4
        p.predictTokens = 2
        p.positionsPerSequence = 4
        p.learningRate = 2e-2
        p.steps = steps
        p.checkpointEvery = 3
        p.validationSequences = 4
        p.patience = patience
        let graph = GraphPredictorConfig(embeddingSize: 8, channels: 8, convLayers: 1, graphLayers: 1, heads: 2, headSize: 4)
        var config = GLoMoModelConfig(vocabulary: try tinyVocabulary(), graph: graph, pretraining: p)
        config.softmax = softmax
        return config
    }

    func makeTrainer(_ path: String, _ config: GLoMoModelConfig, resume: Bool = false) throws -> GLoMoPretrainer {
        let dir = resume ? GLoMoModelDirectory(path: path)
                         : try GLoMoModelDirectory.create(at: path, config: config, vocabulary: try tinyVocabulary())
        return try GLoMoPretrainer(directory: dir, config: config, train: forwardTokens(400), valid: reversedTokens(120), resume: resume)
    }

    /// The valid records after step 0, as (step, loss).
    func validCurve(_ path: String) throws -> [(step: Int, loss: Double)] {
        try GLoMoModelDirectory(path: path).readMetrics().filter { $0.split == "valid" && $0.step > 0 }.map { ($0.step, $0.loss) }
    }

    func testPatienceStopsEarlyKeepsTheBestModelAndSaysWhy() throws {
        let path = try temporaryDirectory(self) + "/m"
        let trainer = try makeTrainer(path, try makeConfig(steps: 90, patience: 2))
        var lines: [String] = []
        guard case .finished(let summary) = try trainer.train(log: { lines.append($0) }) else { return XCTFail("not finished") }
        XCTAssertEqual(summary.stopped, "patience")
        XCTAssertLessThan(summary.steps, 90)
        // What the summary says, recomputed from the validation curve in metrics.jsonl.
        let curve = try validCurve(path)
        let best = try XCTUnwrap(curve.min { $0.loss < $1.loss })
        XCTAssertEqual(summary.bestStep, best.step)
        XCTAssertEqual(summary.bestValidLoss, best.loss)
        XCTAssertEqual(curve.last?.step, summary.steps)
        XCTAssertEqual(curve.filter { $0.step > best.step }.count, 2, "two validations without improvement, then the stop")
        XCTAssertTrue(lines.contains { $0.hasPrefix("early stop:") }, "\(lines)")
        // model.safetensors is the best model (its valid loss is the best one), the trainer holds it.
        XCTAssertEqual(summary.validLoss, best.loss)
        let reloaded = try makeTrainer(path, try makeConfig(steps: 90, patience: 2), resume: true)
        try GLoMoModelDirectory(path: path).loadModel(into: reloaded.model.store, config: reloaded.config)
        XCTAssertEqual(reloaded.validationLoss(), best.loss)
        XCTAssertEqual(trainer.model.store.copyOfValues(), reloaded.model.store.copyOfValues())
        XCTAssertEqual(try GLoMoModelDirectory(path: path).readSummary(), summary)

        // Without patience the same run trains every step and says so.
        let plain = try makeTrainer(path + "-plain", try makeConfig(steps: 12, patience: nil))
        guard case .finished(let s) = try plain.train() else { return XCTFail("not finished") }
        XCTAssertEqual(s.stopped, "max_steps")
        XCTAssertEqual(s.steps, 12)
        let plainBest = try XCTUnwrap(try validCurve(path + "-plain").min { $0.loss < $1.loss })
        XCTAssertEqual(s.bestStep, plainBest.step)
    }

    /// Stopped in the middle of the patience count and resumed: the same stop, bitwise the same
    /// model, metrics and summary as an uninterrupted run (the CLI test does it at --threads 1).
    func testResumeKeepsThePatienceCounter() throws {
        let base = try temporaryDirectory(self)
        let config = try makeConfig(steps: 90, patience: 2)
        let whole = try makeTrainer(base + "/whole", config)
        guard case .finished(let a) = try whole.train() else { return XCTFail("not finished") }
        let bestStep = try XCTUnwrap(a.bestStep)
        XCTAssertEqual(a.stopped, "patience")

        // Stop one step after the first validation that did not improve (the counter is 1).
        let stopAt = bestStep + 3 + 1
        XCTAssertLessThan(stopAt, a.steps)
        let first = try makeTrainer(base + "/parts", config)
        XCTAssertEqual(try first.train(stop: SessionStop(stepLimit: stopAt)), .stopped(signal: nil, step: stopAt))
        let second = try makeTrainer(base + "/parts", config, resume: true)
        XCTAssertEqual(second.state.validationsWithoutImprovement, 1)
        XCTAssertEqual(second.state.bestStep, bestStep)
        guard case .finished(var b) = try second.train() else { return XCTFail("not finished") }
        b.seconds = a.seconds
        XCTAssertEqual(b, a)
        XCTAssertEqual(FileManager.default.contents(atPath: base + "/whole/model.safetensors"),
                       FileManager.default.contents(atPath: base + "/parts/model.safetensors"))
        let ma = try GLoMoModelDirectory(path: base + "/whole").readMetrics()
        let mb = try GLoMoModelDirectory(path: base + "/parts").readMetrics()
        XCTAssertEqual(ma.map(\.step), mb.map(\.step))
        XCTAssertEqual(ma.map(\.loss), mb.map(\.loss))
    }

    func testPatienceWithoutValidationIsAClearError() throws {
        let path = try temporaryDirectory(self) + "/m"
        let config = try makeConfig(steps: 10, patience: 1)
        let dir = try GLoMoModelDirectory.create(at: path, config: config, vocabulary: try tinyVocabulary())
        XCTAssertThrowsError(try GLoMoPretrainer(directory: dir, config: config, train: forwardTokens(400), valid: [])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(path) && text.contains("patience needs validation windows"), text)
            XCTAssertFalse(text.contains("\n"))
        }
    }

    // MARK: - Adaptive softmax

    func testSoftmaxFlagParsingAndRefusals() throws {
        let counts = [0, 50, 40, 30, 20, 10, 5, 1]
        XCTAssertEqual(try GLoMoSoftmax.parse("full", counts: counts, source: "v.txt"), .full)
        XCTAssertEqual(try GLoMoSoftmax.parse("adaptive:3,5", counts: counts, source: "v.txt"), .adaptive(cutoffs: [3, 5], divValue: 4))
        // Chosen from the counts: the head covers 80% of the 156 tokens (ids 0…4 reach 140).
        XCTAssertEqual(try GLoMoSoftmax.parse("adaptive", counts: counts, source: "v.txt"), .adaptive(cutoffs: [5], divValue: 4))
        for (flag, expected) in [("adaptive:5,3", "not increasing"), ("adaptive:3,3", "appears twice"),
                                 ("adaptive:3,8", "not below the vocabulary size 8"), ("adaptive:0", "not positive"),
                                 ("adaptive:3,x", "'x' is not a whole number"), ("adaptive:", "'' is not a whole number"),
                                 ("sampled", "expected full, adaptive")] {
            XCTAssertThrowsError(try GLoMoSoftmax.parse(flag, counts: counts, source: "v.txt"), flag) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(expected), "\(flag): \(text)")
                XCTAssertTrue(text.contains("--softmax"), "\(flag): \(text)")
                XCTAssertFalse(text.contains("\n"))
            }
        }
    }

    /// config.json: the full softmax writes no `adaptive_softmax` (a model's bytes and content
    /// hash stay what they were); adaptive round-trips; cutoffs outside the vocabulary in a
    /// config.json are refused naming it.
    func testConfigRecordsTheSoftmax() throws {
        let base = try temporaryDirectory(self)
        let full = try makeConfig(steps: 3, patience: nil)
        let dirA = try GLoMoModelDirectory.create(at: base + "/full", config: full, vocabulary: try tinyVocabulary())
        let text = try String(contentsOfFile: dirA.configPath, encoding: .utf8)
        XCTAssertFalse(text.contains("adaptive"), text)
        XCTAssertFalse(text.contains("patience"), text)
        XCTAssertEqual(try dirA.readConfig().softmax, .full)

        let adaptive = try makeConfig(steps: 3, patience: 2, softmax: .adaptive(cutoffs: [3, 4], divValue: 2))
        let dirB = try GLoMoModelDirectory.create(at: base + "/adaptive", config: adaptive, vocabulary: try tinyVocabulary())
        XCTAssertTrue(try String(contentsOfFile: dirB.configPath, encoding: .utf8).contains("\"adaptive_softmax\""))
        XCTAssertEqual(try dirB.readConfig(), adaptive)

        let bad = try String(contentsOfFile: dirB.configPath, encoding: .utf8).replacingOccurrences(of: "\"cutoffs\" : [\n      3,\n      4\n    ]", with: "\"cutoffs\" : [3, 9]")
        XCTAssertTrue(bad.contains("[3, 9]"), bad)
        try bad.write(toFile: dirB.configPath, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try dirB.readConfig()) { error in
            XCTAssertEqual("\(error)", "\(dirB.configPath): adaptiveSoftmax: adaptive softmax cutoffs [3,9]: cutoff 9 is not below the vocabulary size 6")
        }
    }

    /// With the adaptive softmax: the model has the adaptive parameters instead of the tied
    /// output bias, the loss falls, the saved model loads (for inference and checked against
    /// config.json), and a resumed run is bitwise the uninterrupted one.
    func testAdaptivePretrainingTrainsSavesAndResumesExactly() throws {
        let base = try temporaryDirectory(self)
        let config = try makeConfig(steps: 12, patience: nil, softmax: .adaptive(cutoffs: [3, 4], divValue: 2))
        let names = Set(try makeTrainer(base + "/names", config).model.store.views.map(\.name).filter { $0.hasPrefix("decoder.") })
        XCTAssertEqual(names, ["decoder.gru.weight_ih", "decoder.gru.weight_hh", "decoder.gru.bias_ih", "decoder.gru.bias_hh",
                               "decoder.softmax.head.weight", "decoder.softmax.tail.0.0.weight", "decoder.softmax.tail.0.1.weight",
                               "decoder.softmax.tail.1.0.weight", "decoder.softmax.tail.1.1.weight"])
        let whole = try makeTrainer(base + "/whole", config)
        guard case .finished = try whole.train() else { return XCTFail("not finished") }
        let train = try GLoMoModelDirectory(path: base + "/whole").readMetrics().filter { $0.split == "train" }
        XCTAssertLessThan(train.last!.loss, train.first!.loss)
        _ = try GLoMoModelDirectory.load(at: base + "/whole", maxSteps: 8)

        let first = try makeTrainer(base + "/parts", config)
        XCTAssertEqual(try first.train(stop: SessionStop(stepLimit: 7)), .stopped(signal: nil, step: 7))
        let second = try makeTrainer(base + "/parts", config, resume: true)
        guard case .finished = try second.train() else { return XCTFail("not finished") }
        XCTAssertEqual(second.model.store.copyOfValues(), whole.model.store.copyOfValues())
        XCTAssertEqual(FileManager.default.contents(atPath: base + "/whole/model.safetensors"),
                       FileManager.default.contents(atPath: base + "/parts/model.safetensors"))
    }
}
