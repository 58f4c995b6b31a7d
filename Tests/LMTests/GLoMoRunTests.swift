import Corpus
import Foundation
import GLoMoGraph
import NN
import TestFixtures
import XCTest
@testable import LM

/// `InputFactory` with `config.glomo`: preparing, building, initialising, saving and loading a
/// run that uses a pretrained GLoMo graph model, and the errors for models that do not fit.
final class GLoMoRunTests: XCTestCase {
    var root = ""

    override func setUpWithError() throws {
        root = NSTemporaryDirectory() + "lm-glomo-run-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: root) }

    let lmVocabulary = try! Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat", "zebra"], counts: [1, 4, 5, 3, 2])

    /// Writes a small random graph model (vocabulary: <unk> <eos> cat the dog) to `root/name`.
    @discardableResult
    func makeGraphModel(_ name: String = "glomo", tokens: [String] = ["<unk>", "<eos>", "cat", "the", "dog"]) throws -> GLoMoModelDirectory {
        try writeRandomGraphModel(at: root + "/" + name, tokens: tokens)
    }

    func runConfig(on: GLoMoSite = .hidden, path: String? = nil) -> RunConfig {
        RunConfig(model: ModelConfig(vocabularySize: lmVocabulary.count, embeddingSize: 3, hiddenSize: 4, layers: 1,
                                     dropout: 0, initRange: 0.1),
                  training: TrainingConfig(bptt: 3, batchSize: 2, learningRate: 1, clip: 0.25, schedule: .constant, epochs: 1),
                  corpus: .init(train: ["t.txt"]), tokenization: TokenizationOptions(),
                  vocabularyHash: lmVocabulary.contentHash,
                  glomo: .init(path: path ?? root + "/glomo", contentHash: "", on: on))
    }

    func testPrepareMakeInitializeSaveAndLoad() throws {
        let dir = try makeGraphModel()
        var config = runConfig()
        try InputFactory.prepare(&config, vocabulary: lmVocabulary)
        XCTAssertEqual(config.glomo?.contentHash, try dir.contentHash())
        XCTAssertTrue(config.glomo?.path.hasPrefix("/") == true)
        var rng = RNG(seed: 1)
        let model = try RunDirectory.makeModel(config: config, batchSize: 2, maxSteps: 3, rng: &rng)
        let glomo = try XCTUnwrap(model.glomo)
        XCTAssertEqual(glomo.site, .hidden)
        XCTAssertEqual(glomo.config.context, 3)   // the bptt length
        let lines = try InputFactory.initialize(model, config: config, vocabulary: lmVocabulary)
        XCTAssertEqual(lines.count, 1)
        XCTAssertTrue(lines[0].contains("2 of 3 vocabulary words found"), lines[0])   // <eos>, the, cat
        XCTAssertEqual(glomo.currentVocabularyMap, [0, 1, 3, 2, 0])
        // The pretrained values were copied: the graph embedding equals the file's.
        let graphModel = try GLoMoModelDirectory.load(at: dir.path)
        XCTAssertEqual(Array(model.store.values(glomo.embedding)), Array(graphModel.store.values(graphModel.embedding)))
        let name = "glomo.graph.layer1.query.weight"
        XCTAssertEqual(Array(model.store.values(model.store[name])),
                       Array(graphModel.store.values(graphModel.store["graph.layer1.query.weight"])))
        // Save and load the run: identical parameters (map and predictor included) and scores.
        let run = try RunDirectory.create(at: root + "/run", config: config, vocabulary: lmVocabulary)
        try run.saveModel(model, config: config)
        let loaded = try run.loadModel(config: config, batchSize: 2, maxSteps: 3)
        XCTAssertEqual(loaded.store.copyOfValues(), model.store.copyOfValues())
        let x: [Int32] = [2, 3, 4, 1, 0, 2], y: [Int32] = [3, 4, 1, 0, 2, 2]
        var r1 = RNG(seed: 2), r2 = RNG(seed: 2)
        model.resetState()
        XCTAssertEqual(model.forward(inputs: x, targets: y, steps: 3, training: false, rng: &r1).lossSum,
                       loaded.forward(inputs: x, targets: y, steps: 3, training: false, rng: &r2).lossSum)
    }

    func testEmbeddingsSiteMixesInputVectors() throws {
        try makeGraphModel()
        var config = runConfig(on: .embeddings)
        try InputFactory.prepare(&config, vocabulary: lmVocabulary)
        var rng = RNG(seed: 1)
        let model = try RunDirectory.makeModel(config: config, batchSize: 2, maxSteps: 3, rng: &rng)
        XCTAssertEqual(model.glomo?.site, .embeddings)
        XCTAssertEqual(model.glomo?.featureSize, 3)
    }

    func testConfigWithoutWeightsReadsAsGlobal() throws {
        let old = #"{"path": "/g", "contentHash": "abc", "on": "hidden"}"#
        let use = try JSONDecoder().decode(RunConfig.GLoMoUse.self, from: Data(old.utf8))
        XCTAssertEqual(use, RunConfig.GLoMoUse(path: "/g", contentHash: "abc", on: .hidden, weights: .global))
        let perToken = try JSONDecoder().decode(RunConfig.GLoMoUse.self, from: Data(#"{"path": "/g", "contentHash": "abc", "on": "hidden", "weights": "per-token"}"#.utf8))
        XCTAssertEqual(perToken.weights, .perToken)
    }

    func testMissingDirectoryNamesIt() {
        var config = runConfig(path: root + "/nowhere")
        XCTAssertThrowsError(try InputFactory.prepare(&config, vocabulary: lmVocabulary)) { error in
            XCTAssertEqual("\(error)", "\(root)/nowhere: not a GLoMo model directory (no config.json)")
        }
    }

    func testDisjointVocabularyIsRefused() throws {
        let dir = try makeGraphModel("other", tokens: ["<unk>", "<eos>", "Katze", "Hund"])
        var config = runConfig(path: dir.path)
        XCTAssertThrowsError(try InputFactory.prepare(&config, vocabulary: lmVocabulary)) { error in
            XCTAssertEqual("\(error)", "\(dir.vocabularyPath): none of the LM's 3 words (besides <unk> and <eos>) is in the graph model's vocabulary (another tokenization?)")
        }
    }

    func testCorruptModelFileIsAOneLineError() throws {
        let dir = try makeGraphModel()
        let data = try Data(contentsOf: URL(fileURLWithPath: dir.modelPath))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: dir.modelPath))
        var config = runConfig()
        XCTAssertThrowsError(try InputFactory.prepare(&config, vocabulary: lmVocabulary)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(dir.modelPath + ":"), text)
            XCTAssertFalse(text.contains("\n"), text)
        }
    }

    func testChangedGraphModelIsDetectedAtInitialization() throws {
        try makeGraphModel()
        var config = runConfig()
        try InputFactory.prepare(&config, vocabulary: lmVocabulary)
        config.glomo?.contentHash = "feedface"
        var rng = RNG(seed: 1)
        let model = try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 2, rng: &rng)
        XCTAssertThrowsError(try InputFactory.initialize(model, config: config, vocabulary: lmVocabulary)) { error in
            XCTAssertTrue("\(error)".contains("the GLoMo model changed since the run was configured"), "\(error)")
        }
    }
}
