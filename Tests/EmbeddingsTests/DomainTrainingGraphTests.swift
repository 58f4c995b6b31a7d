import Corpus
import GLoMoGraph
import NN
import TestFixtures
import Support
import XCTest
@testable import Embeddings

/// Training a domain classifier with GLoMo graphs (`lmtool pretrain-domain --glomo DIR`).
final class DomainTrainingGraphTests: XCTestCase {
    /// The vocabulary of `separableCorpus()`, as the trainer builds it.
    func corpusTokens(_ dir: TempDir) throws -> [String] {
        let reader = try CorpusReader(paths: [try dir.write("toy.jsonl", separableCorpus())])
        return try DomainCorpus.buildVocabulary(reader, tokenization: TokenizationOptions()).tokens
    }

    /// A run with graphs learns the separable corpus, records the graph model (absolute path,
    /// content hash) and the graph shapes in config.json, keeps the pretrained graph parameters
    /// in model.safetensors unchanged, and reloads.
    func testTrainsWithPretrainedGraphsFrozenAndRecordsThem() throws {
        let dir = try TempDir()
        let graphDir = try writeRandomGraphModel(at: dir.path("glomo"), tokens: try corpusTokens(dir))
        let trainer = try makeDomainTrainer(dir, name: "run", epochs: 6, graphModel: dir.path("glomo"))
        guard case .finished(let summary) = try trainer.train(resume: false) else { return XCTFail("not finished") }
        XCTAssertEqual(summary.testAccuracy, 1.0, "test accuracy on a separable corpus")
        XCTAssertLessThan(summary.trainableParameters, summary.parameters)
        XCTAssertEqual(summary.parameters - summary.trainableParameters, trainer.model.graphs!.frozenParameterCount)

        let (_, config, _) = try DomainRunDirectory.open(at: trainer.run.path)
        XCTAssertEqual(config.graphModel?.path, dir.path("glomo"))
        XCTAssertEqual(config.graphModel?.contentHash, try graphDir.contentHash())
        XCTAssertEqual(config.model.graphs?.window, 8)
        XCTAssertEqual(config.model.graphs?.predictor.graphLayers, 2)

        // The saved graph parameters are the graph model's own (frozen), the id map the identity.
        let saved = try SafetensorsFile(contentsOf: trainer.run.modelPath).tensors
        let graphModel = try SafetensorsFile(contentsOf: graphDir.modelPath).tensors
        XCTAssertEqual(saved["glomo.embedding.weight"], graphModel["embedding.weight"])
        let predictorNames = graphModel.keys.filter { $0.hasPrefix("graph.") }
        XCTAssertFalse(predictorNames.isEmpty)
        for name in predictorNames { XCTAssertEqual(saved["glomo." + name], graphModel[name], name) }
        let map = try saved["glomo.vocabulary_map"]!.values(as: Float.self)
        XCTAssertEqual(map, (0..<map.count).map(Float.init))
        let (best, _, _) = try DomainRunDirectory.loadModel(at: trainer.run.path)
        XCTAssertNotNil(best.graphs)
    }

    /// Stopped mid-epoch and resumed with graphs (per-token weights), the run ends with exactly
    /// the parameters of an uninterrupted one.
    func testInterruptedAndResumedRunWithGraphsMatchesUninterrupted() throws {
        let dir = try TempDir()
        try writeRandomGraphModel(at: dir.path("glomo"), tokens: try corpusTokens(dir))
        let make = { (name: String) in
            try makeDomainTrainer(dir, name: name, epochs: 2, graphModel: dir.path("glomo"), weighting: .perToken)
        }
        let straight = try make("straight")
        _ = try straight.train(resume: false)
        let first = try make("stopped")
        guard case .stopped = try first.train(resume: false, stop: SessionStop(stepLimit: 11)) else {
            return XCTFail("expected a stop")
        }
        let (run, config, vocab) = try DomainRunDirectory.open(at: dir.path("stopped"))
        let resumed = DomainClassifierTrainer(run: run, config: config, vocabulary: vocab, data: first.data)
        guard case .finished = try resumed.train(resume: true) else { return XCTFail("not finished") }
        let a = try SafetensorsFile(contentsOf: straight.run.modelPath)
        let b = try SafetensorsFile(contentsOf: resumed.run.modelPath)
        XCTAssertTrue(straight.model.parameters.views.contains { $0.name == "glomo.mix.weight" })
        for view in straight.model.parameters.views {
            XCTAssertEqual(a.tensors[view.name], b.tensors[view.name], view.name)
        }
    }

    /// A graph model that changed after the run was configured is refused (before training), and
    /// one that shares no word with the corpus is refused when preparing the run.
    func testChangedOrForeignGraphModelIsRefused() throws {
        let dir = try TempDir()
        try writeRandomGraphModel(at: dir.path("glomo"), tokens: try corpusTokens(dir), seed: 1)
        let trainer = try makeDomainTrainer(dir, name: "run", epochs: 1, graphModel: dir.path("glomo"))
        try writeRandomGraphModel(at: dir.path("glomo2"), tokens: try corpusTokens(dir), seed: 2)
        try FileManager.default.removeItem(atPath: dir.path("glomo"))
        try FileManager.default.moveItem(atPath: dir.path("glomo2"), toPath: dir.path("glomo"))
        assertError(try trainer.train(resume: false), contains: [dir.path("glomo"), "the graph model changed since the run was configured"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: trainer.run.modelPath))

        try writeRandomGraphModel(at: dir.path("foreign"), tokens: ["<unk>", "<eos>", "zebra", "quokka"])
        let vocab = try Vocabulary(tokens: try corpusTokens(dir), counts: [Int](repeating: 1, count: try corpusTokens(dir).count))
        assertError(try DomainGraphConfig.prepare(path: dir.path("foreign"), vocabulary: vocab, weighting: .global, window: 8),
                    contains: [dir.path("foreign") + "/vocab.txt", "none of the classifier's"])
    }
}
