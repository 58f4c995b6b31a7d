import Corpus
import Embeddings
import Foundation
import GLoMoGraph
import XCTest
@testable import LM

/// `config.json` files written before the `version` field existed still load, with the values
/// they hold. Fixtures/config-unversioned holds one of each kind, written by `lmtool` at
/// 55ab9d0 (the commands are in its README.md): LM runs with random, frozen, finetune and concat
/// input, an adaptive softmax with sentence batching, GLoMo graphs; domain-classifier runs with
/// and without graphs; a GLoMo graph model. The expected values are read off the files by eye.
final class ConfigFixtureTests: XCTestCase {
    var dir: String!
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/config-unversioned").path

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("config-fixtures-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// The LM run configuration in fixture `name`, read as a run directory reads it.
    func runConfig(_ name: String) throws -> RunConfig {
        let run = RunDirectory(path: dir + "/" + name)
        try FileManager.default.createDirectory(atPath: run.path, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: fixtures + "/" + name + ".json", toPath: run.configPath)
        return try run.readConfig()
    }

    func testLMRunsOfEachInputKindAndSoftmaxLoad() throws {
        let random = try runConfig("lm-random-full")
        XCTAssertEqual(random.version, 1)
        XCTAssertEqual(random.inputRepresentation, RunConfig.InputSource(kind: .random))
        XCTAssertNil(random.glomo)
        XCTAssertNil(random.model.softmax)
        XCTAssertEqual(random.model, ModelConfig(vocabularySize: 14, embeddingSize: 8, hiddenSize: 8, layers: 1, dropout: 0,
                                                 tieWeights: false, initRange: 0.1))
        XCTAssertEqual(random.training.batching, .discourse)
        XCTAssertEqual(random.training.optimizer, .sgd)
        XCTAssertEqual(random.training.schedule, .plateau(factor: 0.25))
        XCTAssertEqual(random.training.bptt, 4)
        XCTAssertEqual(random.training.batchSize, 2)
        XCTAssertEqual(random.training.learningRate, 20)
        XCTAssertEqual(random.training.clip, 0.25)
        XCTAssertEqual(random.training.epochs, 1)
        XCTAssertEqual(random.training.seed, 1)
        XCTAssertEqual(random.corpus, .init(train: ["toy.jsonl"], valid: ["toy.jsonl"], test: ["toy.jsonl"]))
        XCTAssertEqual(random.tokenization.tokenizer, .whitespace)
        XCTAssertEqual(random.vocabularyHash, "99e22aaa52063f6a")

        let frozen = try runConfig("lm-pretrained-frozen")
        XCTAssertEqual(frozen.inputRepresentation, .init(kind: .pretrained, path: "dom/contextual.vec",
                                                         contentHash: "80b6117d8a8f3b339f7ef4a8b7d5b6a8d3251fa8bb7f1b5435f9a522068a234a",
                                                         frozen: true, mode: .frozen, dimension: 16))
        XCTAssertEqual(frozen.model.embeddingSize, 16)
        let finetune = try runConfig("lm-pretrained-finetune")
        XCTAssertEqual(finetune.inputRepresentation, .init(kind: .pretrained, path: "dom/embeddings.vec",
                                                           contentHash: "75f5139a48dafd7143cd823e44b175bf039a613bdfa6a6f79b7ad50fc055a1de",
                                                           frozen: false, mode: .finetune, dimension: 8))
        let concat = try runConfig("lm-pretrained-concat")
        XCTAssertEqual(concat.inputRepresentation.mode, .concat)
        XCTAssertEqual(concat.inputRepresentation.frozen, true)
        XCTAssertEqual(concat.inputRepresentation.path, "dom/embeddings.vec")

        let adaptive = try runConfig("lm-adaptive")
        XCTAssertEqual(adaptive.model.softmax, SoftmaxConfig(kind: .adaptive, cutoffs: [6], divValue: 4))
        XCTAssertEqual(adaptive.training.batching, .sentence)
        XCTAssertEqual(adaptive.training.optimizer, .adam)
        XCTAssertEqual(adaptive.training.learningRate, 0.01)
        XCTAssertEqual(adaptive.training.schedule, .decayAfter(epoch: 1, factor: 0.5))

        let glomo = try runConfig("lm-glomo")
        XCTAssertEqual(glomo.glomo, .init(path: "/tmp/fx/g", contentHash: "5c23e0bf1777bcf9a865e87d73c8a875fd5a83003fab53cf3e390e81d610239b",
                                          on: .hidden, weights: .perToken))
        XCTAssertEqual(glomo.inputRepresentation.kind, .random)
    }

    /// Written back, a fixture gains `"version": 1` and otherwise reads back the same.
    func testAnUnversionedConfigIsWrittenBackWithVersion1() throws {
        for name in ["lm-random-full", "lm-pretrained-concat", "lm-adaptive", "lm-glomo"] {
            let config = try runConfig(name)
            let run = RunDirectory(path: dir + "/" + name)
            try run.writeConfig(config)
            let text = try String(contentsOfFile: run.configPath, encoding: .utf8)
            XCTAssertTrue(text.contains("\n  \"version\" : 1,\n  \"vocabulary_hash\""), text)
            XCTAssertEqual(try run.readConfig(), config, name)
            let original = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + name + ".json"))) as? NSDictionary
            var written = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
            XCTAssertEqual(written.removeValue(forKey: "version") as? Int, 1)
            XCTAssertEqual(NSDictionary(dictionary: written), original, "\(name): only the version is new")
        }
    }

    /// A version this build does not know is refused with one line naming the file and the field.
    func testAnUnknownVersionIsRefused() throws {
        let run = RunDirectory(path: dir + "/v")
        try FileManager.default.createDirectory(atPath: run.path, withIntermediateDirectories: true)
        let text = try String(contentsOfFile: fixtures + "/lm-random-full.json", encoding: .utf8)
        for version in ["2", "0"] {
            try text.replacingOccurrences(of: "{\n  \"corpus\"", with: "{\n  \"version\" : \(version),\n  \"corpus\"")
                .write(toFile: run.configPath, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try run.readConfig()) { error in
                XCTAssertEqual("\(error)", "\(run.configPath): not a run configuration: version \(version) is not one this lmtool reads (1 to 1; a newer lmtool wrote it?) at version")
            }
        }
    }

    func testDomainClassifierRunsLoad() throws {
        let run = DomainRunDirectory(path: dir)
        let plain = try run.readJSON(DomainRunConfig.self, from: fixtures + "/domain-classifier.json")
        XCTAssertEqual(plain.kind, "domain-classifier")
        XCTAssertEqual(plain.domains, ["fruit", "tools"])
        XCTAssertEqual(plain.corpus, ["toy.jsonl"])
        XCTAssertEqual(plain.examples, ["train": 40, "valid": 10, "test": 10])
        XCTAssertEqual(plain.minOccurrences, 1)
        XCTAssertEqual(plain.model.vocabularySize, 14)
        XCTAssertEqual(plain.model.embeddingSize, 8)
        XCTAssertEqual(plain.model.hiddenSize, 8)
        XCTAssertEqual(plain.model.classCount, 2)
        XCTAssertEqual(plain.model.pooling, .mean)
        XCTAssertEqual(plain.model.embeddingInitRange, 0.1)
        XCTAssertNil(plain.model.graphs)
        XCTAssertNil(plain.graphModel)
        XCTAssertEqual(plain.training.granularity, .paragraph)
        XCTAssertEqual(plain.training.batchSize, 8)
        XCTAssertEqual(plain.training.learningRate, 0.02)
        XCTAssertEqual(plain.training.maxLength, 128)
        XCTAssertEqual(plain.vocabularyHash, "99e22aaa52063f6a")

        let graphs = try run.readJSON(DomainRunConfig.self, from: fixtures + "/domain-classifier-glomo.json")
        XCTAssertEqual(graphs.graphModel?.path, "/tmp/fx/g")
        XCTAssertEqual(graphs.graphModel?.contentHash, "5c23e0bf1777bcf9a865e87d73c8a875fd5a83003fab53cf3e390e81d610239b")
        XCTAssertEqual(graphs.model.graphs?.weighting, .perToken)
        XCTAssertEqual(graphs.model.graphs?.window, 6)
        XCTAssertEqual(graphs.model.graphs?.graphVocabularySize, 14)
        XCTAssertEqual(graphs.model.graphs?.predictor.heads, 2)
        XCTAssertEqual(graphs.training.granularity, .sentence)
        XCTAssertEqual(graphs.tokenization.splitSentences, true)
    }

    /// A domain-classifier `config.json` is read through the run's checks: an unknown granularity
    /// (before it was an enum it trained silently as `paragraph`) and a version this build does not
    /// know are refused with one line naming the file, and the field; an unversioned file reads
    /// (version nil, the same format as 1), and a new run's configuration is written with version 1.
    func testDomainClassifierConfigRefusesUnknownGranularityAndVersion() throws {
        let run = DomainRunDirectory(path: dir + "/d")
        try FileManager.default.createDirectory(atPath: run.path, withIntermediateDirectories: true)
        let text = try String(contentsOfFile: fixtures + "/domain-classifier.json", encoding: .utf8)
        try text.write(toFile: run.configPath, atomically: true, encoding: .utf8)
        let unversioned = try run.readConfig()
        XCTAssertNil(unversioned.version)
        XCTAssertEqual(unversioned.training.granularity, .paragraph)
        try run.writeConfig(DomainRunConfig(model: unversioned.model, training: unversioned.training, domains: unversioned.domains,
                                            tokenization: unversioned.tokenization, corpus: unversioned.corpus,
                                            vocabularyHash: unversioned.vocabularyHash))
        XCTAssertTrue(try String(contentsOfFile: run.configPath, encoding: .utf8).contains("\n  \"version\" : 1,\n  \"vocabulary_hash\""))
        XCTAssertEqual(try run.readConfig().version, 1)

        try text.replacingOccurrences(of: "\"granularity\" : \"paragraph\"", with: "\"granularity\" : \"word\"")
            .write(toFile: run.configPath, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try run.readConfig()) { error in
            XCTAssertEqual("\(error)", "\(run.configPath): not a domain-classifier run configuration: unknown value \"word\" (expected one of paragraph, sentence) at training.granularity")
        }
        for version in ["2", "0"] {
            try text.replacingOccurrences(of: "\"kind\" : \"domain-classifier\",", with: "\"kind\" : \"domain-classifier\",\n  \"version\" : \(version),")
                .write(toFile: run.configPath, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try run.readConfig()) { error in
                XCTAssertEqual("\(error)", "\(run.configPath): version \(version) is not one this lmtool reads (1 to 1; a newer lmtool wrote it?)")
            }
        }
    }

    func testGLoMoModelLoads() throws {
        let directory = GLoMoModelDirectory(path: dir)
        try FileManager.default.copyItem(atPath: fixtures + "/glomo-model.json", toPath: directory.configPath)
        let config = try directory.readConfig()
        XCTAssertEqual(config.format, "lmtool-glomo-1")
        XCTAssertEqual(config.vocabularySize, 14)
        XCTAssertEqual(config.embeddingSize, 8)
        XCTAssertEqual(config.graph.heads, 2)
        XCTAssertEqual(config.graph.headSize, 4)
        XCTAssertEqual(config.graph.graphLayers, 2)
        XCTAssertEqual(config.graph.convLayers, 1)
        XCTAssertEqual(config.pretraining.sequenceLength, 8)
        XCTAssertEqual(config.pretraining.batchSize, 4)
        XCTAssertEqual(config.pretraining.positionsPerSequence, 4)
        XCTAssertEqual(config.pretraining.steps, 3)
        XCTAssertEqual(config.corpus, ["toy.jsonl"])
        XCTAssertEqual(config.vocabularyHash, "99e22aaa52063f6a")
    }
}
