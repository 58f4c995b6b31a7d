import Support
import XCTest
import NN
import Corpus
import GLoMoGraph
@testable import Embeddings

/// A separable two-domain JSONL corpus: domain "fruit" uses only fruit words, "tools" only tool
/// words; 60 train, 10 valid, 10 test documents of 3–8 words.
func separableCorpus() -> String {
    var rng = RNG(seed: 42)
    let words = ["fruit": ["apple", "pear", "plum", "fig", "lime"], "tools": ["saw", "nail", "drill", "file", "vise"]]
    var lines: [String] = []
    for i in 0..<80 {
        let domain = i % 2 == 0 ? "fruit" : "tools"
        let text = (0..<(3 + rng.int(below: 6))).map { _ in words[domain]![rng.int(below: 5)] }.joined(separator: " ")
        let split = i < 60 ? "train" : (i < 70 ? "valid" : "test")
        lines.append("{\"text\": \"\(text)\", \"domain\": \"\(domain)\", \"split\": \"\(split)\"}")
    }
    return lines.joined(separator: "\n") + "\n"
}

/// A trainer on `separableCorpus()` in `dir/name`; with `graphModel`, the classifier mixes
/// its states with that graph model's graphs (`weighting`, windows of 8 = the training cut).
func makeDomainTrainer(_ dir: TempDir, name: String, epochs: Int, graphModel: String? = nil,
                 weighting: GraphMixWeighting = .global, patience: Int? = nil) throws -> DomainClassifierTrainer {
    let path = try dir.write("toy.jsonl", separableCorpus())
    let reader = try CorpusReader(paths: [path])
    let tokenization = TokenizationOptions()
    let vocab = try DomainCorpus.buildVocabulary(reader, tokenization: tokenization)
    let data = try DomainCorpus(reader, vocabulary: vocab, tokenization: tokenization)
    var config = DomainRunConfig(
        model: DomainClassifierConfig(vocabularySize: vocab.count, embeddingSize: 8, hiddenSize: 8, classCount: data.domains.count),
        training: DomainTrainingConfig(granularity: .paragraph, epochs: epochs, batchSize: 8, learningRate: 0.02,
                                        maxLength: graphModel == nil ? nil : 8, seed: 7, patience: patience),
        domains: data.domains, tokenization: tokenization, corpus: [path], vocabularyHash: vocab.contentHash)
    if let graphModel {
        let prepared = try DomainGraphConfig.prepare(path: graphModel, vocabulary: vocab, weighting: weighting, window: 8)
        config.model.graphs = prepared.config
        config.graphModel = prepared.source
    }
    let run = try DomainRunDirectory.create(at: dir.path(name), config: config, vocabulary: vocab)
    return DomainClassifierTrainer(run: run, config: config, vocabulary: vocab, data: data)
}

final class DomainTrainingTests: XCTestCase {
    func testLearnsASeparableCorpusAndWritesEveryFile() throws {
        let dir = try TempDir()
        let trainer = try makeDomainTrainer(dir, name: "run", epochs: 6)
        XCTAssertEqual(trainer.data.domains, ["fruit", "tools"])
        XCTAssertEqual(trainer.data.train.count, 60)
        guard case .finished(let summary) = try trainer.train(resume: false) else { return XCTFail("not finished") }
        XCTAssertEqual(summary.testAccuracy, 1.0, "test accuracy on a separable corpus")
        XCTAssertEqual(summary.testMacroF1, 1.0)
        XCTAssertEqual(summary.epochs, 6)
        for file in trainer.run.allFiles {
            XCTAssertTrue(FileManager.default.fileExists(atPath: file), file)
        }
        let metrics = try trainer.run.readMetrics()
        XCTAssertEqual(metrics.map(\.epoch), [1, 2, 3, 4, 5, 6])
        let evaluation = try trainer.run.readJSON(DomainEvaluation.self, from: trainer.run.evaluationPath)
        XCTAssertEqual(evaluation.confusion, [[5, 0], [0, 5]])
        // The exported matrix is the trained one, and the files read back.
        let embeddings = try EmbeddingFile.read(trainer.run.embeddingsPath)
        XCTAssertEqual(embeddings.count, trainer.vocabulary.count)
        let (best, _, _) = try DomainRunDirectory.loadModel(at: trainer.run.path)
        XCTAssertEqual(embeddings.vectors, best.embeddingMatrix)
        let contextual = try EmbeddingFile.read(trainer.run.contextualPath)
        XCTAssertEqual(contextual.dimension, 16)
        XCTAssertEqual(contextual.words, trainer.vocabulary.tokens)
    }

    /// Stopping after a few batches and resuming ends with exactly the parameters of an
    /// uninterrupted run (same shuffles, Adam state and position).
    func testInterruptedAndResumedRunMatchesUninterrupted() throws {
        let dir = try TempDir()
        let straight = try makeDomainTrainer(dir, name: "straight", epochs: 2)
        _ = try straight.train(resume: false)

        let first = try makeDomainTrainer(dir, name: "stopped", epochs: 2)
        guard case .stopped(nil, let epoch, let batch) = try first.train(resume: false, stop: SessionStop(stepLimit: 11)) else {
            return XCTFail("expected a stop")
        }
        XCTAssertEqual(epoch, 1)   // 8 batches per epoch: the 12th poll is batch 4 of epoch 2
        XCTAssertEqual(batch, 3)
        XCTAssertFalse(first.run.isFinished)
        let (run, config, vocab) = try DomainRunDirectory.open(at: dir.path("stopped"))
        let resumed = DomainClassifierTrainer(run: run, config: config, vocabulary: vocab, data: first.data)
        guard case .finished = try resumed.train(resume: true) else { return XCTFail("not finished") }

        let a = try SafetensorsFile(contentsOf: straight.run.lastCheckpointPath)
        let b = try SafetensorsFile(contentsOf: resumed.run.lastCheckpointPath)
        for view in straight.model.parameters.views {
            XCTAssertEqual(a.tensors[view.name], b.tensors[view.name], view.name)
        }
        XCTAssertEqual(try resumed.run.readMetrics().map(\.epoch), [1, 2])
        XCTAssertEqual(try straight.run.readMetrics().map(\.validAccuracy), try resumed.run.readMetrics().map(\.validAccuracy))
    }

    func testCorpusWithoutDomainsIsAnErrorNamingFileAndLine() throws {
        let dir = try TempDir()
        let path = try dir.write("docs.jsonl", "{\"text\": \"a b\", \"domain\": \"x\"}\n{\"text\": \"c d\"}\n")
        let reader = try CorpusReader(paths: [path])
        assertError(try DomainCorpus.checkLabels(reader), contains: ["docs.jsonl:2:", "no \"domain\""])
        let plain = try dir.write("plain.txt", "just text\nmore text\n")
        assertError(try DomainCorpus.checkLabels(try CorpusReader(paths: [plain])), contains: ["plain.txt:1:", "domain"])
    }

    func testSingleDomainIsAnError() throws {
        let dir = try TempDir()
        let path = try dir.write("one.jsonl", "{\"text\": \"a b\", \"domain\": \"x\", \"split\": \"train\"}\n{\"text\": \"c\", \"domain\": \"x\", \"split\": \"train\"}\n")
        assertError(try DomainCorpus.checkLabels(try CorpusReader(paths: [path])), contains: ["one.jsonl", "only one domain (\"x\")"])
        let unseen = try dir.write("unseen.jsonl", "{\"text\": \"a\", \"domain\": \"x\", \"split\": \"train\"}\n{\"text\": \"b\", \"domain\": \"y\", \"split\": \"train\"}\n{\"text\": \"c\", \"domain\": \"z\", \"split\": \"test\"}\n")
        assertError(try DomainCorpus.checkLabels(try CorpusReader(paths: [unseen])), contains: ["unseen.jsonl:3:", "\"z\""])
    }
}
