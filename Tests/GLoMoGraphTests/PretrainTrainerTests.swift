import Corpus
import Foundation
import NN
import Support
import XCTest
@testable import GLoMoGraph

final class PretrainTrainerTests: XCTestCase {
    /// A repetitive stream over the tiny vocabulary: "a b c d <eos>" with an occasional "b"
    /// left out, so every next token is (almost) determined by the current one.
    func repetitiveTokens(_ n: Int) -> [Int32] {
        var out: [Int32] = []
        var k = 0
        while out.count < n {
            out += k % 7 == 3 ? [2, 4, 5, 1] : [2, 3, 4, 5, 1]
            k += 1
        }
        return Array(out.prefix(n))
    }

    func makeConfig(steps: Int, seed: UInt64 = 1, lr: Float = 1e-2) throws -> GLoMoModelConfig {
        var p = GLoMoPretrainingConfig()
        p.sequenceLength = 8
        p.batchSize = 4
        p.predictTokens = 3
        p.positionsPerSequence = 4
        p.learningRate = lr
        p.steps = steps
        p.seed = seed
        p.checkpointEvery = 5
        p.validationSequences = 4
        let graph = GraphPredictorConfig(embeddingSize: 8, channels: 8, convLayers: 1, graphLayers: 2, heads: 2, headSize: 4)
        return GLoMoModelConfig(vocabulary: try tinyVocabulary(), graph: graph, pretraining: p)
    }

    func makeTrainer(_ path: String, _ config: GLoMoModelConfig, resume: Bool = false) throws -> GLoMoPretrainer {
        let dir = resume ? GLoMoModelDirectory(path: path)
                         : try GLoMoModelDirectory.create(at: path, config: config, vocabulary: try tinyVocabulary())
        return try GLoMoPretrainer(directory: dir, config: config, train: repetitiveTokens(400), valid: repetitiveTokens(120),
                                   resume: resume)
    }

    func testLossFallsOnARepetitiveCorpus() throws {
        let path = try temporaryDirectory(self) + "/m"
        let trainer = try makeTrainer(path, try makeConfig(steps: 60))
        let before = try XCTUnwrap(trainer.validationLoss())
        XCTAssertEqual(before, log(6.0), accuracy: 0.3)  // near uniform over 6 words at the start
        var lines: [String] = []
        guard case .finished(let summary) = try trainer.train(log: { lines.append($0) }) else { return XCTFail("not finished") }
        let after = try XCTUnwrap(summary.validLoss)
        XCTAssertLessThan(after, 0.5 * before, "valid loss \(before) → \(after)")
        XCTAssertEqual(summary.steps, 60)
        // 49 windows of 8 tokens, 13 batches per epoch (the last of one window): 4 epochs + 8 batches.
        XCTAssertEqual(trainer.batchesPerEpoch, 13)
        XCTAssertEqual(summary.tokens, 4 * 49 * 8 + 8 * 4 * 8)
        XCTAssertEqual(summary.epochs, 60.0 / 13, accuracy: 1e-12)
        XCTAssertEqual(summary.parameters, trainer.model.store.count)
        XCTAssertEqual(lines.filter { $0.hasPrefix("step ") && $0.contains("tok/s") }.count, 6)
        // Files: metrics (train + valid every 5 steps), model, checkpoint, summary last.
        let dir = GLoMoModelDirectory(path: path)
        let metrics = try dir.readMetrics()
        XCTAssertEqual(metrics.filter { $0.split == "train" }.map(\.step), Array(stride(from: 5, through: 60, by: 5)))
        XCTAssertEqual(metrics.filter { $0.split == "valid" }.map(\.step), [0] + Array(stride(from: 5, through: 60, by: 5)))
        XCTAssertEqual(metrics.first?.loss ?? 0, before, accuracy: 1e-9)
        XCTAssertEqual(metrics.last?.loss ?? 0, after, accuracy: 1e-9)
        XCTAssertEqual(try dir.readSummary(), summary)
        // The saved model loads for inference and gives the trained graphs.
        let loaded = try GLoMoModelDirectory.load(at: path, maxSteps: 8)
        let gp = trainer.model.graphPredictor
        let ids: [Int32] = [2, 3, 4, 5, 1, 2, 3]
        var x: [Float] = []
        let w = trainer.model.store.values(trainer.model.embedding)
        for id in ids { x += (0..<8).map { w[Int(id) * 8 + $0] } }
        XCTAssertEqual(loaded.graphs(ids: ids, steps: 7, batch: 1), graphs(gp, x, T: 7, B: 1))
    }

    func testSameSeedSameModelOtherSeedOtherModel() throws {
        let base = try temporaryDirectory(self)
        var values: [[Float]] = []
        for (name, seed) in [("a", UInt64(1)), ("b", 1), ("c", 2)] {
            let t = try makeTrainer(base + "/" + name, try makeConfig(steps: 6, seed: seed))
            _ = try t.train()
            values.append(t.model.store.copyOfValues())
        }
        XCTAssertEqual(values[0], values[1])
        XCTAssertNotEqual(values[0], values[2])
    }

    func testResumeContinuesExactlyFromTheCheckpoint() throws {
        let base = try temporaryDirectory(self)
        let config = try makeConfig(steps: 12)
        let whole = try makeTrainer(base + "/whole", config)
        _ = try whole.train()

        // Stop before step 8 (a checkpoint at step 7, between the regular ones at 5 and 10) …
        let first = try makeTrainer(base + "/parts", config)
        XCTAssertEqual(try first.train(stop: SessionStop(stepLimit: 7)), .stopped(signal: nil, step: 7))
        XCTAssertFalse(GLoMoModelDirectory(path: base + "/parts").isFinished)
        // … then resume in a new trainer (a new process would do the same).
        let second = try makeTrainer(base + "/parts", config, resume: true)
        XCTAssertEqual(second.state.step, 7)
        guard case .finished = try second.train() else { return XCTFail("not finished") }
        XCTAssertEqual(second.model.store.copyOfValues(), whole.model.store.copyOfValues())
        let a = try GLoMoModelDirectory(path: base + "/whole").readMetrics()
        let b = try GLoMoModelDirectory(path: base + "/parts").readMetrics()
        XCTAssertEqual(a.map(\.step), b.map(\.step))
        XCTAssertEqual(a.map(\.loss), b.map(\.loss))
    }

    func testResumeWithoutCheckpointAndTooShortCorpusAreClearErrors() throws {
        let base = try temporaryDirectory(self)
        let config = try makeConfig(steps: 3)
        _ = try GLoMoModelDirectory.create(at: base + "/m", config: config, vocabulary: try tinyVocabulary())
        XCTAssertThrowsError(try makeTrainer(base + "/m", config, resume: true)) { e in
            XCTAssertEqual("\(e)", base + "/m/last.safetensors: nothing to resume (no checkpoint yet); start without --resume")
        }
        XCTAssertThrowsError(try GLoMoPretrainer(directory: GLoMoModelDirectory(path: base + "/m"), config: config, train: [2, 3, 4])) { e in
            XCTAssertEqual("\(e)", base + "/m: the training split has 3 tokens, fewer than sequence length 8 + 3 predicted tokens")
        }
    }

    func testCorruptCheckpointIsAOneLineErrorNamingIt() throws {
        let path = try temporaryDirectory(self) + "/m"
        let config = try makeConfig(steps: 12)
        let t = try makeTrainer(path, config)
        _ = try t.train(stop: SessionStop(stepLimit: 2))
        let file = path + "/last.safetensors"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        try bytes.prefix(bytes.count - 100).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try makeTrainer(path, config, resume: true)) { e in
            XCTAssertTrue("\(e)".hasPrefix(file + ": not a valid safetensors file"), "\(e)")
            XCTAssertFalse("\(e)".contains("\n"))
        }
        // A checkpoint of another model shape (here: another embedding size) is refused too.
        var other = config
        other.graph.embeddingSize = 6
        other.embeddingSize = 6
        let path2 = try temporaryDirectory(self) + "/m2"
        let t2 = try makeTrainer(path2, config)
        _ = try t2.train(stop: SessionStop(stepLimit: 2))
        XCTAssertThrowsError(try makeTrainer(path2, other, resume: true)) { e in
            XCTAssertTrue("\(e)".hasPrefix(path2 + "/last.safetensors: parameter 'embedding.weight' is [6, 6] F32, checkpoint has [6, 8] F32"), "\(e)")
        }
    }

    func testWindowsAndPositions() {
        let data = ContextPredictionData(tokens: (0..<10).map { Int32($0) }, steps: 4, predictTokens: 2)
        XCTAssertEqual(data.windowCount, 2)  // [0 ..< 6], [4 ..< 10]
        XCTAssertEqual(ContextPredictionData(tokens: (0..<9).map { Int32($0) }, steps: 4, predictTokens: 2).windowCount, 1)
        XCTAssertEqual(ContextPredictionData(tokens: [1, 2], steps: 4, predictTokens: 2).windowCount, 0)
        var rng = RNG(seed: 3)
        let b = data.batch(windows: [1, 0], positionsPerSequence: 4, rng: &rng)
        // Time-major [T + D, B]: column 0 is window 1 (tokens 4…9), column 1 window 0 (0…5).
        XCTAssertEqual(b.tokens, [4, 0, 5, 1, 6, 2, 7, 3, 8, 4, 9, 5])
        XCTAssertEqual(b.positions, [0, 1, 2, 3, 0, 1, 2, 3])  // P = T: every position
        let c = data.batch(windows: [0, 1, 0, 1, 0, 1], positionsPerSequence: 2, rng: &rng)
        for s in 0..<6 {
            let p = c.positions[2 * s..<2 * s + 2]
            XCTAssertTrue(p.first! < p.last! && p.last! < 4, "\(p)")
        }
        XCTAssertEqual(Set(data.order(epoch: 0, seed: 1)), [0, 1])
        XCTAssertEqual(data.order(epoch: 5, seed: 9), data.order(epoch: 5, seed: 9))
    }
}
