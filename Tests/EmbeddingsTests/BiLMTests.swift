import Corpus
import NN
import XCTest
@testable import Embeddings
import NNTestSupport

/// The BiLSTM language model (loss, gradients, training) and the contextual averaging.
final class BiLMTests: XCTestCase {
    let V = 6, E = 3, H = 4, B = 2, T = 3
    let inputs: [Int32] = [1, 4, 0, 5, 2, 2]   // [T, B]
    let targets: [Int32] = [4, 0, 5, 2, 3, 1]

    func makeModel(batchSize: Int? = nil, maxSteps: Int? = nil, vocabularySize: Int? = nil, seed: UInt64 = 5,
                   adaptiveCutoffs: [Int]? = nil) -> BiLanguageModel {
        var rng = RNG(seed: seed)
        return BiLanguageModel(vocabularySize: vocabularySize ?? V, embeddingSize: E, hiddenSize: H,
                               batchSize: batchSize ?? B, maxSteps: maxSteps ?? T, initRange: 0.5, adaptiveCutoffs: adaptiveCutoffs, rng: &rng)
    }

    /// Sum of both directions' mean losses at `values`, from a zero state.
    func loss(_ model: BiLanguageModel, _ values: [Float], candidates: [Int32]) -> Double {
        for i in 0..<values.count { model.store.values[i] = values[i] }
        model.resetState()
        return model.forward(direction: 0, inputs: inputs, targets: targets, steps: T, candidates: candidates)
            + model.forward(direction: 1, inputs: targets, targets: inputs, steps: T, candidates: candidates)
    }

    func gradientCheck(candidates: [Int32], correction: [Float], adaptiveCutoffs: [Int]? = nil, line: UInt = #line) {
        let model = makeModel(adaptiveCutoffs: adaptiveCutoffs)
        model.logExpectedCount = correction
        let values = model.store.copyOfValues()
        model.store.zeroGradients()
        _ = loss(model, values, candidates: candidates)
        model.backward(direction: 0)
        model.backward(direction: 1)
        let analytic = model.store.copyOfGradients()
        // Every parameter tensor gets a gradient (both LSTMs, the shared embedding and softmax).
        for view in model.store.views {
            XCTAssertTrue(analytic[view.range].contains { $0 != 0 }, "\(view.name) has no gradient", line: line)
        }
        let r = GradCheck.compare(values: values, analytic: analytic, eps: 1e-2, rtol: 1e-2, atol: 1e-4) {
            self.loss(model, $0, candidates: candidates)
        }
        XCTAssertTrue(r.passed, "\(r)", line: line)
    }

    func testGradientsFullSoftmax() {
        gradientCheck(candidates: (0..<6).map { Int32($0) }, correction: [Float](repeating: 0, count: 6))
    }

    /// The adaptive softmax instead (cutoff 3: targets in the head and in the cluster, whose
    /// projection is ⌊4 / 4⌋ = 1 wide); candidates and corrections are ignored.
    func testGradientsAdaptiveSoftmax() {
        gradientCheck(candidates: [], correction: [Float](repeating: 0, count: 6), adaptiveCutoffs: [3])
        let names = makeModel(adaptiveCutoffs: [3]).store.views.map(\.name).filter { $0.hasPrefix("softmax.") }
        XCTAssertEqual(names, ["softmax.head.weight", "softmax.tail.0.0.weight", "softmax.tail.0.1.weight"])
    }

    /// Sampled candidates with repeats, accidental hits and log-count corrections.
    func testGradientsSampledSoftmax() {
        gradientCheck(candidates: [2, 5, 2, 0, 4], correction: [0.3, -0.2, 0.5, 0.1, -0.4, 0.7])
    }

    /// With every id a candidate and no correction the loss is the exact softmax cross-entropy,
    /// computed here in Double from the hidden states and the softmax weights.
    func testFullSoftmaxLossEqualsCrossEntropyByHand() {
        let model = makeModel()
        model.resetState()
        let loss = model.forward(direction: 0, inputs: inputs, targets: targets, steps: T, candidates: (0..<6).map { Int32($0) })
        model.resetState()
        let h = inputs.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: model.encode(direction: 0, inputs: $0.baseAddress!, steps: T), count: T * B * H)) }
        let W = Array(model.store.values(model.softmaxWeight!)), b = Array(model.store.values(model.softmaxBias!))
        var expected = 0.0
        for r in 0..<(T * B) {
            let logits = (0..<V).map { v in Double(b[v]) + (0..<H).reduce(0.0) { $0 + Double(h[r * H + $1]) * Double(W[v * H + $1]) } }
            let lse = log(logits.map { exp($0) }.reduce(0, +))
            expected += lse - logits[Int(targets[r])]
        }
        XCTAssertEqual(loss, expected / Double(T * B), accuracy: 1e-5)
    }

    /// Sampled softmax: target logit and candidate logits corrected by log(K·Q), accidental hits out.
    func testSampledLossByHand() {
        let model = makeModel()
        let correction: [Float] = [0.3, -0.2, 0.5, 0.1, -0.4, 0.7]
        model.logExpectedCount = correction
        let candidates: [Int32] = [2, 5, 2]
        model.resetState()
        let loss = model.forward(direction: 1, inputs: inputs, targets: targets, steps: T, candidates: candidates)
        model.resetState()
        let h = inputs.withUnsafeBufferPointer { Array(UnsafeBufferPointer(start: model.encode(direction: 1, inputs: $0.baseAddress!, steps: T), count: T * B * H)) }
        let W = Array(model.store.values(model.softmaxWeight!)), b = Array(model.store.values(model.softmaxBias!))
        func logit(_ r: Int, _ v: Int) -> Double {
            Double(b[v]) - Double(correction[v]) + (0..<H).reduce(0.0) { $0 + Double(h[r * H + $1]) * Double(W[v * H + $1]) }
        }
        var expected = 0.0
        for r in 0..<(T * B) {
            let t = Int(targets[r])
            let others = candidates.map(Int.init).filter { $0 != t }.map { logit(r, $0) }
            let all = [logit(r, t)] + others
            expected += log(all.map { exp($0) }.reduce(0, +)) - logit(r, t)
        }
        XCTAssertEqual(loss, expected / Double(T * B), accuracy: 1e-5)
    }

    // MARK: Averaging

    /// Occurrences: word 1 with (1, 2) and (3, 4), word 2 with (5, 6), word 0 never.
    /// minOccurrences 1: word 1 → (2, 3), word 2 → (5, 6), word 0 → mean of all (3, 4).
    /// minOccurrences 2: word 2 falls back too.
    func testAveragingByHand() {
        var avg = ContextualAverager(vocabularySize: 3, dimension: 2)
        let occurrences: [(Int32, [Float])] = [(1, [1, 2]), (2, [5, 6]), (1, [3, 4])]
        for (w, v) in occurrences {
            avg.countOccurrence(of: w)
            // Halves added separately, as the two directions are.
            v.withUnsafeBufferPointer { p in
                avg.add(word: w, values: p.baseAddress!, count: 1, at: 0)
                avg.add(word: w, values: p.baseAddress! + 1, count: 1, at: 1)
            }
        }
        let (t1, r1) = avg.result(words: ["a", "b", "c"], vocabularyHash: "h", minOccurrences: 1)
        XCTAssertEqual(t1.vectors, [3, 4, 2, 3, 5, 6])
        XCTAssertEqual(t1.vocabularyHash, "h")
        XCTAssertEqual(r1, ContextualReport(vocabularySize: 3, tokens: 3, averaged: 2, fallback: 1, minOccurrences: 1, fallbackRows: [0]))
        let (t2, r2) = avg.result(words: ["a", "b", "c"], vocabularyHash: nil, minOccurrences: 2)
        XCTAssertEqual(t2.vectors, [3, 4, 2, 3, 3, 4])
        XCTAssertEqual(r2.fallback, 2)
        XCTAssertEqual(r2.averaged, 1)
        XCTAssertEqual(r2.description, "1 of 3 words averaged over their occurrences in 3 tokens; 2 seen fewer than 2 times got the mean of all 3 states")
        XCTAssertTrue(r1.description.hasSuffix("; 1 never seen got the mean of all 3 states"), r1.description)
    }

    /// Component 0: values 1, 3 (mean 2, std 1) → −1, 1; component 1 constant → 0; component 2:
    /// 0, 4 (mean 2, std 2) → −1, 1.
    func testStandardizedByHand() throws {
        let table = try EmbeddingTable(words: ["a", "b"], vectors: [1, 5, 0, 3, 5, 4], dimension: 3, vocabularyHash: "h")
        let z = table.standardized()
        XCTAssertEqual(z.vectors, [-1, 0, -1, 1, 0, 1])
        XCTAssertEqual(z.words, ["a", "b"])
        XCTAssertEqual(z.vocabularyHash, "h")
    }

    /// The stream is split in B columns; forward halves are the forward LSTM's states reading each
    /// column left to right, backward halves the backward LSTM's states reading the reversed
    /// stream's columns. Checked against a batch-1 copy of the model fed by hand.
    func testContextualVectorsReadBothDirectionsFromTheRightPositions() throws {
        let vocabulary = try Vocabulary(tokens: ["<unk>", "<eos>", "a", "b", "c", "d", "e"], counts: [1, 1, 1, 1, 1, 1, 1])
        let ids: [Int32] = [2, 3, 4, 5, 6]  // each word once, so its vector is its one state
        let model = makeModel(batchSize: 2, maxSteps: 2, vocabularySize: 7)
        let (table, report) = BiLM.contextualVectors(model: model, ids: ids, vocabulary: vocabulary, minOccurrences: 1)
        XCTAssertEqual(report.averaged, 5)
        XCTAssertEqual(report.fallback, 2)
        XCTAssertEqual(table.dimension, 2 * H)

        let single = makeModel(batchSize: 1, maxSteps: 3, vocabularySize: 7)
        for i in 0..<model.store.count { single.store.values[i] = model.store.values[i] }
        /// The last state of direction d after reading `stream` from a zero state.
        func state(_ d: Int, _ stream: [Int32]) -> [Float] {
            single.resetState()
            let h = stream.withUnsafeBufferPointer { single.encode(direction: d, inputs: $0.baseAddress!, steps: stream.count) }
            return Array(UnsafeBufferPointer(start: h + (stream.count - 1) * H, count: H))
        }
        // 5 tokens, 2 columns of 3: forward columns [a b c] [d e]; reversed stream e d c b a → [e d c] [b a].
        let expected: [String: [Float]] = [
            "a": state(0, [2]) + state(1, [3, 2]),
            "b": state(0, [2, 3]) + state(1, [3]),
            "c": state(0, [2, 3, 4]) + state(1, [6, 5, 4]),
            "d": state(0, [5]) + state(1, [6, 5]),
            "e": state(0, [5, 6]) + state(1, [6]),
        ]
        for (word, vector) in expected {
            let got = table.vector(of: word)!
            for j in 0..<(2 * H) { XCTAssertEqual(got[j], vector[j], accuracy: 1e-6, "\(word)[\(j)]") }
        }
        // Unseen words get the mean of the five states.
        let unk = table.vector(of: "<unk>")!
        for j in 0..<(2 * H) {
            XCTAssertEqual(unk[j], expected.values.map { $0[j] }.reduce(0, +) / 5, accuracy: 1e-6)
        }
    }

    // MARK: Training

    /// A cyclic corpus is learnable in both directions: the loss falls far below log V, with the
    /// full softmax (V ≤ samples) and with the sampled one.
    func testTrainingLearnsACyclicCorpus() throws {
        let words = (0..<10).map { "w\($0)" }
        let vocabulary = try Vocabulary(tokens: ["<unk>", "<eos>"] + words, counts: [1, 1] + [Int](repeating: 10, count: 10))
        let ids = (0..<1200).map { Int32(2 + $0 % 10) }
        for samples in [64, 4] {
            var options = BiLMOptions()
            options.embeddingSize = 8
            options.hiddenSize = 8
            options.batchSize = 4
            options.bptt = 10
            options.epochs = 2
            options.learningRate = 0.05
            options.samples = samples
            var losses: [Double] = []
            _ = BiLM.train(ids: ids, vocabulary: vocabulary, options: options) { losses.append($0.loss) }
            XCTAssertGreaterThan(losses.first!, 1.0, "samples \(samples)")
            XCTAssertLessThan(losses.last!, 0.3, "samples \(samples): \(losses)")
        }
    }

    func testCandidateSamplerProportionsAndCorrection() {
        // Counts 16 and 1 (and an id that never occurs): Q ∝ 16^0.75 : 1 = 8 : 1.
        let ids = [Int32](repeating: 1, count: 16) + [2]
        let sampler = CandidateSampler(ids: ids, vocabularySize: 3, samples: 2)
        XCTAssertFalse(sampler.full)
        XCTAssertEqual(sampler.logExpectedCount[1], Float(log(2.0 * 8 / 9)), accuracy: 1e-6)
        XCTAssertEqual(sampler.logExpectedCount[2], Float(log(2.0 / 9)), accuracy: 1e-6)
        var rng = RNG(seed: 3)
        var counts = [0, 0, 0]
        for _ in 0..<9000 { for c in sampler.draw(&rng) { counts[Int(c)] += 1 } }
        XCTAssertEqual(counts[0], 0)
        XCTAssertEqual(Double(counts[1]) / Double(counts[2]), 8, accuracy: 0.5)
        XCTAssertEqual(CandidateSampler(ids: ids, vocabularySize: 3, samples: 3).draw(&rng), [0, 1, 2])
    }
}
