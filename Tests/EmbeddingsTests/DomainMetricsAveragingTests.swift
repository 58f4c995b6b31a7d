import XCTest
import NN
import Corpus
@testable import Embeddings

final class DomainMetricsAveragingTests: XCTestCase {
    /// Classes a, b, c, d; d never occurs (left out of macro-F1); c is only ever predicted.
    ///
    ///     truth a: predicted a, a, b      truth b: predicted b, c
    ///     a: P = 2/2, R = 2/3, F1 = 0.8;  b: P = 1/2, R = 1/2, F1 = 0.5;  c: P = 0, R = 0, F1 = 0
    ///     accuracy 3/5; macro-F1 = (0.8 + 0.5 + 0) / 3
    func testMetricsAgainstHandComputedValues() {
        var m = ClassificationMetrics(classes: ["a", "b", "c", "d"])
        for (t, p) in [(0, 0), (0, 0), (0, 1), (1, 1), (1, 2)] { m.add(truth: t, prediction: p) }
        XCTAssertEqual(m.total, 5)
        XCTAssertEqual(m.confusion, [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
        XCTAssertEqual(m.accuracy, 0.6, accuracy: 1e-12)
        XCTAssertEqual(m.precision(0), 1, accuracy: 1e-12)
        XCTAssertEqual(m.recall(0), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(m.f1(0), 0.8, accuracy: 1e-12)
        XCTAssertEqual(m.f1(1), 0.5, accuracy: 1e-12)
        XCTAssertEqual(m.f1(2), 0, accuracy: 1e-12)
        XCTAssertEqual(m.macroF1, 1.3 / 3, accuracy: 1e-12)
        let table = m.table()
        XCTAssertTrue(table.contains("0.667"), table)
        XCTAssertEqual(table.split(separator: "\n").count, 5)

        let evaluation = DomainEvaluation(split: "test", granularity: .paragraph, loss: 0.5, metrics: m)
        XCTAssertEqual(evaluation.perClass[0].support, 3)
        XCTAssertEqual(evaluation.macroF1, 1.3 / 3, accuracy: 1e-12)
    }

    func testAveragerHandComputed() {
        var avg = ContextualAverager(vocabularySize: 4, dimension: 2)
        for (id, v) in [(Int32(2), [Float(1), 2]), (2, [3, 4]), (3, [5, 5])] {
            v.withUnsafeBufferPointer { avg.add(id: id, vector: $0) }
        }
        let (rows, fallbacks) = avg.averages(minOccurrences: 1)
        // Rows 2 and 3 are means; rows 0 and 1 the mean of those: ([2, 3] + [5, 5]) / 2.
        XCTAssertEqual(rows, [3.5, 4, 3.5, 4, 2, 3, 5, 5])
        XCTAssertEqual(fallbacks, 2)
        let (rows2, fallbacks2) = avg.averages(minOccurrences: 2)
        XCTAssertEqual(rows2, [2, 3, 2, 3, 2, 3, 2, 3])
        XCTAssertEqual(fallbacks2, 3)
    }

    /// Contextual vectors through the model on a tiny corpus, with running-sum LSTMs whose states
    /// are known in closed form (see `makeRunningSumModel`).
    func testContextualVectorsOnATinyCorpus() throws {
        let vocab = try Vocabulary(tokens: ["<unk>", "<eos>", "a", "b", "c"], counts: [0, 2, 3, 2, 0])
        let x: [Float] = [0.05, -0.2, 0.1, 0.3, 0.7]
        let model = makeRunningSumModel(embedding: x)
        // Documents "a b a <eos>" and "b <eos>" (paragraph granularity: sentences joined).
        let docs = [LabeledDocument(sentences: [[2, 3, 2, 1]], label: 0), LabeledDocument(sentences: [[3, 1]], label: 1)]
        let (table, fallbacks) = try model.contextualVectors(documents: docs, granularity: .paragraph, vocabulary: vocab,
                                                             minOccurrences: 1, batchSize: 2)
        func states(_ seq: [Double]) -> [(Double, Double)] {
            seq.indices.map { t in (tanh(seq[...t].reduce(0) { $0 + tanh($1) }), tanh(seq[t...].reduce(0) { $0 + tanh($1) })) }
        }
        let s1 = states([0.1, 0.3, 0.1, -0.2]), s2 = states([0.3, -0.2])
        let a = [(s1[0].0 + s1[2].0) / 2, (s1[0].1 + s1[2].1) / 2]
        let b = [(s1[1].0 + s2[0].0) / 2, (s1[1].1 + s2[0].1) / 2]
        let eos = [(s1[3].0 + s2[1].0) / 2, (s1[3].1 + s2[1].1) / 2]
        let fallback = (0..<2).map { (a[$0] + b[$0] + eos[$0]) / 3 }
        XCTAssertEqual(table.dimension, 2)
        XCTAssertEqual(table.words, ["<unk>", "<eos>", "a", "b", "c"])
        XCTAssertEqual(table.vocabularyHash, vocab.contentHash)
        for (word, expected) in [("a", a), ("b", b), ("<eos>", eos), ("<unk>", fallback), ("c", fallback)] {
            let v = table.vector(of: word)!
            XCTAssertEqual(Double(v[0]), expected[0], accuracy: 1e-5, word)
            XCTAssertEqual(Double(v[1]), expected[1], accuracy: 1e-5, word)
        }
        XCTAssertEqual(fallbacks, 2)

        // Cutting examples into pieces of 2 restarts the states at each piece.
        let (cut, _) = try model.contextualVectors(documents: [docs[0]], granularity: .paragraph, vocabulary: vocab,
                                                   minOccurrences: 1, batchSize: 2, maxLength: 2)
        let p1 = states([0.1, 0.3]), p2 = states([0.1, -0.2])
        XCTAssertEqual(Double(cut.vector(of: "a")![1]), (p1[0].1 + p2[0].1) / 2, accuracy: 1e-5)
    }
}
