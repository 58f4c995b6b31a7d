import Corpus
import Foundation
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
        let store = ParameterStore()
        store.register("embedding.weight", shape: [6, 4])
        _ = GraphPredictor(graph, store: store, prefix: "graph.", maxSteps: 4, maxBatch: 1)
        var rng = RNG(seed: 3)
        for i in 0..<store.count { store.values[i] = rng.uniform(-1, 1) }
        try dir.saveModel(store, config: config)
        let validConfig = Array(try Data(contentsOf: URL(fileURLWithPath: dir.configPath)))
        let validModel = Array(try Data(contentsOf: URL(fileURLWithPath: dir.modelPath)))

        let interesting: [UInt8] = Array("0 9-[]{}\\\":,e.tn".utf8) + [0, 10, 0x7F, 0x80, 0xFF]
        let edgeNumbers = ["0", "1", "-1", "2", "1000000000000", "4294967296", "9223372036854775807",
                           "9223372036854775808", "-9223372036854775808", "1e30", "1e400", "1.5", "-0", "00"]
        func pick(_ n: Int) -> Int { rng.int(below: max(1, n)) }
        func isDigit(_ b: UInt8) -> Bool { (48...57).contains(b) }
        var loaded = 0, readOnly = 0, rejected = 0
        for trial in 0..<1000 {
            var bytes = validConfig, model = validModel
            for _ in 0..<(pick(4) == 0 ? 0 : 1 + pick(4)) {
                let at = pick(bytes.count)
                guard !bytes.isEmpty else { break }
                switch pick(8) {
                case 0: bytes[at] ^= UInt8(1) << UInt8(pick(8))
                case 1: bytes[at] = interesting[pick(interesting.count)]
                case 2:
                    if let d = bytes[at...].firstIndex(where: isDigit) {
                        bytes.insert(contentsOf: Array(String(repeating: "9", count: 1 + pick(25)).utf8), at: d)
                    }
                case 3: if let d = bytes[at...].firstIndex(where: isDigit) { bytes.insert(UInt8(ascii: "-"), at: d) }
                case 4, 5:
                    if let d = bytes[at...].firstIndex(where: isDigit) {
                        let end = bytes[d...].firstIndex(where: { !isDigit($0) }) ?? bytes.count
                        bytes.replaceSubrange(d..<end, with: Array(edgeNumbers[pick(edgeNumbers.count)].utf8))
                    }
                case 6: bytes.removeSubrange(at..<min(at + 1 + pick(8), bytes.count))
                default:
                    let end = min(at + 1 + pick(16), bytes.count)
                    bytes.insert(contentsOf: bytes[at..<end], at: at)
                }
            }
            if pick(12) == 0 { bytes.removeSubrange(pick(bytes.count)..<bytes.count) }
            if pick(6) == 0 {
                if pick(2) == 0 { model.removeSubrange(pick(model.count)..<model.count) } else { model[pick(model.count)] ^= 0xFF }
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
                let m = try GLoMoModelDirectory.load(at: path, maxSteps: 4, maxBatch: 1)
                XCTAssertEqual(m.graphs(ids: [1, 2, 3, 4], steps: 4, batch: 1).count, m.graphCount(steps: 4, batch: 1))
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
        for (key, huge) in [("\"embeddingSize\" : 4", "\"embeddingSize\" : 1000000000000"), ("\"channels\" : 3", "\"channels\" : 3037000500")] {
            let damaged = text.replacingOccurrences(of: key, with: huge)   // both embeddingSize fields: consistent
            XCTAssertNotEqual(damaged, text)
            try damaged.write(toFile: dir.configPath, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path, maxSteps: 4, maxBatch: 1)) { error in
                XCTAssertTrue("\(error)".hasPrefix(dir.configPath + ": the sizes give about "), "\(error)")
            }
        }
    }
}
