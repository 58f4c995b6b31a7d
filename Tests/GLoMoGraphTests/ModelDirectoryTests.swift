import Corpus
import Foundation
import NN
import Support
import XCTest
@testable import GLoMoGraph

/// A fresh temporary directory, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase) throws -> String {
    let path = NSTemporaryDirectory() + "glomo-test-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// A 6-word vocabulary: <unk>, <eos>, a, b, c, d.
func tinyVocabulary() throws -> Vocabulary {
    try Vocabulary(tokens: ["<unk>", "<eos>", "a", "b", "c", "d"], counts: [0, 5, 9, 7, 4, 2])
}

final class ModelDirectoryTests: XCTestCase {
    let graphConfig = GraphPredictorConfig(embeddingSize: 4, channels: 5, convLayers: 1, kernelSize: 3,
                                           graphLayers: 2, heads: 2, headSize: 3)

    /// Creates a directory and saves a randomly initialised store laid out as pretraining lays it out.
    func makeSavedModel(_ path: String, seed: UInt64 = 3) throws -> (GLoMoModelConfig, ParameterStore, GraphPredictor) {
        let vocabulary = try tinyVocabulary()
        let config = GLoMoModelConfig(vocabulary: vocabulary, graph: graphConfig, pretraining: GLoMoPretrainingConfig())
        let dir = try GLoMoModelDirectory.create(at: path, config: config, vocabulary: vocabulary)
        let store = ParameterStore()
        store.register("embedding.weight", shape: [6, 4])
        let gp = GraphPredictor(graphConfig, store: store, prefix: "graph.", maxSteps: 8, maxBatch: 2)
        _ = FeaturePredictor(matching: gp, store: store)
        // The pretraining decoder (ContextPredictionModel's): model.safetensors holds exactly the
        // whole pretraining model.
        let E = graphConfig.embeddingSize
        for (name, shape) in [("decoder.gru.weight_ih", [3 * E, E]), ("decoder.gru.weight_hh", [3 * E, E]),
                              ("decoder.gru.bias_ih", [3 * E]), ("decoder.gru.bias_hh", [3 * E]), ("decoder.bias", [6])] {
            store.register(name, shape: shape)
        }
        var rng = RNG(seed: seed)
        for i in 0..<store.count { store.values[i] = rng.uniform(-1, 1) }
        try dir.saveModel(store, config: config)
        return (config, store, gp)
    }

    func testRoundTripRebuildsThePredictor() throws {
        let path = try temporaryDirectory(self) + "/model"
        let (config, store, gp) = try makeSavedModel(path)
        let model = try GLoMoModelDirectory.load(at: path, maxSteps: 8, maxBatch: 2)
        XCTAssertEqual(model.config, config)
        XCTAssertEqual(model.vocabulary, try tinyVocabulary())
        // Every loaded parameter equals the saved one, bit for bit.
        for v in model.store.views {
            XCTAssertEqual(Array(model.store.values(v)), Array(store.values(store[v.name])), v.name)
        }
        XCTAssertEqual(model.store.views.count, 1 + store.views.filter { $0.name.hasPrefix("graph.") }.count)
        // The loaded model's graphs equal the original predictor's on the same embedded ids.
        let ids: [Int32] = [2, 3, 4, 5, 1, 2, 3, 3, 0, 5]  // [T=5, B=2]
        var x = [Float]()
        let w = store.values(store["embedding.weight"])
        for id in ids { x += (0..<4).map { w[Int(id) * 4 + $0] } }
        XCTAssertEqual(model.graphs(ids: ids, steps: 5, batch: 2), graphs(gp, x, T: 5, B: 2))
        // The content hash is SHA-256 of config.json + model.safetensors.
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path + "/config.json")))
            + Array(try Data(contentsOf: URL(fileURLWithPath: path + "/model.safetensors")))
        XCTAssertEqual(model.contentHash, SHA256.hexDigest(of: bytes))
        XCTAssertFalse(GLoMoModelDirectory(path: path).isFinished)
    }

    func testContentHashChangesWithTheParameters() throws {
        let base = try temporaryDirectory(self)
        _ = try makeSavedModel(base + "/a", seed: 3)
        _ = try makeSavedModel(base + "/b", seed: 4)
        _ = try makeSavedModel(base + "/c", seed: 3)
        let a = try GLoMoModelDirectory(path: base + "/a").contentHash()
        XCTAssertNotEqual(a, try GLoMoModelDirectory(path: base + "/b").contentHash())
        XCTAssertEqual(a, try GLoMoModelDirectory(path: base + "/c").contentHash())
    }

    func testCopyParametersIntoAnotherStore() throws {
        let path = try temporaryDirectory(self) + "/model"
        _ = try makeSavedModel(path)
        let model = try GLoMoModelDirectory.load(at: path, maxSteps: 8)
        let other = ParameterStore()
        other.register("lm.encoder.weight", shape: [3, 3])
        other.register("glomo.embedding", shape: [6, 4])
        _ = GraphPredictor(graphConfig, store: other, prefix: "glomo.graph.", maxSteps: 4, maxBatch: 1)
        try model.copyParameters(into: other, prefix: "glomo.graph.", embeddingName: "glomo.embedding")
        XCTAssertEqual(Array(other.values(other["lm.encoder.weight"])), [Float](repeating: 0, count: 9))
        XCTAssertEqual(Array(other.values(other["glomo.embedding"])), Array(model.store.values(model.embedding)))
        XCTAssertEqual(Array(other.values(other["glomo.graph.layer1.key.weight"])),
                       Array(model.store.values(model.store["graph.layer1.key.weight"])))
        let small = ParameterStore()
        XCTAssertThrowsError(try model.copyParameters(into: small, prefix: "g.")) { e in
            XCTAssertTrue("\(e)".contains("no parameter 'g.key.conv0.weight'"), "\(e)")
        }
    }

    func testTruncatedModelIsAOneLineErrorNamingTheFile() throws {
        let path = try temporaryDirectory(self) + "/model"
        _ = try makeSavedModel(path)
        let file = path + "/model.safetensors"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.hasPrefix(file + ":"), s)
            XCTAssertFalse(s.contains("\n"), s)
        }
        try Data().write(to: URL(fileURLWithPath: file))
        XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path)) { e in XCTAssertTrue("\(e)".hasPrefix(file + ":"), "\(e)") }
        try FileManager.default.removeItem(atPath: file)
        XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path)) { e in
            XCTAssertTrue("\(e)".hasPrefix(file + ": no model.safetensors"), "\(e)")
        }
    }

    /// Loading for inference refuses NaN and infinite weights, naming model.safetensors and the
    /// tensor; finite weights so large that the graphs are not finite (a threshold bias of -1e30:
    /// every edge weight is ReLU(1e30)² = inf in Float, every row inf / inf = NaN) are refused by
    /// `finiteGraphs`, also naming the file. The old code loaded both and drew NaN graphs.
    func testNonFiniteWeightsAndGraphsAreOneLineErrorsNamingTheFile() throws {
        let path = try temporaryDirectory(self) + "/model"
        let (config, store, _) = try makeSavedModel(path)
        let file = path + "/model.safetensors"
        let query = store.values(store["graph.layer0.query.weight"])
        let saved = Array(query)
        for (value, text) in [(Float.nan, "nan"), (.infinity, "inf"), (-.infinity, "-inf")] {
            query[2] = value
            try GLoMoModelDirectory(path: path).saveModel(store, config: config)
            XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path)) { e in
                XCTAssertEqual("\(e)", "\(file): graph.layer0.query.weight holds a \(text) value at element 2 (NaN and infinite weights are refused)")
            }
        }
        for i in query.indices { query[i] = saved[i] }
        try GLoMoModelDirectory(path: path).saveModel(store, config: config)
        let ids: [Int32] = [2, 3, 4, 5]
        let good = try GLoMoModelDirectory.load(at: path, maxSteps: 4)
        XCTAssertEqual(try good.finiteGraphs(ids: ids, steps: 4, batch: 1), good.graphs(ids: ids, steps: 4, batch: 1))
        store.values(store["graph.layer0.threshold.bias"])[0] = -1e30
        try GLoMoModelDirectory(path: path).saveModel(store, config: config)
        let huge = try GLoMoModelDirectory.load(at: path, maxSteps: 4)
        XCTAssertTrue(huge.graphs(ids: ids, steps: 4, batch: 1).contains { !$0.isFinite }, "the premise: the graphs overflow")
        XCTAssertThrowsError(try huge.finiteGraphs(ids: ids, steps: 4, batch: 1)) { e in
            XCTAssertEqual("\(e)", "\(file): the graphs of this text are not finite (NaN or infinite): the weights are finite but too large")
        }
    }

    func testConfigNotMatchingTheTensors() throws {
        let path = try temporaryDirectory(self) + "/model"
        let (config, _, _) = try makeSavedModel(path)
        var other = config
        other.graph.headSize = 4  // the saved projections are [K·3, C]
        try GLoMoModelDirectory(path: path).writeConfig(other)
        XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path)) { e in
            XCTAssertEqual("\(e)", path + "/model.safetensors: does not match config.json: parameter 'graph.layer0.query.weight' is [8, 5] F32, checkpoint has [6, 5] F32")
        }
        other = config
        other.embeddingSize = 5
        other.graph.embeddingSize = 5
        try GLoMoModelDirectory(path: path).writeConfig(other)
        XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path)) { e in
            XCTAssertTrue("\(e)".hasPrefix(path + "/model.safetensors: does not match config.json: parameter 'embedding.weight'"), "\(e)")
        }
        other = config
        other.embeddingSize = 5  // inconsistent with graph.embeddingSize
        try GLoMoModelDirectory(path: path).writeConfig(other)
        XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path)) { e in
            XCTAssertEqual("\(e)", path + "/config.json: embeddingSize 5 differs from graph.embeddingSize 4")
        }
        try Data("{\"format\": \"lmtool-glomo-1\"}".utf8).write(to: URL(fileURLWithPath: path + "/config.json"))
        XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path)) { e in
            XCTAssertTrue("\(e)".hasPrefix(path + "/config.json: not a GLoMo model configuration: missing field"), "\(e)")
        }
    }

    func testVocabularyMismatchAndMissingDirectory() throws {
        let path = try temporaryDirectory(self) + "/model"
        _ = try makeSavedModel(path)
        try Data("<unk>\t0\n<eos>\t5\na\t9\nb\t7\nc\t4\ne\t2\n".utf8).write(to: URL(fileURLWithPath: path + "/vocab.txt"))
        XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path)) { e in
            XCTAssertTrue("\(e)".hasPrefix(path + "/vocab.txt: vocabulary hash"), "\(e)")
        }
        XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path + "/nowhere")) { e in
            XCTAssertEqual("\(e)", path + "/nowhere: not a GLoMo model directory (no config.json)")
        }
    }

    func testCreateRefusesToReplaceWithoutForce() throws {
        let path = try temporaryDirectory(self) + "/model"
        let (config, _, _) = try makeSavedModel(path)
        XCTAssertThrowsError(try GLoMoModelDirectory.create(at: path, config: config, vocabulary: try tinyVocabulary())) { e in
            XCTAssertTrue("\(e)".contains("already holds a GLoMo model"), "\(e)")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "/model.safetensors"))
        _ = try GLoMoModelDirectory.create(at: path, config: config, vocabulary: try tinyVocabulary(), force: true)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "/model.safetensors"))
    }

    func testMetricsAndSummary() throws {
        let path = try temporaryDirectory(self) + "/model"
        _ = try makeSavedModel(path)
        let dir = GLoMoModelDirectory(path: path)
        let r1 = GLoMoMetricsRecord(step: 10, epoch: 1, split: "train", loss: 4.5, tokensPerSecond: 1000, elapsedSeconds: 2)
        let r2 = GLoMoMetricsRecord(step: 10, epoch: 1, split: "valid", loss: 4.75, tokensPerSecond: nil, elapsedSeconds: 2.5)
        try dir.appendMetrics(r1)
        try dir.appendMetrics(r2)
        XCTAssertEqual(try dir.readMetrics(), [r1, r2])
        let line = try String(contentsOfFile: dir.metricsPath, encoding: .utf8).split(separator: "\n")[0]
        XCTAssertEqual(line, #"{"elapsed_seconds":2,"epoch":1,"loss":4.5,"split":"train","step":10,"tokens_per_second":1000}"#)
        XCTAssertNil(try dir.readSummary())
        let s = GLoMoSummary(steps: 10, epochs: 0.5, tokens: 640, seconds: 3, trainLoss: 4.5, validLoss: 4.75, parameters: 99)
        try dir.writeSummary(s)
        XCTAssertEqual(try dir.readSummary(), s)
        XCTAssertTrue(dir.isFinished)
    }

    /// A process killed mid-write leaves a torn last line; the next record is appended after
    /// cutting it, so the file stays readable (the old append wrote after the fragment).
    func testMetricsAppendAfterATornLineCutsIt() throws {
        let path = try temporaryDirectory(self) + "/model"
        _ = try makeSavedModel(path)
        let dir = GLoMoModelDirectory(path: path)
        let r1 = GLoMoMetricsRecord(step: 10, epoch: 1, split: "train", loss: 4.5, tokensPerSecond: 1000, elapsedSeconds: 2)
        let r2 = GLoMoMetricsRecord(step: 20, epoch: 1, split: "train", loss: 4.25, tokensPerSecond: 1000, elapsedSeconds: 4)
        try dir.appendMetrics(r1)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: dir.metricsPath))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"elapsed_sec"#.utf8))
        handle.closeFile()
        XCTAssertEqual(try dir.readMetrics(), [r1], "the torn line is skipped")
        try dir.appendMetrics(r2)
        XCTAssertEqual(try dir.readMetrics(), [r1, r2])
    }
}
