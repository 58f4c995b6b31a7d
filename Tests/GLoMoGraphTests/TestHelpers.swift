import XCTest
import NN
@testable import GLoMoGraph

/// Random values uniform in [lo, hi) from a fixed seed.
func randomArray(_ n: Int, seed: UInt64, _ lo: Float = -1, _ hi: Float = 1) -> [Float] {
    var rng = RNG(seed: seed)
    return (0..<n).map { _ in rng.uniform(lo, hi) }
}

/// Runs `body` with the store's values replaced by `values`, restoring them afterwards.
func withParameters<R>(_ store: ParameterStore, _ values: [Float], _ body: () -> R) -> R {
    let saved = store.copyOfValues()
    for i in 0..<values.count { store.values[i] = values[i] }
    defer { for i in 0..<saved.count { store.values[i] = saved[i] } }
    return body()
}

/// A small graph predictor with every parameter drawn at random (norm weights near 1), so that
/// gradient checks exercise every path.
func makeGraphPredictor(threshold: GraphThreshold = .learned, E: Int = 4, C: Int = 5, L: Int = 2, K: Int = 2,
                        d: Int = 3, maxSteps: Int = 6, maxBatch: Int = 2, seed: UInt64 = 7)
    -> (GraphPredictor, ParameterStore) {
    let store = ParameterStore()
    let config = GraphPredictorConfig(embeddingSize: E, channels: C, convLayers: 2, kernelSize: 3,
                                      graphLayers: L, heads: K, headSize: d, threshold: threshold)
    let gp = GraphPredictor(config, store: store, maxSteps: maxSteps, maxBatch: maxBatch)
    var rng = RNG(seed: seed)
    gp.initialize(rng: &rng)
    for v in store.views {
        let p = store.values(v)
        for i in 0..<p.count {
            p[i] = v.name.contains("norm") && v.name.hasSuffix("weight") ? rng.uniform(0.5, 1.5) : rng.uniform(-0.8, 0.8)
        }
    }
    return (gp, store)
}

/// Runs the graph predictor forward on `x` and returns the graphs.
func graphs(_ gp: GraphPredictor, _ x: [Float], T: Int, B: Int) -> [Float] {
    var g = [Float](repeating: .nan, count: gp.graphCount(steps: T, batch: B))
    x.withUnsafeBufferPointer { xb in
        g.withUnsafeMutableBufferPointer { gp.forward(graphs: $0.baseAddress!, embeddings: xb.baseAddress!, steps: T, batch: B) }
    }
    return g
}
