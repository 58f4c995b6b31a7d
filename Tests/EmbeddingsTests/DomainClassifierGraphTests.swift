import Corpus
import GLoMoGraph
import NN
import TestFixtures
import XCTest
@testable import Embeddings
import NNTestSupport

/// GLoMo graphs inside the domain classifier (issue 6, item 6): the BiLSTM states are mixed by
/// the frozen graphs before pooling.
final class DomainClassifierGraphTests: XCTestCase {
    let predictor = GraphPredictorConfig(embeddingSize: 3, channels: 4, convLayers: 1, graphLayers: 2, heads: 2, headSize: 2)

    /// A classifier over 6 ids with graphs of a random predictor over the same 6 ids (identity map).
    func makeModel(pooling: ClassifierPooling = .mean, weighting: GraphMixWeighting = .global, window: Int = 8,
                   seed: UInt64 = 11) -> DomainClassifier {
        let graphs = DomainGraphConfig(predictor: predictor, graphVocabularySize: 6, weighting: weighting, window: window)
        let config = DomainClassifierConfig(vocabularySize: 6, embeddingSize: 3, hiddenSize: 3, classCount: 3, pooling: pooling,
                                            graphs: graphs)
        let model = DomainClassifier(config: config, seed: seed, maxBatch: 4)
        model.graphs!.setVocabularyMap([0, 1, 2, 3, 4, 5])
        let emb = model.parameters.values(model.parameters["embedding.weight"])
        for i in 0..<emb.count { emb[i] *= 0.5 }
        return model
    }

    /// The indices of the trainable parameters (the frozen graph predictor is left out).
    func trainableIndices(_ store: ParameterStore) -> [Int] { store.trainableRanges.flatMap { Array($0) } }

    /// Finite differences of the mean loss with respect to every trainable parameter (embedding,
    /// both LSTMs, decoder, the mixer and its gate) through the graph mixing; the frozen graph
    /// parameters get no gradient at all.
    func gradientCheck(pooling: ClassifierPooling, weighting: GraphMixWeighting) {
        let model = makeModel(pooling: pooling, weighting: weighting)
        let store = model.parameters
        let batch = makeBatch([([2, 3, 4, 5, 2], 0), ([5, 2], 2), ([3, 3, 1], 1)])
        store.zeroGradients()
        var rng = RNG(seed: 1)
        model.forward(batch, columns: 4, training: true, rng: &rng)
        model.backward()
        let all = store.copyOfValues(), gradients = store.copyOfGradients()
        let indices = trainableIndices(store)
        let eps: Float = pooling == .max ? 1e-3 : 1e-2
        let result = GradCheck.compare(values: indices.map { all[$0] }, analytic: indices.map { gradients[$0] },
                                       eps: eps, rtol: 2e-2, atol: 5e-4) { x in
            for (k, i) in indices.enumerated() { store.values[i] = x[k] }
            let out = model.forward(batch, columns: 4)
            return out.loss / Double(out.count)
        }
        for i in 0..<all.count { store.values[i] = all[i] }
        XCTAssertTrue(result.passed, "\(pooling), \(weighting): \(result)")
        for view in model.graphs!.frozenViews {
            XCTAssertTrue(store.gradient(view).allSatisfy { $0 == 0 }, "frozen \(view.name) got a gradient")
        }
        // The mixer is trained: its gate and its mixture receive gradient (the check is not vacuous).
        for name in store.views.map(\.name) where name.hasPrefix("glomo.mix") || name.hasPrefix("glomo.gate") {
            XCTAssertTrue(store.gradient(store[name]).contains { $0 != 0 }, "\(name) got no gradient")
        }
    }

    func testGradientCheckMeanPoolingGlobalWeights() { gradientCheck(pooling: .mean, weighting: .global) }
    func testGradientCheckMaxPoolingPerTokenWeights() { gradientCheck(pooling: .max, weighting: .perToken) }

    /// The graphs change the prediction (they are really applied), and the classifier's own
    /// parameters start as those of the same classifier without graphs (the graphs come after,
    /// so a run without graphs keeps its layout and initial values).
    func testGraphsChangeTheLogitsAndLeaveTheOwnParametersAsWithout() {
        let model = makeModel()
        var plain = model.config
        plain.graphs = nil
        let without = DomainClassifier(config: plain, seed: 11)
        let emb = without.parameters.values(without.parameters["embedding.weight"])
        for i in 0..<emb.count { emb[i] *= 0.5 }
        XCTAssertEqual(Array(model.parameters.copyOfValues()[0..<without.parameters.count]), without.parameters.copyOfValues())
        XCTAssertEqual(without.parameters.views.map(\.name), Array(model.parameters.views.map(\.name)[0..<without.parameters.views.count]))
        let batch = makeBatch([([2, 3, 4, 5, 2], 0), ([5, 2], 2)])
        let a = model.forward(batch, columns: 4).logits, b = without.forward(batch, columns: 4).logits
        XCTAssertEqual(a.count, b.count)
        XCTAssertGreaterThan(zip(a, b).map { abs($0 - $1) }.max()!, 1e-4)
    }

    /// Examples within the window are mixed in one piece: a model with a window of 5 and one of
    /// 8 (same parameters) agree on them. A longer example is mixed window by window (no edges
    /// across): the two models then differ, and nothing traps.
    func testLongExamplesAreMixedWindowByWindow() {
        let wide = makeModel(window: 8), narrow = makeModel(window: 5)
        XCTAssertEqual(wide.parameters.count, narrow.parameters.count)
        XCTAssertEqual(wide.parameters.copyOfValues(), narrow.parameters.copyOfValues())
        let fits = makeBatch([([2, 3, 4, 5, 2], 0), ([5, 2, 3], 1)])
        XCTAssertEqual(wide.forward(fits, columns: 4).logits, narrow.forward(fits, columns: 4).logits)
        let long = makeBatch([([2, 3, 4, 5, 2, 3, 4, 5], 0), ([5, 2, 3], 1)])
        let a = wide.forward(long, columns: 4).logits, b = narrow.forward(long, columns: 4).logits
        XCTAssertTrue(b.allSatisfy(\.isFinite))
        XCTAssertEqual(Array(a[3..<6]), Array(b[3..<6]), "the short example fits both windows")
        XCTAssertGreaterThan(zip(a[0..<3], b[0..<3]).map { abs($0 - $1) }.max()!, 1e-6)
    }

    /// Adam steps change the trainable parameters but leave the frozen graph parameters
    /// bit-identical.
    func testTrainingLeavesTheGraphsFrozen() {
        let model = makeModel()
        let store = model.parameters
        let frozen = model.graphs!.frozenViews
        let before = frozen.map { Array(store.values($0)) }
        let mixBefore = Array(store.values(store["glomo.gate.weight"]))
        let adam = RowSparseAdam(tableRows: 6, tableWidth: 3)
        let batch = makeBatch([([2, 3, 4, 5, 2], 0), ([5, 2], 2), ([3, 3, 1], 1)])
        var rng = RNG(seed: 2)
        store.zeroGradients()
        for _ in 0..<3 {
            model.forwardBackward(batch, columns: 4, rng: &rng)
            adam.rows = [1, 2, 3, 4, 5]
            adam.clipGradientNorm(store, maxNorm: 5)
            adam.step(store, learningRate: 0.01)
            adam.zeroGradients(store)
        }
        XCTAssertEqual(frozen.map { Array(store.values($0)) }, before)
        XCTAssertNotEqual(Array(store.values(store["glomo.gate.weight"])), mixBefore)
        XCTAssertLessThan(store.trainableCount, store.count)
    }

    func testOldConfigWithoutGraphsReadsAsNone() throws {
        let json = #"{"vocabularySize": 5, "embeddingSize": 2, "hiddenSize": 2, "classCount": 2, "pooling": "mean", "dropout": 0}"#
        let config = try JSONDecoder().decode(DomainClassifierConfig.self, from: Data(json.utf8))
        XCTAssertNil(config.graphs)
    }
}
