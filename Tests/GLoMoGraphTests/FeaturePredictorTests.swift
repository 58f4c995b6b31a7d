import XCTest
import Foundation
import NN
@testable import GLoMoGraph
import NNTestSupport

final class FeaturePredictorTests: XCTestCase {
    private func run(_ fp: FeaturePredictor, _ f0: [Float], _ g: [Float], T: Int, B: Int) -> [Float] {
        var out = [Float](repeating: .nan, count: f0.count)
        f0.withUnsafeBufferPointer { fb in
            g.withUnsafeBufferPointer { gb in
                out.withUnsafeMutableBufferPointer {
                    fp.forward(output: $0.baseAddress!, features: fb.baseAddress!, graphs: gb.baseAddress!, steps: T, batch: B)
                }
            }
        }
        return out
    }

    /// Random strictly-lower-triangular graphs [L, K, B, T, T].
    private func randomGraphs(L: Int, K: Int, B: Int, T: Int, seed: UInt64) -> [Float] {
        var g = randomArray(L * K * B * T * T, seed: seed, 0, 1)
        for block in 0..<(L * K * B) { for i in 0..<T { for j in i..<T { g[block * T * T + i * T + j] = 0 } } }
        return g
    }

    /// One layer, two heads, D = 1: head mixing, concatenation order, projection, the GRU input
    /// `[c ⊙ f ; c]` and PyTorch's GRUCell formulas, computed by hand in Double.
    func testHandComputed() {
        let store = ParameterStore()
        let fp = FeaturePredictor(featureSize: 1, layers: 1, heads: 2, store: store, maxSteps: 2, maxBatch: 1)
        func set(_ name: String, _ v: [Float]) { store.set(store["features.layer0.\(name)"], to: Tensor(shape: store["features.layer0.\(name)"].shape, v)) }
        let wc: [Double] = [0.5, -1], bc = 0.1
        let wih: [Double] = [0.2, -0.3, 0.4, 0.1, -0.5, 0.6], whh: [Double] = [0.7, -0.2, 0.3]
        let bih: [Double] = [0.05, -0.1, 0.15], bhh: [Double] = [-0.05, 0.2, 0.1]
        set("combine.weight", wc.map(Float.init)); set("combine.bias", [Float(bc)])
        set("gru.weight_ih", wih.map(Float.init)); set("gru.weight_hh", whh.map(Float.init))
        set("gru.bias_ih", bih.map(Float.init)); set("gru.bias_hh", bhh.map(Float.init))
        let f0: [Double] = [0.6, -0.4]
        // graphs [L=1, K=2, B=1, T=2, T=2]: head 0 row 1 = [1, 0], head 1 row 1 = [0.5, 0].
        let g: [Float] = [0, 0, 1, 0,
                          0, 0, 0.5, 0]
        let out = run(fp, f0.map(Float.init), g, T: 2, B: 1)
        func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        for i in 0..<2 {
            let heads: [Double] = i == 0 ? [0, 0] : [1 * f0[0], 0.5 * f0[0]]
            let c = wc[0] * heads[0] + wc[1] * heads[1] + bc
            let x = [c * f0[i], c], h = f0[i]
            func gi(_ r: Int) -> Double { wih[2 * r] * x[0] + wih[2 * r + 1] * x[1] + bih[r] }
            func gh(_ r: Int) -> Double { whh[r] * h + bhh[r] }
            let r = sigmoid(gi(0) + gh(0)), z = sigmoid(gi(1) + gh(1)), n = tanh(gi(2) + r * gh(2))
            let expected = (1 - z) * n + z * h
            XCTAssertEqual(Double(out[i]), expected, accuracy: 1e-5, "position \(i)")
        }
    }

    /// Finite differences for every parameter, the input features and the graphs.
    func testGradients() {
        let D = 3, L = 2, K = 2, T = 4, B = 2
        let store = ParameterStore()
        let fp = FeaturePredictor(featureSize: D, layers: L, heads: K, store: store, maxSteps: T, maxBatch: B)
        var rng = RNG(seed: 5)
        fp.initialize(rng: &rng)
        for i in 0..<store.count { store.values[i] = rng.uniform(-0.8, 0.8) }
        let f0 = randomArray(T * B * D, seed: 6)
        let g = randomGraphs(L: L, K: K, B: B, T: T, seed: 7)
        let w = randomArray(T * B * D, seed: 8)
        _ = run(fp, f0, g, T: T, B: B)
        store.zeroGradients()
        var df = [Float](repeating: 0, count: f0.count), dg = [Float](repeating: 0, count: g.count)
        df.withUnsafeMutableBufferPointer { dfb in
            dg.withUnsafeMutableBufferPointer { dgb in
                fp.backward(dfeatures: dfb.baseAddress!, dgraphs: dgb.baseAddress!, doutput: w, graphs: g, steps: T, batch: B)
            }
        }
        let rp = GradCheck.compare(values: store.copyOfValues(), analytic: store.copyOfGradients(), eps: 1e-3) { p in
            withParameters(store, p) { GradCheck.weightedSum(run(fp, f0, g, T: T, B: B), w) }
        }
        XCTAssertTrue(rp.passed, "parameters: \(rp)")
        let rf = GradCheck.compare(values: f0, analytic: df, eps: 1e-3) { GradCheck.weightedSum(run(fp, $0, g, T: T, B: B), w) }
        XCTAssertTrue(rf.passed, "features: \(rf)")
        let rg = GradCheck.compare(values: g, analytic: dg, eps: 1e-3) { GradCheck.weightedSum(run(fp, f0, $0, T: T, B: B), w) }
        XCTAssertTrue(rg.passed, "graphs: \(rg)")
        XCTAssertGreaterThan(dg.filter { $0 != 0 }.count, L * K * B * T * (T - 1) / 2 - 1)
    }

    /// End to end (embeddings → graphs → features): changing the embedding at any position > t
    /// leaves the output features at positions 0...t unchanged.
    func testCausalityThroughGraphs() {
        let T = 6, B = 2, E = 4
        let (gp, store) = makeGraphPredictor(maxSteps: T, maxBatch: B)
        let fp = FeaturePredictor(matching: gp, store: store)
        XCTAssertEqual([fp.featureSize, fp.layers, fp.heads, fp.maxSteps, fp.maxBatch], [E, 2, 2, T, B])
        var rng = RNG(seed: 9)
        fp.initialize(rng: &rng)
        let x = randomArray(T * B * E, seed: 10)
        let out0 = run(fp, x, graphs(gp, x, T: T, B: B), T: T, B: B)
        for t in 0..<(T - 1) {
            var x1 = x
            for s in (t + 1)..<T { for i in 0..<(B * E) { x1[s * B * E + i] -= 0.5 } }
            let out1 = run(fp, x1, graphs(gp, x1, T: T, B: B), T: T, B: B)
            XCTAssertEqual(Array(out0[0..<((t + 1) * B * E)]), Array(out1[0..<((t + 1) * B * E)]), "t = \(t)")
            XCTAssertNotEqual(Array(out0[((t + 1) * B * E)...]), Array(out1[((t + 1) * B * E)...]), "t = \(t)")
        }
    }
}
