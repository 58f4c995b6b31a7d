import Corpus
import Foundation
import NN
import XCTest
@testable import LM

/// The perplexities the trainer reports against independent token-by-token computations.
final class TrainerEvaluationTests: TrainerTestCase {
    /// The validation perplexity in metrics.jsonl is exp of the mean of −log p over every
    /// validation token, each computed one token at a time (`nextTokenLogProbabilities`, a full
    /// softmax) by a batch-1 copy of the best model, reading the text from its start.
    func testValidationPerplexityEqualsTheTokenByTokenComputation() throws {
        var r = request(try writeCycleCorpus(), epochs: 1, learningRate: 20, layers: 1)
        r.options.evaluationBatchSize = 1
        let trainer = try r.prepare()
        _ = try trainer.train()
        let best = try trainer.run.loadModel(config: trainer.config, batchSize: 1, maxSteps: 1)
        let logp = try Self.tokenByToken(trainer.validData.ids[...], config: trainer.config, parameters: best.store)
        XCTAssertEqual(logp.count, trainer.validData.tokenCount)
        let expected = exp(-logp.reduce(0, +) / Double(logp.count))
        let reported = try trainer.run.readMetrics().records.first { $0.split == "valid" }!.ppl
        XCTAssertEqual(reported, expected, accuracy: 1e-5 * expected)
        // And it is not a constant: an untrained model scores differently.
        var rng = RNG(seed: 1)
        let fresh = try RunDirectory.makeModel(config: trainer.config, batchSize: 1, maxSteps: 1, rng: &rng)
        let untrained = try Self.tokenByToken(trainer.validData.ids[...], config: trainer.config, parameters: fresh.store)
        XCTAssertGreaterThan(abs(exp(-untrained.reduce(0, +) / Double(untrained.count)) - expected), 0.1 * expected)
    }

    /// With B columns, each column is the text from its first target on, read from a zero state
    /// after the token before it; every token is scored exactly once.
    func testDiscourseEvaluationInColumnsScoresEveryTokenOnce() throws {
        let trainer = try request(try writeCycleCorpus(), epochs: 1).prepare()
        let ids = trainer.validData.ids, M = ids.count
        for B in [1, 3, 4] {
            var rng = RNG(seed: 0)
            let model = try RunDirectory.makeModel(config: trainer.config, batchSize: B, maxSteps: 5, rng: &rng)
            model.store.values.baseAddress!.update(from: trainer.model.store.values.baseAddress!, count: model.store.count)
            let result = Evaluator.scoreSplit(model, data: trainer.validData, batching: .discourse, perSentence: true)
            XCTAssertEqual(result.tokenCount, M)
            let L = (M + B - 1) / B
            var expected = 0.0
            var perToken: [Double] = []
            for b in 0..<B where b * L < M {
                let part = ids[(b * L)..<min((b + 1) * L, M)]
                let before = b == 0 ? Vocabulary.endOfSentenceID : ids[b * L - 1]
                let logp = try Self.tokenByToken(part, config: trainer.config, parameters: trainer.model.store, previous: before)
                expected -= logp.reduce(0, +)
                perToken += logp
            }
            XCTAssertEqual(result.lossSum, expected, accuracy: 1e-5 * expected, "B = \(B)")
            // Per-sentence sums cover every token.
            let sentences = result.sentences!
            XCTAssertEqual(sentences.map(\.tokens).reduce(0, +), M)
            XCTAssertEqual(sentences.map(\.logProbability).reduce(0, +), -expected, accuracy: 1e-5 * expected)
            XCTAssertEqual(sentences[0].logProbability, perToken[..<sentences[0].tokens].reduce(0, +), accuracy: 1e-4)
        }
    }

    /// test-sentences.tsv: one line per test sentence, its token count (with `<eos>`) and the
    /// summed log-probability, which add up to the test record's loss.
    func testTestSentencesFileMatchesTheTestRecord() throws {
        var r = request(try writeCycleCorpus(), epochs: 1)
        r.options.evaluationBatchSize = 1
        let trainer = try r.prepare()
        _ = try trainer.train()
        let lines = try String(contentsOfFile: trainer.run.testSentencesPath, encoding: .utf8).split(separator: "\n")
        let test = trainer.testData!
        XCTAssertEqual(lines.count, test.sentenceCount)
        XCTAssertEqual(lines.count, 20)
        let fields = lines.map { $0.split(separator: "\t") }
        XCTAssertEqual(fields.map { Int($0[0])! }, (0..<test.sentenceCount).map(test.sentenceLength))
        let logprob = fields.map { Double($0[1])! }
        let record = try trainer.run.readMetrics().records.last!
        XCTAssertEqual(record.split, "test")
        XCTAssertEqual(-logprob.reduce(0, +) / Double(test.tokenCount), record.loss, accuracy: 1e-6)
        // Sentence 3, token by token from the start of the text.
        let best = try trainer.run.loadModel(config: trainer.config, batchSize: 1, maxSteps: 1)
        let all = try Self.tokenByToken(test.ids[...], config: trainer.config, parameters: best.store)
        XCTAssertEqual(logprob[3], all[test.sentenceEnds[2]..<test.sentenceEnds[3]].reduce(0, +), accuracy: 1e-4)
    }

    /// A JSONL test split with domains: summary.json's `test_by_domain` holds each domain's
    /// sentences, tokens and Σ ln p — equal to the sums of its records' lines of
    /// test-sentences.tsv — and its ppl; the domains add up to the test record. Both modes (in
    /// sentence mode the blank record is no sentence). A plain-text test split writes no key,
    /// and a summary without the key (an older run) still loads.
    func testSummaryRecordsTestPerplexityByDomain() throws {
        let sentences = Self.cycleSentences(12, seed: 3)
        let domains = ["fiction", "poetry", "science"]
        var lines: [String] = [], recordDomains: [String] = [], texts: [String] = []
        for (i, s) in sentences.enumerated() {
            let text = i == 4 ? "" : s
            lines.append(#"{"domain": "\#(domains[i % 3])", "text": "\#(text)"}"#)
            recordDomains.append(domains[i % 3])
            texts.append(text)
        }
        let testFile = try write("test.jsonl", lines)
        for batching in [TrainingConfig.Batching.discourse, .sentence] {
            let data = CorpusSelection(train: [try write("train.txt", Self.cycleSentences(60, seed: 1))],
                                       valid: [try write("valid.txt", Self.cycleSentences(10, seed: 2))], test: [testFile])
            let trainer = try request(data, run: "run-\(batching)", epochs: 1, batching: batching).prepare()
            guard case .finished(let summary) = try trainer.train() else { return XCTFail("the run did not finish") }
            let byDomain = try XCTUnwrap(summary.testByDomain, "\(batching)")
            XCTAssertEqual(byDomain.keys.sorted(), domains)
            // The tsv's lines in order, one per record (the blank one is skipped in sentence mode).
            let kept = zip(recordDomains, texts).filter { batching == .discourse || !$0.1.isEmpty }.map(\.0)
            let tsv = try String(contentsOfFile: trainer.run.testSentencesPath, encoding: .utf8).split(separator: "\n").map { $0.split(separator: "\t") }
            XCTAssertEqual(tsv.count, kept.count, "\(batching)")
            for name in domains {
                let rows = zip(kept, tsv).filter { $0.0 == name }.map(\.1)
                let d = try XCTUnwrap(byDomain[name])
                XCTAssertEqual(d.sentences, rows.count, "\(batching) \(name)")
                XCTAssertEqual(d.tokens, rows.map { Int($0[0])! }.reduce(0, +), "\(batching) \(name)")
                XCTAssertEqual(d.logProbability, rows.map { Double($0[1])! }.reduce(0, +), accuracy: 1e-9, "\(batching) \(name)")
                XCTAssertEqual(d.perplexity, exp(-d.logProbability / Double(d.tokens)), accuracy: 1e-9 * d.perplexity)
            }
            let record = try trainer.run.readMetrics().records.last!
            XCTAssertEqual(record.split, "test")
            let tokens = byDomain.values.map(\.tokens).reduce(0, +)
            XCTAssertEqual(tokens, trainer.testData!.tokenCount)
            XCTAssertEqual(-byDomain.values.map(\.logProbability).reduce(0, +) / Double(tokens), record.loss, accuracy: 1e-6)
            // Written and read back.
            XCTAssertEqual(try trainer.run.readSummary(), summary)
            let json = try String(contentsOfFile: trainer.run.summaryPath, encoding: .utf8)
            XCTAssertTrue(json.contains(#""test_by_domain":{"fiction":{"log_prob":"#), json)
        }
        // Plain text: no key; an older summary without it loads.
        let plain = try request(try writeCycleCorpus(train: 60, valid: 10, test: 10), run: "plain", epochs: 1).prepare()
        guard case .finished(let s) = try plain.train() else { return XCTFail("the run did not finish") }
        XCTAssertNil(s.testByDomain)
        XCTAssertFalse(try String(contentsOfFile: plain.run.summaryPath, encoding: .utf8).contains("test_by_domain"))
        let old = #"{"epochs":1,"parameters":10,"seconds":1.5,"test_ppl":3.5,"trainable_parameters":10,"valid_ppl":4}"#
        let decoded = try JSONDecoder().decode(RunSummary.self, from: Data(old.utf8))
        XCTAssertEqual(decoded, RunSummary(validPerplexity: 4, testPerplexity: 3.5, parameters: 10, trainableParameters: 10, seconds: 1.5, epochs: 1))
    }

    /// Sentence mode has one scoring path: `Evaluator`'s streamed text (`lmtool perplexity`) scores
    /// the split's sentences with the windows and scoring step of `Evaluator.scoreSplit` (train's
    /// validation and test), so every sentence's log-probability is the same to the bit, windows split across
    /// BPTT boundaries included.
    func testSentenceModeStreamedAndSplitScoringAgreeBitwise() throws {
        let trainer = try request(try writeCycleCorpus(), epochs: 1, batching: .sentence).prepare()
        let valid = trainer.validData
        var rng = RNG(seed: 0)
        let model = try RunDirectory.makeModel(config: trainer.config, batchSize: 3, maxSteps: 2, rng: &rng)
        model.store.values.baseAddress!.update(from: trainer.model.store.values.baseAddress!, count: model.store.count)
        let result = Evaluator.scoreSplit(model, data: valid, batching: .sentence, perSentence: true)
        let evaluator = Evaluator(model: model, vocabulary: trainer.vocabulary, mode: .sentence)
        var scored: [Double] = []
        evaluator.scoreSentences((0..<valid.sentenceCount).map { valid.sentence($0).map { Evaluator.Position(id: $0, word: nil) } }) {
            scored.append($0.reduce(0.0) { $0 + $1.logProb })
        }
        XCTAssertEqual(scored.count, valid.sentenceCount)
        XCTAssertGreaterThan(valid.sentences.map(\.count).max()!, 2, "some sentence spans several windows")
        XCTAssertEqual(scored, result.sentences!.map(\.logProbability))
    }

    /// Sentence mode: each sentence is scored from a zero state after `<eos>`, and padding never
    /// counts — not in the token count, not in the loss.
    func testSentenceModeScoresEachSentenceAloneAndNeverCountsPadding() throws {
        let trainer = try request(try writeCycleCorpus(), epochs: 1, batching: .sentence).prepare()
        let valid = trainer.validData
        var rng = RNG(seed: 0)
        let model = try RunDirectory.makeModel(config: trainer.config, batchSize: 3, maxSteps: 5, rng: &rng)
        model.store.values.baseAddress!.update(from: trainer.model.store.values.baseAddress!, count: model.store.count)
        let result = Evaluator.scoreSplit(model, data: valid, batching: .sentence, perSentence: true)
        XCTAssertEqual(result.tokenCount, valid.tokenCount)
        for s in 0..<valid.sentenceCount {
            let logp = try Self.tokenByToken(valid.sentence(s), config: trainer.config, parameters: trainer.model.store)
            XCTAssertEqual(result.sentences![s].tokens, logp.count)
            XCTAssertEqual(result.sentences![s].logProbability, logp.reduce(0, +), accuracy: 1e-4, "sentence \(s)")
        }
    }

    /// Training windows in sentence mode: every target once, padding masked, and the loss of a
    /// window does not change when the padded targets change.
    func testSentenceTrainingWindowsMaskPadding() throws {
        let trainer = try request(try writeCycleCorpus(), epochs: 1, batching: .sentence).prepare()
        let epoch = trainer.epochWindows(1)
        var targets = 0
        var padded = 0
        for i in 0..<epoch.windowCount {
            let w = epoch.window(i)
            let mask = try XCTUnwrap(w.mask)
            XCTAssertEqual(Int(mask.reduce(0, +)), w.targetCount)
            targets += w.targetCount
            padded += mask.count - w.targetCount
        }
        XCTAssertEqual(targets, trainer.trainData.tokenCount)
        XCTAssertEqual(epoch.targetCount, trainer.trainData.tokenCount)
        XCTAssertGreaterThan(padded, 0)
        let w = try XCTUnwrap((0..<epoch.windowCount).map(epoch.window).first { $0.targetCount < $0.inputs.count })
        var rng = RNG(seed: 0)
        trainer.model.resetState()
        let a = trainer.model.forward(inputs: w.inputs, targets: w.targets, mask: w.mask, steps: w.steps, training: false, rng: &rng)
        var changed = w.targets
        for i in changed.indices where w.mask![i] == 0 { changed[i] = 5 }
        XCTAssertNotEqual(changed, w.targets)
        trainer.model.resetState()
        let b = trainer.model.forward(inputs: w.inputs, targets: changed, mask: w.mask, steps: w.steps, training: false, rng: &rng)
        XCTAssertEqual(a.count, w.targetCount)
        XCTAssertEqual(a.lossSum, b.lossSum)
    }

    /// The layout drawn in `DiscourseEvaluationWindows`'s documentation.
    func testDiscourseEvaluationLayoutByHand() {
        let windows = DiscourseEvaluationWindows(tokens: (10..<20).map(Int32.init), batchSize: 3, bptt: 3)
        XCTAssertEqual(windows.columnLength, 4)
        XCTAssertEqual(windows.windowCount, 2)
        let w0 = windows.window(0), w1 = windows.window(1)
        let eos = Vocabulary.endOfSentenceID
        XCTAssertEqual(w0.inputs, [eos, 13, 17, 10, 14, 18, 11, 15, eos])
        XCTAssertEqual(w0.targets, [10, 14, 18, 11, 15, 19, 12, 16, eos])
        XCTAssertEqual(w0.mask, [1, 1, 1, 1, 1, 1, 1, 1, 0])
        XCTAssertEqual(w0.tokenIndex, [0, 4, 8, 1, 5, 9, 2, 6, -1])
        XCTAssertTrue(w0.resetsState)
        XCTAssertEqual(w1.steps, 1)
        XCTAssertEqual(w1.inputs, [12, 16, eos])
        XCTAssertEqual(w1.targets, [13, 17, eos])
        XCTAssertEqual(w1.mask, [1, 1, 0])
        XCTAssertFalse(w1.resetsState)
    }
}
