import Corpus
import Foundation
import NN
import Support
import XCTest
@testable import LM

/// Damaged files lmtool reads back that used to trap (or allocate without bound) instead of
/// failing with a one-line error naming the file.
final class RunFilesRegressionTests: TrainerTestCase {
    /// config.json sizes no model can have: each is refused naming config.json before anything
    /// is allocated (before: hiddenSize 0, dropout 1.5 failed a precondition, a hidden size of
    /// 10^12 trapped allocating, layers 10^12 looped building layers).
    func testConfigSizesThatCannotBuildAModelAreAClearError() throws {
        let vocabulary = try Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat"], counts: [1, 2, 5, 3])
        let config = RunConfig(model: ModelConfig(vocabularySize: 4, embeddingSize: 3, hiddenSize: 5, layers: 1, dropout: 0, initRange: 0.1),
                               training: Preset.tiny.training, corpus: .init(train: ["t.txt"]),
                               tokenization: TokenizationOptions(), vocabularyHash: vocabulary.contentHash)
        let run = try RunDirectory.create(at: directory + "/run", config: config, vocabulary: vocabulary)
        var rng = RNG(seed: 1)
        try run.saveModel(try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 2, rng: &rng), config: config)
        let text = try String(contentsOfFile: run.configPath, encoding: .utf8)
        let damages = [("\"hidden_size\" : 5", "\"hidden_size\" : 0"), ("\"hidden_size\" : 5", "\"hidden_size\" : 1000000000000"),
                       ("\"embedding_size\" : 3", "\"embedding_size\" : 9223372036854775807"), ("\"layers\" : 1", "\"layers\" : 1000000000000"),
                       ("\"dropout\" : 0", "\"dropout\" : 1.5"), ("\"vocabulary_size\" : 4", "\"vocabulary_size\" : -1"),
                       ("\"bptt\" : ", "\"bptt\" : 99999999")]
        for (old, new) in damages {
            let damaged = text.replacingOccurrences(of: old, with: new)
            XCTAssertNotEqual(damaged, text, old)
            try damaged.write(toFile: run.configPath, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try Evaluator.load(run: run.path)) { error in
                XCTAssertTrue("\(error)".hasPrefix(run.configPath + ": "), "\(error)")
                XCTAssertFalse("\(error)".contains("\n"), "\(error)")
            }
            XCTAssertThrowsError(try RunDirectory.open(at: run.path), new)
        }
        try text.write(toFile: run.configPath, atomically: true, encoding: .utf8)
        XCTAssertNoThrow(try Evaluator.load(run: run.path))
    }

    /// A `--resume` checkpoint whose counters are damaged (step Int.max, a negative window): the
    /// resumed trainer used to trap counting on (`step += 1`) or indexing windows; now the
    /// checkpoint is refused naming it, and the run's files are untouched.
    func testResumeCheckpointWithDamagedCountersIsAClearError() throws {
        let data = try writeCycleCorpus(train: 40)
        var first = request(data, epochs: 1)
        first.options.stopAfterSteps = 2
        _ = try first.prepare().train()
        let path = directory + "/run/last.safetensors"
        let saved = try SafetensorsFile(contentsOf: path)
        let json = try XCTUnwrap(saved.metadata[ResumeState.metadataKey])
        XCTAssertTrue(json.contains("\"step\":2") && json.contains("\"epoch\":0"), json)
        // (An epoch count of 10^12 would have the decaying learning rate recomputed by 10^12 multiplications.)
        for (old, new) in [("\"step\":2", "\"step\":9223372036854775807"), ("\"batchInEpoch\":2", "\"batchInEpoch\":-1"),
                           ("\"epoch\":0", "\"epoch\":1000000000000")] {
            var damaged = saved
            damaged.metadata[ResumeState.metadataKey] = json.replacingOccurrences(of: old, with: new)
            try damaged.write(to: path)
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            var resume = request(data, epochs: 1)
            resume.resume = true
            XCTAssertThrowsError(try resume.prepare().train()) { error in
                XCTAssertTrue("\(error)".hasPrefix(path + ": bad 'resume' metadata: "), "\(error)")
            }
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "the checkpoint is kept")
        }
    }

    /// test-sentences.tsv with token counts near Int.max: the report's paired bootstrap used to
    /// trap summing them; it now computes (in Double).
    func testHugeTokenCountsInTestSentencesDoNotTrapTheBootstrap() throws {
        let path = try write("test-sentences.tsv", ["tokens\tlogprob", "9223372036854775807\t-5", "9223372036854775807\t-6", "3\t-2"])
        let scores = try AblationRun.readTestSentences(path)
        XCTAssertEqual(scores.tokens.count, 3)
        let interval = Statistics.pairedBootstrap(pairs: [(scores, scores)], resamples: 20)
        XCTAssertEqual(interval.mean, 0)
    }

    /// A run made before `dimension` was recorded reads a concat table's width from the
    /// embeddings file's header: a header announcing 2^20 columns for a 5000-word vocabulary
    /// sized a [5000, 2^20] table (21 GB: the allocation failed, a trap); now refused naming the file.
    func testHugeWidthInAnEmbeddingsHeaderIsAClearError() throws {
        let file = try write("emb.vec", ["2 1048576", "the 0.5 0.25", "cat 0.1 0.2"])
        var config = RunConfig(model: ModelConfig(vocabularySize: 5000, embeddingSize: 3, hiddenSize: 5, layers: 1, dropout: 0, initRange: 0.1),
                               training: Preset.tiny.training, corpus: .init(train: ["t.txt"]), tokenization: TokenizationOptions(),
                               vocabularyHash: "ab")
        config.inputRepresentation = .init(kind: .pretrained, path: file, mode: .concat)
        var rng = RNG(seed: 1)
        XCTAssertThrowsError(try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 2, rng: &rng)) { error in
            XCTAssertTrue("\(error)".hasPrefix(file + ": "), "\(error)")
            XCTAssertFalse("\(error)".contains("\n"), "\(error)")
        }
    }

    /// An ablation spec with a damaged seed count used to plan one training run per seed and
    /// arm (10^12 of them: memory ran out); now refused.
    func testHugeSeedCountInAnAblationSpecIsRefused() throws {
        let corpus = try write("corpus.txt", ["the cat sat"])
        let spec = try write("spec.json", ["{\"corpus\": [\"\(corpus)\"], \"sources\": [\"random\"], \"seeds\": 1000000000000}"])
        let loaded = try AblationSpec.load(from: spec)
        XCTAssertThrowsError(try AblationPlan(spec: loaded, results: directory + "/results")) { error in
            XCTAssertEqual("\(error)", "\(spec): --seeds must be at most 1000, got 1000000000000")
        }
    }
}
