import Corpus
import Foundation
import NN
import XCTest
@testable import LM

final class RunModelTests: XCTestCase {
    var directory = ""

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func makeRun() throws -> (RunDirectory, RunConfig) {
        directory = NSTemporaryDirectory() + "lm-run-model-\(UUID().uuidString)"
        let vocabulary = try Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat"], counts: [1, 2, 5, 3])
        let config = RunConfig(model: ModelConfig(vocabularySize: 4, embeddingSize: 3, hiddenSize: 5, layers: 2, dropout: 0, initRange: 0.1),
                               training: Preset.tiny.training, corpus: .init(train: ["t.txt"]),
                               tokenization: TokenizationOptions(), vocabularyHash: vocabulary.contentHash)
        return (try RunDirectory.create(at: directory, config: config, vocabulary: vocabulary), config)
    }

    func testSavedModelLoadsBackWithIdenticalParametersAndScores() throws {
        let (run, config) = try makeRun()
        var rng = RNG(seed: 7)
        let model = try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 4, rng: &rng)
        try run.saveModel(model, config: config)
        let loaded = try run.loadModel(config: config, batchSize: 1, maxSteps: 4)
        XCTAssertEqual(loaded.store.copyOfValues(), model.store.copyOfValues())
        XCTAssertEqual(loaded.store.views.map(\.name), model.store.views.map(\.name))
        // A fresh model from another seed differs, so the comparison above can fail.
        var other = RNG(seed: 8)
        XCTAssertNotEqual(try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 4, rng: &other).store.copyOfValues(),
                          model.store.copyOfValues())
    }

    func testLoadingWithoutAModelOrWithAnotherVocabularyIsAClearError() throws {
        let (run, config) = try makeRun()
        XCTAssertThrowsError(try run.loadModel(config: config, batchSize: 1, maxSteps: 4)) { error in
            XCTAssertTrue("\(error)".hasPrefix(run.modelPath + ": no trained model"), "\(error)")
        }
        var rng = RNG(seed: 7)
        let model = try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 4, rng: &rng)
        var otherConfig = config
        otherConfig.vocabularyHash = "0123456789abcdef"
        try run.saveModel(model, config: otherConfig)
        XCTAssertThrowsError(try run.loadModel(config: config, batchSize: 1, maxSteps: 4)) { error in
            XCTAssertEqual("\(error)", "\(run.modelPath): vocabulary hash mismatch: the model was saved with 0123456789abcdef, config.json says \(config.vocabularyHash)")
        }
    }

    func testUnknownInputRepresentationIsRefused() throws {
        XCTAssertThrowsError(try InputFactory.make(.init(kind: "telepathy"), model: Preset.tiny.model(vocabularySize: 4))) { error in
            XCTAssertEqual("\(error)", "unknown input representation \"telepathy\"")
        }
        // A damaged config.json's string is quoted with escapes: the error stays one line.
        XCTAssertThrowsError(try InputFactory.make(.init(kind: "tele\npathy"), model: Preset.tiny.model(vocabularySize: 4))) { error in
            XCTAssertEqual("\(error)", #"unknown input representation "tele\npathy""#)
        }
    }
}
