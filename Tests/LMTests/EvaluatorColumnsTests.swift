import Corpus
import Foundation
import NN
import XCTest
@testable import LM

/// `ColumnScorer`: several documents as parallel batch columns give each document exactly what
/// it gets scored alone, reported in document order.
final class EvaluatorColumnsTests: XCTestCase {
    /// ids: <unk> 0, <eos> 1, the 2, cat 3, sat 4, on 5, mat 6.
    let vocabulary = try! Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat", "sat", "on", "mat"], counts: [1, 9, 8, 7, 6, 5, 4])

    /// A random model (the state matters) with `columns` batch columns.
    func evaluator(columns: Int, window: Int, seed: UInt64 = 21) -> Evaluator {
        var rng = RNG(seed: seed)
        let config = ModelConfig(vocabularySize: vocabulary.count, embeddingSize: 8, hiddenSize: 12, layers: 2, dropout: 0, initRange: 0.6)
        let model = LanguageModel(config: config, batchSize: columns, maxSteps: window, rng: &rng)
        return Evaluator(model: model, vocabulary: vocabulary, mode: .discourse)
    }

    /// Documents of unequal lengths: several windows, one line, a blank line, an OOV ("dog"),
    /// a literal <unk>; more documents than columns, so columns are refilled, then shrink.
    let documents = [
        String(repeating: "the cat sat on the mat\nthe cat\n\ncat sat on the mat the cat sat\n", count: 6),
        "mat\n",
        "the dog sat\non the <unk>\n",
        "\n",
        String(repeating: "on the mat the cat sat on the mat\nsat sat\nthe\n", count: 3),
        "cat on mat\n",
    ]

    /// Scores `texts` as documents through `evaluator`'s columns; per document its sentences,
    /// and the order of the callbacks as (document, isTotals).
    func scoreColumns(_ texts: [String], _ evaluator: Evaluator) throws
        -> (sentences: [[PerplexityReport.Sentence]], totals: [PerplexityStatistics], order: [(Int, Bool)]) {
        var sentences = texts.map { _ in [PerplexityReport.Sentence]() }
        var totals: [PerplexityStatistics] = []
        var order: [(Int, Bool)] = []
        let columns = ColumnScorer(evaluator: evaluator, keepSentences: true, sentence: { d, s in
            sentences[d].append(s)
            order.append((d, false))
        }, finished: { d, t in
            totals.append(t)
            order.append((d, true))
        })
        for (i, text) in texts.enumerated() {
            var document = ScoringDocument(evaluator: evaluator, name: "doc\(i)")
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            lines.removeLast()
            for line in lines {
                var line = String(line)
                line.withUTF8 { document.add(record: $0) }
            }
            try columns.add(document)
        }
        try columns.finish()
        return (sentences, totals, order)
    }

    /// Evaluation gives each column the same arithmetic whatever the batch, the window or the
    /// thread count, so a document's scores are bitwise those of the document alone, as a column
    /// or as `score`'s single stream (windows below 32 steps included: they used to multiply by
    /// W_hh through OpenBLAS, and OpenBLAS's Haswell/Zen kernels round a row by its place in
    /// their tiles).
    func testColumnsGiveEachDocumentBitwiseWhatItGetsAlone() throws {
        for (columns, window) in [(3, 32), (2, 40), (4, 64), (16, 32), (3, 4), (1, 5), (2, 7)] {
            let evaluator = self.evaluator(columns: columns, window: window)
            let single = self.evaluator(columns: 1, window: window)
            let together = try scoreColumns(documents, evaluator)
            for (d, text) in documents.enumerated() {
                let alone = try scoreColumns([text], evaluator)
                // Bitwise: TokenScore compares its Double log-probability with ==.
                XCTAssertEqual(together.sentences[d], alone.sentences[0], "document \(d), \(columns) columns, window \(window)")
                XCTAssertEqual(together.totals[d], alone.totals[0])
                XCTAssertEqual(together.sentences[d], try single.score(text: text), "document \(d), \(columns) columns, window \(window)")
            }
            // Reported in document order: each document's sentences, then its totals.
            let expected = together.sentences.enumerated().flatMap { d, s in Array(repeating: (d, false), count: s.count) + [(d, true)] }
            XCTAssertEqual(together.order.map(\.0), expected.map(\.0))
            XCTAssertEqual(together.order.map(\.1), expected.map(\.1))
            // The totals are the sums of the sentences.
            for (s, t) in zip(together.sentences, together.totals) {
                var sum = PerplexityStatistics()
                for sentence in s { sum.add(sentence.statistics) }
                XCTAssertEqual(sum, t)
            }
            // The evaluator's own model is back, with its batch.
            XCTAssertEqual(evaluator.model.batchSize, columns)
        }
    }

    func testShortWindowsAreBitwiseTooAndTheStateIsPerDocument() throws {
        // Windows of 4 steps, a stream alone against the columns: the same, bit for bit.
        for columns in [1, 3] {
            let evaluator = self.evaluator(columns: columns, window: 4)
            let single = self.evaluator(columns: 1, window: 4)
            let together = try scoreColumns(documents, evaluator)
            for (d, text) in documents.enumerated() {
                let stream = try single.score(text: text)
                XCTAssertEqual(together.sentences[d].map(\.tokens.count), stream.map(\.tokens.count))
                XCTAssertEqual(together.sentences[d].map(\.followsPrevious), stream.map(\.followsPrevious))
                for (a, b) in zip(together.sentences[d].flatMap(\.tokens), stream.flatMap(\.tokens)) {
                    XCTAssertEqual(a.token, b.token)
                    XCTAssertEqual(a.word, b.word)
                    XCTAssertEqual(a.logProb, b.logProb)
                }
            }
        }
        // The state is carried within a document and zeroed between documents: the first
        // document's second sentence ("the cat") scores differently from the same text alone.
        let evaluator = self.evaluator(columns: 2, window: 32)
        let first = try scoreColumns(documents, evaluator).sentences[0][1]
        let fresh = try scoreColumns(["the cat\n"], evaluator).sentences[0][0]
        XCTAssertEqual(first.text, fresh.text)
        XCTAssertNotEqual(first.tokens[0].logProb, fresh.tokens[0].logProb, accuracy: 1e-4)
    }

    func testTokensOOVsAndAnEmptyDocument() throws {
        let evaluator = self.evaluator(columns: 2, window: 4)
        let scored = try scoreColumns(documents, evaluator)
        let third = scored.sentences[2].flatMap(\.tokens)
        XCTAssertEqual(third.map(\.text), ["the", "dog", "sat", "<eos>", "on", "the", "<unk>", "<eos>"])
        XCTAssertEqual(third.map(\.isOOV), [false, true, false, false, false, false, false, false])
        XCTAssertEqual(scored.totals[2].oovs, 1)
        XCTAssertEqual(scored.totals[3].sentences, 1)   // a blank line is one </s>
        XCTAssertEqual(scored.totals[3].words, 0)
        // A document with no token is refused, naming it.
        let columns = ColumnScorer(evaluator: evaluator, keepSentences: false, sentence: { _, _ in }, finished: { _, _ in })
        XCTAssertThrowsError(try columns.add(ScoringDocument(evaluator: evaluator, name: "empty.txt"))) { error in
            XCTAssertEqual("\(error)", "empty.txt: nothing to score (no tokens)")
        }
    }
}
