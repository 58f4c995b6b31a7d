import Corpus
import Foundation
import FuzzSupport
import NN
import Support
import XCTest
@testable import GLoMoGraph

final class ModelDirectoryFuzzTests: XCTestCase {
    /// config.json (and now and then model.safetensors) of a GLoMo model directory damaged by
    /// deterministic mutations (bit flips, JSON bytes, numbers grown past Int or replaced by edge
    /// values, deletions, duplications, a cut end): `GLoMoModelDirectory.load` loads (and
    /// computes graphs) or throws a one-line error naming a file of the directory; nothing traps
    /// or allocates by a damaged size. Models too large to build quickly are only read.
    func testMutatedConfigAndModelAreRejectedOrLoadNeverACrash() throws {
        let path = try temporaryDirectory(self) + "/model"
        let vocabulary = try tinyVocabulary()
        let graph = GraphPredictorConfig(embeddingSize: 4, channels: 3, convLayers: 1, kernelSize: 2, graphLayers: 1, heads: 2, headSize: 2)
        var pretraining = GLoMoPretrainingConfig()
        pretraining.sequenceLength = 8
        pretraining.batchSize = 2
        pretraining.positionsPerSequence = 4
        let config = GLoMoModelConfig(vocabulary: vocabulary, graph: graph, pretraining: pretraining)
        let dir = try GLoMoModelDirectory.create(at: path, config: config, vocabulary: vocabulary)
        // The whole pretraining model: model.safetensors holds exactly its parameters.
        let store = ContextPredictionModel(vocabularySize: 6, graph: graph, maxSteps: 4, maxBatch: 1, predictTokens: 1, maxPositions: 1).store
        var rng = RNG(seed: 3)
        for i in 0..<store.count { store.values[i] = rng.uniform(-1, 1) }
        try dir.saveModel(store, config: config)
        let validConfig = Array(try Data(contentsOf: URL(fileURLWithPath: dir.configPath)))
        let validModel = Array(try Data(contentsOf: URL(fileURLWithPath: dir.modelPath)))

        var m = ByteMutator(seed: 3)
        var loaded = 0, readOnly = 0, rejected = 0
        for trial in 0..<1000 {
            let bytes = m.pick(4) == 0 ? validConfig : m.mutate(validConfig, rounds: 1 + m.pick(4))
            var model = validModel
            if m.pick(6) == 0 {
                if m.pick(2) == 0 { model.removeSubrange(m.pick(model.count)..<model.count) } else { model[m.pick(model.count)] ^= 0xFF }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: dir.configPath))
            try Data(model).write(to: URL(fileURLWithPath: dir.modelPath))
            do {
                let (_, c, _) = try GLoMoModelDirectory.open(at: path)
                let g = c.graph
                let C = Double(g.channels)
                let size = Double(c.vocabularySize) * Double(c.embeddingSize) + 2 * Double(g.convLayers) * Double(g.kernelSize) * C * (Double(g.embeddingSize) + C)
                    + Double(g.graphLayers) * Double(g.heads) * Double(g.headSize) * 2 * C
                if size > 20_000 { readOnly += 1; continue }
                let glomo = try GLoMoModelDirectory.load(at: path, maxSteps: 4, maxBatch: 1)
                XCTAssertEqual(glomo.graphs(ids: [1, 2, 3, 4], steps: 4, batch: 1).count, glomo.graphCount(steps: 4, batch: 1))
                loaded += 1
            } catch {
                rejected += 1
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix(path + "/"), "trial \(trial): \(text)")
                XCTAssertFalse(text.contains("\n"), "trial \(trial): \(text)")
            }
        }
        XCTAssertGreaterThan(loaded, 100)
        XCTAssertGreaterThan(rejected, 300)
        print("GLoMo model directory fuzz: \(loaded) loaded, \(readOnly) read (too large to build here), \(rejected) rejected")
    }

    /// Regression: a config.json whose sizes are valid one by one but whose product is huge
    /// (embeddingSize 10^12) was accepted and trapped allocating; now a one-line error.
    func testHugeSizesInConfigAreAClearErrorBeforeAllocating() throws {
        let path = try temporaryDirectory(self) + "/model"
        let vocabulary = try tinyVocabulary()
        let graph = GraphPredictorConfig(embeddingSize: 4, channels: 3, convLayers: 1, kernelSize: 2, graphLayers: 1, heads: 2, headSize: 2)
        let dir = try GLoMoModelDirectory.create(at: path, config: GLoMoModelConfig(vocabulary: vocabulary, graph: graph, pretraining: GLoMoPretrainingConfig()),
                                                 vocabulary: vocabulary)
        let text = try String(contentsOfFile: dir.configPath, encoding: .utf8)
        for (key, huge) in [("\"embedding_size\" : 4", "\"embedding_size\" : 1000000000000"), ("\"channels\" : 3", "\"channels\" : 3037000500")] {
            let damaged = text.replacingOccurrences(of: key, with: huge)   // both embedding_size fields: consistent
            XCTAssertNotEqual(damaged, text)
            try damaged.write(toFile: dir.configPath, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path, maxSteps: 4, maxBatch: 1)) { error in
                XCTAssertTrue("\(error)".hasPrefix(dir.configPath + ": the sizes give about "), "\(error)")
            }
        }
    }
}
