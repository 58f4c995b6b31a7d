import Corpus
import Foundation
import NN
import XCTest
@testable import LM

/// Data selection, `--train-tokens`, schedules and configuration checks.
final class TrainerDataTests: TrainerTestCase {
    func testCorpusPathsRoundTripThroughTheRunConfiguration() throws {
        let s = CorpusSelection(corpus: ["c1", "c2"], train: ["t"], valid: ["v"], test: [])
        XCTAssertEqual(s.runPaths, RunConfig.CorpusPaths(train: ["c1", "c2", "t"], valid: ["c1", "c2", "v"], test: ["c1", "c2"]))
        let back = CorpusSelection(paths: s.runPaths, tokenization: TokenizationOptions())
        XCTAssertEqual([back.corpus, back.train, back.valid, back.test], [["c1", "c2"], ["t"], ["v"], []])
        XCTAssertNoThrow(try s.check())
        XCTAssertThrowsError(try CorpusSelection(train: ["x"], valid: ["x"], test: ["x"]).check()) { error in
            XCTAssertEqual("\(error)", "x is given as data.train, data.valid and data.test: use data.corpus x to split it by records")
        }
        XCTAssertThrowsError(try CorpusSelection(train: ["t"]).check()) { error in
            XCTAssertEqual("\(error)", "no validation data: give data.valid PATH, or data.corpus PATH to split a corpus by records")
        }
        XCTAssertThrowsError(try CorpusSelection(corpus: ["c"], valid: ["c"]).check())
    }

    func testCorpusSplitByRecordsAndExplicitFilesAreConcatenated() throws {
        // JSONL records carry their split; explicit training files follow the corpus's records.
        let jsonl = try write("c.jsonl", [
            #"{"text": "a b", "split": "train"}"#, #"{"text": "c", "split": "valid"}"#,
            #"{"text": "d e f", "split": "test"}"#, #"{"text": "g", "split": "train"}"#,
        ])
        let extra = try write("extra.txt", ["h i"])
        let selection = CorpusSelection(corpus: [jsonl], train: [extra])
        let vocabulary = try selection.buildVocabulary()
        // Built from the training split only: a b g h i, plus <unk> and <eos>.
        XCTAssertEqual(Set(vocabulary.tokens), ["<unk>", "<eos>", "a", "b", "g", "h", "i"])
        let train = try selection.load(.train, vocabulary: vocabulary)
        XCTAssertEqual(train.ids.map { vocabulary.token($0) }, ["a", "b", "<eos>", "g", "<eos>", "h", "i", "<eos>"])
        XCTAssertEqual(train.sentenceEnds, [3, 5, 8])
        let test = try selection.load(.test, vocabulary: vocabulary)
        XCTAssertEqual(test.ids.map { vocabulary.token($0) }, ["<unk>", "<unk>", "<unk>", "<eos>"])
        XCTAssertEqual(test.outOfVocabularyCount, 3)
    }

    /// Blank lines are sentences of one `<eos>` (id 1): dropped, the rest kept in order.
    func testDroppingBlankLinesKeepsEveryOtherSentence() {
        let data = EncodedCorpus(ids: [1, 5, 6, 1, 1, 1, 7, 1, 1], sentenceEnds: [1, 4, 5, 6, 8, 9], outOfVocabularyCount: 2)
        let kept = data.droppingBlankLines()
        XCTAssertEqual(kept.ids, [5, 6, 1, 7, 1])
        XCTAssertEqual(kept.sentenceEnds, [3, 5])
        XCTAssertEqual(kept.outOfVocabularyCount, 2)
    }

    /// `Evaluator.byDomain` sums each sentence into its record's domain: several sentences
    /// per record (sentence splitting), a blank record (a sentence of its own in record mode,
    /// none in sentence mode or after `droppingBlankLines`); nil as soon as a sentence has no
    /// domain (a plain-text file among the test files). Sentence scores chosen by hand.
    func testByDomainSumsEachSentenceIntoItsRecordsDomain() throws {
        let jsonl = try write("d.jsonl", [
            #"{"text": "a b. C d", "domain": "x", "split": "test"}"#, #"{"text": "", "domain": "y", "split": "test"}"#,
            #"{"text": "e", "domain": "z", "split": "test"}"#,
        ])
        let vocabulary = try Vocabulary(tokens: ["<unk>", "<eos>", "a"], counts: [1, 1, 1])
        func result(_ data: EncodedCorpus, _ logProbabilities: [Double]) -> EvaluationResult {
            XCTAssertEqual(logProbabilities.count, data.sentenceCount)
            return EvaluationResult(lossSum: 0, tokenCount: data.tokenCount,
                                    sentences: logProbabilities.enumerated().map { (data.sentenceLength($0.offset), $0.element) })
        }
        // Record mode: "a b . C d <eos>" (6 tokens), "<eos>", "e <eos>".
        let records = try CorpusSelection(corpus: [jsonl], tokenization: TokenizationOptions(tokenizer: .simple)).load(.test, vocabulary: vocabulary)
        let r = try XCTUnwrap(Evaluator.byDomain(result(records, [-6, -1, -2]), data: records))
        XCTAssertEqual(r, ["x": DomainPerplexity(sentences: 1, tokens: 6, logProbability: -6),
                           "y": DomainPerplexity(sentences: 1, tokens: 1, logProbability: -1),
                           "z": DomainPerplexity(sentences: 1, tokens: 2, logProbability: -2)])
        XCTAssertEqual(try XCTUnwrap(r["x"]).perplexity, exp(1.0), accuracy: 1e-12)
        let kept = records.droppingBlankLines()
        XCTAssertEqual(Evaluator.byDomain(result(kept, [-6, -2]), data: kept)?.keys.sorted(), ["x", "z"])
        // Sentence splitting: "a b . <eos>" and "C d <eos>" are both x's; the blank record yields none.
        let split = try CorpusSelection(corpus: [jsonl], tokenization: TokenizationOptions(tokenizer: .simple, splitSentences: true))
            .load(.test, vocabulary: vocabulary)
        let s = try XCTUnwrap(Evaluator.byDomain(result(split, [-4, -3, -2]), data: split))
        XCTAssertEqual(s, ["x": DomainPerplexity(sentences: 2, tokens: 7, logProbability: -7),
                           "z": DomainPerplexity(sentences: 1, tokens: 2, logProbability: -2)])
        // A plain-text test file after the JSONL records: no per-domain figures at all.
        let mixed = try CorpusSelection(corpus: [jsonl], test: [try write("p.txt", ["f g"])],
                                        tokenization: TokenizationOptions(tokenizer: .simple)).load(.test, vocabulary: vocabulary)
        XCTAssertNil(Evaluator.byDomain(result(mixed, [-6, -1, -2, -3]), data: mixed))
    }

    func testPrefixKeepsWholeSentences() {
        let data = EncodedCorpus(ids: [5, 6, 1, 7, 1, 8, 9, 4, 1], sentenceEnds: [3, 5, 9])
        XCTAssertEqual(data.prefix(tokens: 4).ids, [5, 6, 1])
        XCTAssertEqual(data.prefix(tokens: 5).ids, [5, 6, 1, 7, 1])
        XCTAssertEqual(data.prefix(tokens: 5).sentenceEnds, [3, 5])
        XCTAssertEqual(data.prefix(tokens: 2).ids, [])
        XCTAssertEqual(data.prefix(tokens: 100), data)
    }

    func testScheduleArguments() throws {
        XCTAssertEqual(try TrainingConfig.Schedule(parsing: "constant"), .constant)
        XCTAssertEqual(try TrainingConfig.Schedule(parsing: "decay:4:0.5"), .decayAfter(epoch: 4, factor: 0.5))
        XCTAssertEqual(try TrainingConfig.Schedule(parsing: "plateau:0.25"), .plateau(factor: 0.25))
        for bad in ["", "decay:4", "decay:x:0.5", "decay:4:0", "plateau:-1", "plateau", "constant:1", "linear"] {
            XCTAssertThrowsError(try TrainingConfig.Schedule(parsing: bad), bad) { error in
                XCTAssertTrue("\(error)".hasPrefix("--schedule '\(bad)': expected constant, decay:EPOCH:FACTOR"), "\(error)")
            }
        }
        XCTAssertEqual(TrainingConfig.Schedule.decayAfter(epoch: 6, factor: 0.8).argument, "decay:6:0.8")
    }

    func testBadSettingsAreOneLineErrorsNamingTheField() throws {
        let data = try writeCycleCorpus()
        var r = request(data)
        r.overrides.dropout = 1
        XCTAssertThrowsError(try r.prepare()) { XCTAssertEqual("\($0)", "model.dropout must be in [0, 1), got 1.0") }
        r = request(data, optimizer: .adam, momentum: 0.9)
        XCTAssertThrowsError(try r.prepare()) { XCTAssertEqual("\($0)", "training.momentum applies to training.optimizer sgd only") }
        r = request(data)
        r.overrides.bptt = 0
        XCTAssertThrowsError(try r.prepare()) { XCTAssertEqual("\($0)", "training.bptt must be at least 1, got 0") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: r.runPath), "nothing is written for a bad setting")
        r = request(data)
        r.overrides.batchSize = 1000
        XCTAssertThrowsError(try r.prepare()) { error in
            XCTAssertTrue("\(error)".hasSuffix("is too small for --batch-size 1000: discourse batching needs at least 2 tokens per column"), "\(error)")
        }
        r = request(data)
        r.trainTokens = 2   // every sentence has at least 3 tokens
        XCTAssertThrowsError(try r.prepare()) { XCTAssertEqual("\($0)", "--train-tokens 2 keeps 0 tokens (whole sentences): too few to train on") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: r.runPath), "nothing is written when the data is too small")
    }

    func testPresetsAndOverrides() throws {
        var r = request(try writeCycleCorpus())
        r.preset = .small
        r.overrides = ConfigOverrides()
        r.overrides.hiddenSize = 12
        r.overrides.embeddingSize = 6
        r.overrides.epochs = 1
        let trainer = try r.prepare()
        XCTAssertEqual(trainer.config.model.hiddenSize, 12)
        XCTAssertEqual(trainer.config.model.layers, 2)                     // small
        XCTAssertEqual(trainer.config.training.bptt, 20)                   // small
        XCTAssertEqual(trainer.config.training.schedule, .decayAfter(epoch: 4, factor: 0.5))
        XCTAssertEqual(trainer.config.training.epochs, 1)
        XCTAssertEqual(try trainer.run.readConfig(), trainer.config)
    }
}
