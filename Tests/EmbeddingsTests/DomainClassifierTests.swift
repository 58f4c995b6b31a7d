import XCTest
import NN
import Corpus
@testable import Embeddings
import NNTestSupport

/// A batch of `examples` (id lists with labels), in order, time-major, padded with `<eos>` (id 1).
func makeBatch(_ examples: [([Int32], Int32)]) -> DocumentBatcher.Batch {
    let docs = examples.map { LabeledDocument(ids: $0.0, label: $0.1) }
    return DocumentBatcher(documents: docs, granularity: .paragraph, batchSize: docs.count).batch(0)
}

/// Sets both LSTM directions (E = H = 1) to a running sum: i ≈ f ≈ o ≈ 1 (biases 20), g = tanh(x),
/// so c_t = c_{t-1} + tanh(x_t) and h_t = tanh(c_t), and the embedding of id v to `embedding[v]`.
func makeRunningSumModel(embedding: [Float], classCount: Int = 2) -> DomainClassifier {
    let config = DomainClassifierConfig(vocabularySize: embedding.count, embeddingSize: 1, hiddenSize: 1, classCount: classCount)
    let model = DomainClassifier(config: config, seed: 3)
    let p = model.parameters
    for (i, v) in embedding.enumerated() { p.values(p["embedding.weight"])[i] = v }
    for suffix in ["", "_reverse"] {
        let wih = p.values(p["rnn.weight_ih_l0" + suffix]), whh = p.values(p["rnn.weight_hh_l0" + suffix])
        let bih = p.values(p["rnn.bias_ih_l0" + suffix]), bhh = p.values(p["rnn.bias_hh_l0" + suffix])
        for (k, (w, b)) in zip([Float(0), 0, 1, 0], [Float(20), 20, 0, 20]).enumerated() {
            wih[k] = w; whh[k] = 0; bih[k] = b; bhh[k] = 0
        }
    }
    return model
}

final class DomainClassifierTests: XCTestCase {
    /// Finite differences of the mean cross-entropy with respect to every parameter (embedding,
    /// both LSTM directions, decoder) on a padded batch of unequal lengths and an empty column.
    func gradientCheck(pooling: ClassifierPooling) {
        let config = DomainClassifierConfig(vocabularySize: 6, embeddingSize: 3, hiddenSize: 3, classCount: 3, pooling: pooling)
        let model = DomainClassifier(config: config, seed: 11)
        // Smaller embedding values keep the LSTMs away from saturation.
        let emb = model.parameters.values(model.parameters["embedding.weight"])
        for i in 0..<emb.count { emb[i] *= 0.5 }
        let batch = makeBatch([([2, 3, 4, 5], 0), ([5, 2], 2), ([3, 3, 1], 1)])
        let columns = 4
        model.parameters.zeroGradients()
        var rng = RNG(seed: 1)
        let r = model.forward(batch, columns: columns, training: true, rng: &rng)
        XCTAssertEqual(r.count, 3)
        model.backward()
        let values = model.parameters.copyOfValues()
        let analytic = model.parameters.copyOfGradients()
        // Max pooling has kinks where two steps tie: a smaller step keeps every argmax in place.
        let eps: Float = pooling == .max ? 1e-3 : 1e-2
        let result = GradCheck.compare(values: values, analytic: analytic, eps: eps, rtol: 2e-2, atol: 5e-4) { x in
            for i in 0..<x.count { model.parameters.values[i] = x[i] }
            let out = model.forward(batch, columns: columns)
            return out.loss / Double(out.count)
        }
        for i in 0..<values.count { model.parameters.values[i] = values[i] }
        XCTAssertTrue(result.passed, "\(pooling): \(result)")
        // Every parameter group receives gradient (the check is not vacuous).
        for view in model.parameters.views {
            let g = model.parameters.gradient(view)
            XCTAssertTrue(g.contains { $0 != 0 }, "\(view.name) got no gradient")
        }
        // Rows of ids that never occur get none.
        XCTAssertEqual(Array(model.parameters.gradient(model.parameters["embedding.weight"])[0..<3]), [0, 0, 0])
    }

    func testGradientCheckMeanPooling() { gradientCheck(pooling: .mean) }
    func testGradientCheckMaxPooling() { gradientCheck(pooling: .max) }

    /// With running-sum LSTMs, h_fwd[p] = tanh(Σ_{q≤p} tanh(x_q)) and h_bwd[p] =
    /// tanh(Σ_{q≥p, q<len} tanh(x_q)): the backward direction reads each example from its own last
    /// word; padding (a huge embedding value) must not leak in.
    func testBackwardDirectionReadsEachExampleReversedFromItsEnd() {
        let x: [Float] = [0, 9, 0.1, 0.2, 0.3, 0.4]  // id 1 = padding, far from the others
        let model = makeRunningSumModel(embedding: x)
        let examples: [[Int32]] = [[2, 3, 4, 5], [4, 2], [5]]
        let batch = makeBatch(examples.map { ($0, 0) })
        model.forward(batch, columns: 4)
        var seen = 0
        model.forEachState { t, b, state in
            let seq = examples[b].map { Double(x[Int($0)]) }
            let fwd = tanh(seq[...t].reduce(0) { $0 + tanh($1) })
            let bwd = tanh(seq[t...].reduce(0) { $0 + tanh($1) })
            XCTAssertEqual(Double(state[0]), fwd, accuracy: 1e-5, "forward state at \(t), example \(b)")
            XCTAssertEqual(Double(state[1]), bwd, accuracy: 1e-5, "backward state at \(t), example \(b)")
            seen += 1
        }
        XCTAssertEqual(seen, 7)
        // Hand values for the second example [0.3, 0.1]: backward at t=0 is tanh(tanh(.3)+tanh(.1)).
        let expected = tanh(tanh(0.3) + tanh(0.1))
        model.forEachState { t, b, state in
            if b == 1 && t == 0 { XCTAssertEqual(Double(state[1]), expected, accuracy: 1e-5) }
        }
    }

    /// `reverse` maps each example within its length and is its own inverse.
    func testReverseWithinLengths() {
        // T = 3, B = 2, C = 1: column 0 = [1, 2, 3], column 1 = [4, pad].
        let input: [Float] = [1, 4, 2, 99, 3, 99]
        var out = [Float](repeating: -1, count: 6)
        DomainClassifier.reverse(output: &out, input: input, lengths: [3, 1], steps: 3, batch: 2, channels: 1, accumulate: false)
        XCTAssertEqual(out, [3, 4, 2, 0, 1, 0])
        var back = [Float](repeating: 0, count: 6)
        DomainClassifier.reverse(output: &back, input: out, lengths: [3, 1], steps: 3, batch: 2, channels: 1, accumulate: true)
        XCTAssertEqual(back, [1, 4, 2, 0, 3, 0])
    }

    func testEmbeddingInitRange() {
        let config = DomainClassifierConfig(vocabularySize: 50, embeddingSize: 4, hiddenSize: 2, classCount: 2, embeddingInitRange: 0.1)
        let e = DomainClassifier(config: config, seed: 2).embeddingMatrix
        XCTAssertEqual(e.count, 200)
        XCTAssertTrue(e.allSatisfy { abs($0) <= 0.1 })
        XCTAssertGreaterThan(e.map(abs).max()!, 0.09)
        var normal = config
        normal.embeddingInitRange = nil
        XCTAssertGreaterThan(DomainClassifier(config: normal, seed: 2).embeddingMatrix.map(abs).max()!, 1)
    }

    /// The same example gives the same prediction alone or in a padded batch.
    func testPaddingDoesNotChangeTheResult() {
        let config = DomainClassifierConfig(vocabularySize: 8, embeddingSize: 4, hiddenSize: 5, classCount: 3, pooling: .max)
        let model = DomainClassifier(config: config, seed: 5)
        let alone = model.forward(makeBatch([([3, 4, 5], 1)]), columns: 1)
        let padded = model.forward(makeBatch([([2, 7, 6, 5, 4, 3, 2], 0), ([3, 4, 5], 1)]), columns: 3)
        let loss0 = model.forward(makeBatch([([2, 7, 6, 5, 4, 3, 2], 0)]), columns: 1).loss
        XCTAssertEqual(padded.loss, alone.loss + loss0, accuracy: 1e-5)
        XCTAssertEqual(padded.predictions[1], alone.predictions[0])
    }
}
