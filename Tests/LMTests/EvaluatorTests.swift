import Corpus
import Foundation
import NN
import XCTest
@testable import LM

/// `Evaluator`: SRILM arithmetic on models whose probabilities are known by construction, and the
/// streaming engine (windows, batches) against a single forward pass over the same ids.
final class EvaluatorTests: XCTestCase {
    /// ids: <unk> 0, <eos> 1, the 2, cat 3.
    let vocabulary = try! Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat"], counts: [1, 2, 5, 3])

    /// A model whose every weight is zero and whose decoder bias is log `p`: with zero LSTM
    /// weights every gate is sigmoid(0) = ½ and g = tanh(0) = 0, so c = h = 0 and the logits
    /// are the bias, whatever the input. The next-token distribution is `p` at every position.
    func constantModel(_ p: [Double], batchSize: Int = 1, maxSteps: Int = 4) -> LanguageModel {
        var rng = RNG(seed: 3)
        let config = ModelConfig(vocabularySize: p.count, embeddingSize: 3, hiddenSize: 5, layers: 2, dropout: 0, initRange: 0.1)
        let model = LanguageModel(config: config, batchSize: batchSize, maxSteps: maxSteps, rng: &rng)
        for i in 0..<model.store.values.count { model.store.values[i] = 0 }
        let bias = model.store.values(model.decoderBias!)
        for (i, q) in p.enumerated() { bias[i] = Float(log(q)) }
        return model
    }

    /// A model with random weights (state matters).
    func randomModel(batchSize: Int, maxSteps: Int, seed: UInt64 = 11) -> LanguageModel {
        var rng = RNG(seed: seed)
        let config = ModelConfig(vocabularySize: vocabulary.count, embeddingSize: 4, hiddenSize: 6, layers: 2, dropout: 0, initRange: 0.8)
        return LanguageModel(config: config, batchSize: batchSize, maxSteps: maxSteps, rng: &rng)
    }

    // MARK: - Hand-computed figures

    /// p = (<unk> .1, <eos> .2, the .3, cat .4); text "the cat / cat dog" (dog is an OOV):
    /// positions the .3, cat .4, </s> .2 | cat .4, dog→<unk> .1, </s> .2.
    func testSRILMFiguresOnAKnownDistributionInBothModes() throws {
        let p = [0.1, 0.2, 0.3, 0.4]
        for mode in [TrainingConfig.Batching.discourse, .sentence] {
            let evaluator = Evaluator(model: constantModel(p, batchSize: mode == .sentence ? 3 : 1, maxSteps: 2),
                                      vocabulary: vocabulary, mode: mode)
            let sentences = try evaluator.score(text: "the cat\ncat dog\n")
            var t = PerplexityStatistics()
            for s in sentences { t.add(s.statistics) }
            XCTAssertEqual([t.sentences, t.words, t.oovs, t.zeroprobs], [2, 4, 1, 0], "\(mode)")
            // With the OOV scored as <unk>: 6 positions, 4 words.
            let all = log10(0.3 * 0.4 * 0.2 * 0.4 * 0.1 * 0.2)
            XCTAssertEqual(t.withOOVs.logprob, all, accuracy: 1e-5)
            XCTAssertEqual(try XCTUnwrap(t.withOOVs.ppl), pow(10, -all / 6), accuracy: 1e-4)
            XCTAssertEqual(try XCTUnwrap(t.withOOVs.ppl1), pow(10, -all / 4), accuracy: 1e-4)
            // Excluding the OOV position: 5 positions, 3 words.
            let known = log10(0.3 * 0.4 * 0.2 * 0.4 * 0.2)
            XCTAssertEqual(t.srilm.logprob, known, accuracy: 1e-5)
            XCTAssertEqual(try XCTUnwrap(t.srilm.ppl), pow(10, -known / 5), accuracy: 1e-4)
            XCTAssertEqual(try XCTUnwrap(t.srilm.ppl1), pow(10, -known / 3), accuracy: 1e-4)
            // The OOV is flagged, keeps its word, and is scored as <unk>.
            let dog = sentences[1].tokens[1]
            XCTAssertEqual([dog.token, dog.word], ["<unk>", "dog"])
            XCTAssertTrue(dog.isOOV)
            XCTAssertEqual(dog.logProb, log(0.1), accuracy: 1e-6)
            XCTAssertEqual(sentences.map(\.text), ["the cat", "cat dog"])
        }
    }

    func testUniformModelHasPerplexityVAndLiteralUnkIsNoOOV() throws {
        let evaluator = Evaluator(model: constantModel([1, 1, 1, 1]), vocabulary: vocabulary)
        let sentences = try evaluator.score(text: "the <unk> cat the\n\ncat\n")
        var t = PerplexityStatistics()
        for s in sentences { t.add(s.statistics) }
        XCTAssertEqual([t.sentences, t.words, t.oovs], [3, 5, 0])   // a blank line is one <eos>
        XCTAssertEqual(try XCTUnwrap(t.withOOVs.ppl), 4, accuracy: 1e-4)
        XCTAssertEqual(try XCTUnwrap(t.withOOVs.ppl1), pow(4, 8.0 / 5), accuracy: 1e-3)
    }

    // MARK: - Streaming engine

    /// The stream `<eos> w1 … wn` run through one forward pass from a zero state.
    func referenceLogProbs(_ ids: [Int32], seed: UInt64 = 11) -> [Float] {
        let model = randomModel(batchSize: 1, maxSteps: ids.count, seed: seed)
        var rng = RNG(seed: 0)
        let inputs = [Vocabulary.endOfSentenceID] + ids.dropLast()
        model.forward(inputs: Array(inputs), targets: ids, steps: ids.count, training: false, rng: &rng)
        return Array(model.targetLogProbabilities)
    }

    func testDiscourseWindowsEqualOnePassOverTheStream() throws {
        let text = "the cat cat\nthe\ncat the the cat the\n"
        // 3 + 1 + 1 + 1 + 5 + 1 = 12 positions; windows of 5 cut through sentences.
        let ids: [Int32] = [2, 3, 3, 1, 2, 1, 3, 2, 2, 3, 2, 1]
        let reference = referenceLogProbs(ids)
        for batchSize in [1, 2] {   // extra batch columns are masked out
            let evaluator = Evaluator(model: randomModel(batchSize: batchSize, maxSteps: 5), vocabulary: vocabulary, mode: .discourse)
            let scores = try evaluator.score(text: text).flatMap(\.tokens)
            XCTAssertEqual(scores.count, 12)
            for (s, r) in zip(scores, reference) { XCTAssertEqual(s.logProb, Double(r), accuracy: 1e-5) }
            // Scoring twice gives the same numbers: the state restarts from zero.
            XCTAssertEqual(try evaluator.score(text: text).flatMap(\.tokens), scores)
        }
        // The state is carried: the second sentence's scores differ from a fresh start.
        let fresh = referenceLogProbs([2, 1])
        XCTAssertNotEqual(Double(fresh[0]), Double(reference[4]), accuracy: 1e-4)
    }

    func testSentenceModeScoresEachSentenceFromAFreshState() throws {
        // The blank last line is no sentence in sentence mode: it is skipped.
        let sentences: [[Int32]] = [[2, 3, 3, 1], [2, 1], [3, 2, 2, 3, 2, 1]]
        let text = "the cat cat\nthe\ncat the the cat the\n\n"
        // Batches of 3 with padding, windows of 2 (the long sentence takes three windows).
        let evaluator = Evaluator(model: randomModel(batchSize: 3, maxSteps: 2), vocabulary: vocabulary, mode: .sentence)
        let scored = try evaluator.score(text: text)
        XCTAssertEqual(scored.map(\.tokens.count), sentences.map(\.count))
        for (s, ids) in zip(scored, sentences) {
            let reference = referenceLogProbs(ids)
            for (t, r) in zip(s.tokens, reference) { XCTAssertEqual(t.logProb, Double(r), accuracy: 1e-5) }
        }
        // Hypotheses are sentences too, scored in input order.
        let hypotheses = evaluator.scoreHypotheses(["cat the the cat the", "the cat cat", "the"])
        for (h, s) in zip(hypotheses, [scored[2], scored[0], scored[1]]) {
            XCTAssertEqual(h.tokens.map(\.token), s.tokens.map(\.token))
            for (a, b) in zip(h.tokens, s.tokens) { XCTAssertEqual(a.logProb, b.logProb, accuracy: 1e-5) }
        }
        // More hypotheses than the batch: three batches, order kept, each as if scored alone.
        let texts = ["the", "cat cat", "the cat the", "cat", "the the", "cat the cat cat", "the"]
        let many = evaluator.scoreHypotheses(texts)
        XCTAssertEqual(many.map(\.text), texts)
        for (text, s) in zip(texts, many) {
            let alone = evaluator.scoreHypotheses([text])[0].tokens
            XCTAssertEqual(s.tokens.map(\.token), alone.map(\.token), text)
            for (a, b) in zip(s.tokens, alone) { XCTAssertEqual(a.logProb, b.logProb, accuracy: 1e-5, text) }
        }
    }

    func testCorpusScoringStreamsSentencesInOrderAndRefusesAnEmptyInput() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evaluator-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("t.txt").path
        try "the cat\ncat dog\n".write(toFile: file, atomically: true, encoding: .utf8)
        let evaluator = Evaluator(model: constantModel([0.1, 0.2, 0.3, 0.4]), vocabulary: vocabulary)
        var seen: [String] = []
        let total = try evaluator.score(CorpusReader(paths: [file])) { seen.append($0.text) }
        XCTAssertEqual(seen, ["the cat", "cat dog"])
        XCTAssertEqual(total.withOOVs.logprob, log10(0.3 * 0.4 * 0.2 * 0.4 * 0.1 * 0.2), accuracy: 1e-5)

        // One tokens<TAB>logprob line per sentence (ln, <eos> included).
        let tsv = dir.appendingPathComponent("s.tsv").path
        try evaluator.writeSentenceScores(CorpusReader(paths: [file]), to: tsv)
        let rows = try String(contentsOfFile: tsv, encoding: .utf8).split(separator: "\n").map { $0.split(separator: "\t") }
        XCTAssertEqual(rows.map { Int($0[0]) }, [3, 3])
        XCTAssertEqual(try XCTUnwrap(Double(rows[0][1])), log(0.3 * 0.4 * 0.2), accuracy: 1e-5)
        XCTAssertEqual(try XCTUnwrap(Double(rows[1][1])), log(0.4 * 0.1 * 0.2), accuracy: 1e-5)

        // Sentence splitting on a file of blank lines leaves nothing to score.
        let blank = dir.appendingPathComponent("blank.txt").path
        try "\n\n".write(toFile: blank, atomically: true, encoding: .utf8)
        let splitting = Evaluator(model: constantModel([0.1, 0.2, 0.3, 0.4]), vocabulary: vocabulary,
                                  tokenization: TokenizationOptions(splitSentences: true))
        XCTAssertThrowsError(try splitting.score(CorpusReader(paths: [blank]))) { error in
            XCTAssertEqual("\(error)", "\(blank): nothing to score (no tokens)")
        }
    }

    // MARK: - By domain

    /// Writes `lines` (JSONL) to a temporary file; the caller removes `dir`.
    func jsonlFile(_ lines: [String]) throws -> (dir: URL, path: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("evaluator-domains-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("d.jsonl").path
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return (dir, path)
    }

    /// Hand-checkable: p = (<unk> .1, <eos> .2, the .3, cat .4), one sentence per domain.
    func testScoreByDomainOnAKnownDistribution() throws {
        let (dir, file) = try jsonlFile([
            #"{"text": "the cat", "domain": "a"}"#,
            #"{"text": "cat dog", "domain": "b"}"#,
            #"{"text": "the", "domain": "c"}"#,
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        for mode in [TrainingConfig.Batching.discourse, .sentence] {
            let evaluator = Evaluator(model: constantModel([0.1, 0.2, 0.3, 0.4], batchSize: 2, maxSteps: 2), vocabulary: vocabulary, mode: mode)
            var seen: [String?] = []
            let (total, domains) = try evaluator.scoreByDomain(CorpusReader(paths: [file])) { seen.append($0.domain) }
            XCTAssertEqual(seen, ["a", "b", "c"], "\(mode)")
            XCTAssertEqual(domains.keys.sorted(), ["a", "b", "c"])
            let a = try XCTUnwrap(domains["a"]), b = try XCTUnwrap(domains["b"]), c = try XCTUnwrap(domains["c"])
            XCTAssertEqual([a.sentences, a.words, a.oovs], [1, 2, 0])
            XCTAssertEqual([b.sentences, b.words, b.oovs], [1, 2, 1])
            XCTAssertEqual([c.sentences, c.words, c.oovs], [1, 1, 0])
            XCTAssertEqual(a.srilm.logprob, log10(0.3 * 0.4 * 0.2), accuracy: 1e-6)
            XCTAssertEqual(b.srilm.logprob, log10(0.4 * 0.2), accuracy: 1e-6)       // dog is not scored
            XCTAssertEqual(b.withOOVs.logprob, log10(0.4 * 0.1 * 0.2), accuracy: 1e-6) // dog as <unk>
            XCTAssertEqual(try XCTUnwrap(b.srilm.ppl), pow(10, -log10(0.4 * 0.2) / 2), accuracy: 1e-4)
            XCTAssertEqual(c.srilm.logprob, log10(0.3 * 0.2), accuracy: 1e-6)
            XCTAssertEqual(total.srilm.logprob, log10(0.3 * 0.4 * 0.2 * 0.4 * 0.2 * 0.3 * 0.2), accuracy: 1e-6)
        }
    }

    /// Three interleaved domains, random weights (the carried state matters), both modes, with
    /// and without sentence splitting: each domain's totals are exactly the sum of the sentences
    /// of its records as plain `score` gives them, and the domains add up to the total.
    func testScoreByDomainAttributesEachSentenceToItsRecordAndSumsToTheTotal() throws {
        let records: [(domain: String, text: String)] = [
            ("fiction", "the cat. The the cat"), ("poetry", "cat cat dog"), ("fiction", ""),
            ("science", "the. Cat the. Dog dog the"), ("poetry", "the"), ("science", "cat"),
            ("fiction", "dog the cat cat the cat the the"), ("poetry", "the cat the. Cat"),
        ]
        let (dir, file) = try jsonlFile(records.map { #"{"domain": "\#($0.domain)", "text": "\#($0.text)"}"# })
        defer { try? FileManager.default.removeItem(at: dir) }
        for mode in [TrainingConfig.Batching.discourse, .sentence] {
            for split in [false, true] {
                let tokenization = TokenizationOptions(tokenizer: .simple, splitSentences: split)
                let label = "\(mode) split=\(split)"
                let evaluator = Evaluator(model: randomModel(batchSize: 3, maxSteps: 4), vocabulary: vocabulary,
                                          tokenization: tokenization, mode: mode)
                // The expected domain of each sentence, from the records' sentence counts.
                let stream = TokenStream(tokenization)
                var expectedDomains: [String] = []
                for r in records {
                    let eos = stream.tokens(r.text).filter { $0 == Vocabulary.endOfSentenceToken }.count
                    // Sentence mode skips a record with no tokens (a blank line is no sentence).
                    let sentences = mode == .sentence && stream.tokens(r.text).count == eos ? 0 : eos
                    expectedDomains += Array(repeating: r.domain, count: sentences)
                }
                var sentences: [PerplexityReport.Sentence] = []
                _ = try evaluator.score(CorpusReader(paths: [file])) { sentences.append($0) }
                XCTAssertEqual(sentences.count, expectedDomains.count, label)
                var expected: [String: PerplexityStatistics] = [:]
                for (s, d) in zip(sentences, expectedDomains) { expected[d, default: PerplexityStatistics()].add(s.statistics) }

                let (total, domains) = try evaluator.scoreByDomain(CorpusReader(paths: [file]))
                XCTAssertEqual(domains.keys.sorted(), ["fiction", "poetry", "science"], label)
                var sum = PerplexityStatistics()
                for (name, stats) in domains {
                    let e = try XCTUnwrap(expected[name], label)
                    XCTAssertEqual([stats.sentences, stats.words, stats.oovs, stats.zeroprobs], [e.sentences, e.words, e.oovs, e.zeroprobs], "\(label) \(name)")
                    XCTAssertEqual(stats.inVocabularyLogprob, e.inVocabularyLogprob, accuracy: 1e-9, "\(label) \(name)")
                    XCTAssertEqual(stats.oovLogprob, e.oovLogprob, accuracy: 1e-9, "\(label) \(name)")
                    sum.add(stats)
                }
                XCTAssertEqual([sum.sentences, sum.words, sum.oovs, sum.zeroprobs, sum.oovZeroprobs],
                               [total.sentences, total.words, total.oovs, total.zeroprobs, total.oovZeroprobs], label)
                XCTAssertGreaterThan(total.oovs, 0, label)
                XCTAssertEqual(sum.inVocabularyLogprob, total.inVocabularyLogprob, accuracy: 1e-9 * abs(total.inVocabularyLogprob), label)
                XCTAssertEqual(sum.oovLogprob, total.oovLogprob, accuracy: 1e-9 * abs(total.oovLogprob), label)
            }
        }
    }

    /// A record without a domain (plain text, or JSONL without the field) is refused, naming file:line.
    func testScoreByDomainRefusesARecordWithoutADomain() throws {
        let (dir, file) = try jsonlFile([#"{"text": "the", "domain": "a"}"#, #"{"text": "cat"}"#])
        defer { try? FileManager.default.removeItem(at: dir) }
        let plain = dir.appendingPathComponent("p.txt").path
        try "the cat\n".write(toFile: plain, atomically: true, encoding: .utf8)
        let evaluator = Evaluator(model: constantModel([0.1, 0.2, 0.3, 0.4]), vocabulary: vocabulary)
        XCTAssertThrowsError(try evaluator.scoreByDomain(CorpusReader(paths: [file]))) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(file):2: record without a \"domain\""), "\(error)")
        }
        XCTAssertThrowsError(try evaluator.scoreByDomain(CorpusReader(paths: [plain]))) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(plain):1: record without a \"domain\""), "\(error)")
        }
    }

    // MARK: - Generation

    func testGenerationIsDeterministicPerSeedAndTopOneIsGreedy() throws {
        let evaluator = Evaluator(model: randomModel(batchSize: 1, maxSteps: 1), vocabulary: vocabulary)
        func sample(_ seed: UInt64, _ sampler: Sampler = Sampler()) -> Generation {
            var rng = RNG(seed: seed)
            return evaluator.generate(prompt: "the zebra", count: 30, sampler: sampler, rng: &rng)
        }
        let a = sample(5), b = sample(5), c = sample(6)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a.ids, c.ids)
        XCTAssertEqual(a.ids.count, 30)
        XCTAssertEqual(a.promptTokens, ["the", "<unk>"])
        XCTAssertEqual(a.unknownPromptWords, ["zebra"])

        // Greedy reference: feed <eos> the <unk>, then always the argmax of the next distribution.
        let model = randomModel(batchSize: 1, maxSteps: 1)
        var logp: [Float] = []
        for id: Int32 in [1, 2, 0] { logp = model.nextTokenLogProbabilities(inputs: [id]) }
        var greedy: [Int32] = []
        for _ in 0..<30 {
            let best = Int32(logp.indices.max { logp[$0] < logp[$1] || (logp[$0] == logp[$1] && $0 > $1) }!)
            greedy.append(best)
            logp = model.nextTokenLogProbabilities(inputs: [best])
        }
        XCTAssertEqual(sample(5, Sampler(topK: 1)).ids, greedy)
        XCTAssertEqual(sample(9, Sampler(temperature: 0)).ids, greedy)
    }

    /// `GenerationStream` draws the tokens `generate` draws from the same seed, and
    /// `GenerationText`'s pieces make the text `Generation.text(prompt:)` makes (what `lmtool
    /// generate` prints as it goes), for several samplers, prompts (one with an <eos>) and seeds.
    func testGenerationStreamGivesGeneratesTokensAndText() throws {
        let evaluator = Evaluator(model: randomModel(batchSize: 1, maxSteps: 1), vocabulary: vocabulary)
        let samplers = [Sampler(), Sampler(temperature: 0.7, topK: 3), Sampler(topP: 0.8), Sampler(temperature: 0)]
        for (prompt, seed) in [(nil, 1), ("the zebra", 2), ("cat <eos> the", 3)] as [(String?, UInt64)] {
            for sampler in samplers {
                var rng = RNG(seed: seed)
                let whole = evaluator.generate(prompt: prompt, count: 40, sampler: sampler, rng: &rng)
                rng = RNG(seed: seed)
                var stream = GenerationStream(evaluator: evaluator, prompt: prompt)
                XCTAssertEqual(stream.promptTokens, whole.promptTokens)
                XCTAssertEqual(stream.unknownPromptWords, whole.unknownPromptWords)
                let promptWords = prompt.map { WhitespaceTokenizer().tokens($0) } ?? []
                var text = GenerationText()
                var pieces = promptWords.map { text.append($0) }
                var tokens: [String] = []
                for _ in 0..<40 {
                    tokens.append(stream.next(sampler: sampler, rng: &rng))
                    pieces.append(text.append(tokens.last!))
                }
                XCTAssertEqual(tokens, whole.tokens, "\(String(describing: prompt)) \(sampler)")
                XCTAssertEqual(pieces.joined(), whole.text(prompt: promptWords), "\(String(describing: prompt)) \(sampler)")
            }
        }
        var text = GenerationText()
        XCTAssertEqual(["so", "the", "<eos>", "a", "<eos>", "<eos>", "b"].map { text.append($0) }, ["so", " the", "\n", "a", "\n", "\n", "b"])
    }

    func testGenerationTextShowsEndOfSentenceAsALineBreak() {
        let g = Generation(promptTokens: ["so"], unknownPromptWords: [], tokens: ["the", "cat", "<eos>", "a"], ids: [2, 3, 1, 0])
        XCTAssertEqual(g.text(prompt: ["so"]), "so the cat\na")
        XCTAssertEqual(g.text(prompt: []), "the cat\na")
    }
}
