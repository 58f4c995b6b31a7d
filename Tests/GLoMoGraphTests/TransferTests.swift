import XCTest
import NN
@testable import GLoMoGraph
import NNTestSupport

/// Strictly lower-triangular random graphs `[count blocks, T, T]`, rows normalised (row 0 zeros).
private func randomGraphs(blocks: Int, T: Int, seed: UInt64) -> [Float] {
    var g = randomArray(blocks * T * T, seed: seed, 0.05, 1)
    for blk in 0..<blocks {
        for i in 0..<T {
            var s: Float = 0
            for j in 0..<T where j >= i { g[blk * T * T + i * T + j] = 0 }
            for j in 0..<i { s += g[blk * T * T + i * T + j] }
            for j in 0..<i { g[blk * T * T + i * T + j] /= s }
        }
    }
    return g
}

/// Tests of the transfer side of GLoMo: candidate products, the mixture and the gate.
final class TransferTests: XCTestCase {
    // MARK: Products

    func testProductsByHand() {
        // G^0, G^1 for T = 3 (one head, one sequence); P^1 = G^1 · G^0 worked out by hand:
        // row 2 = 0.5·G^0 row 0 + 0.5·G^0 row 1 = [0.5, 0, 0]; rows 0 and 1 are zero.
        let g0: [Float] = [0, 0, 0, 1, 0, 0, 0.25, 0.75, 0]
        let g1: [Float] = [0, 0, 0, 1, 0, 0, 0.5, 0.5, 0]
        var cand = [Float](repeating: .nan, count: 27)
        (g0 + g1).withUnsafeBufferPointer { g in
            cand.withUnsafeMutableBufferPointer {
                GraphProducts.forward(candidates: $0.baseAddress!, graphs: g.baseAddress!, layers: 2, heads: 1, batch: 1, steps: 3)
            }
        }
        XCTAssertEqual(Array(cand[0..<18]), g0 + g1)
        XCTAssertEqual(Array(cand[18..<27]), [0, 0, 0, 0, 0, 0, 0.5, 0, 0])
    }

    func testProductsGradient() {
        let L = 3, K = 2, B = 2, T = 4, n = L * K * B * T * T, cn = (2 * L - 1) * K * B * T * T
        let graphs = randomGraphs(blocks: L * K * B, T: T, seed: 1)
        let wts = randomArray(cn, seed: 2)
        func candidates(_ g: [Float]) -> [Float] {
            var c = [Float](repeating: 0, count: cn)
            g.withUnsafeBufferPointer { gb in
                c.withUnsafeMutableBufferPointer {
                    GraphProducts.forward(candidates: $0.baseAddress!, graphs: gb.baseAddress!, layers: L, heads: K, batch: B, steps: T)
                }
            }
            return c
        }
        let cand = candidates(graphs)
        // The products are not the plain graphs: the check exercises them.
        XCTAssertNotEqual(Array(cand[(L * K * B * T * T)...]), Array(cand[0..<((L - 1) * K * B * T * T)]))
        var dg = [Float](repeating: 0, count: n)
        var dcand = wts
        dg.withUnsafeMutableBufferPointer { d in
            dcand.withUnsafeMutableBufferPointer { dc in
                cand.withUnsafeBufferPointer { c in
                    GraphProducts.backward(dgraphs: d.baseAddress!, dcandidates: dc.baseAddress!, candidates: c.baseAddress!,
                                           layers: L, heads: K, batch: B, steps: T)
                }
            }
        }
        let r = GradCheck.compare(values: graphs, analytic: dg, eps: 1e-2, rtol: 1e-3, atol: 1e-4) {
            GradCheck.weightedSum(candidates($0), wts)
        }
        XCTAssertTrue(r.passed, r.description)
    }

    // MARK: Mixer

    struct Setup {
        let mixer: GraphMixer
        let store: ParameterStore
        let W: Int, c: Int, B: Int, D: Int, L: Int, K: Int
        var features: [Float]
        var graphs: [Float]

        func run(features f: [Float]? = nil, graphs g: [Float]? = nil) -> [Float] {
            var out = [Float](repeating: .nan, count: (W - c) * B * D)
            (f ?? features).withUnsafeBufferPointer { fb in
                (g ?? graphs).withUnsafeBufferPointer { gb in
                    out.withUnsafeMutableBufferPointer {
                        mixer.forward(output: $0.baseAddress!, features: fb.baseAddress!, graphs: gb.baseAddress!,
                                      window: W, context: c, batch: B)
                    }
                }
            }
            return out
        }
    }

    func makeSetup(_ weighting: GraphMixWeighting, W: Int = 5, c: Int = 2, B: Int = 2, D: Int = 3,
                   L: Int = 2, K: Int = 2, seed: UInt64 = 3) -> Setup {
        let store = ParameterStore()
        let mixer = GraphMixer(GraphMixerConfig(graphLayers: L, heads: K, featureSize: D, weighting: weighting),
                               store: store, prefix: "glomo.", maxWindow: W, maxBatch: B)
        var rng = RNG(seed: seed)
        mixer.initialize(rng: &rng)
        // Random non-zero logits so that the weights differ from a uniform mixture.
        for i in 0..<store.count { store.values[i] = rng.uniform(-1, 1) }
        return Setup(mixer: mixer, store: store, W: W, c: c, B: B, D: D, L: L, K: K,
                     features: randomArray(W * B * D, seed: seed + 1),
                     graphs: randomGraphs(blocks: L * K * B, T: W, seed: seed + 2))
    }

    func checkGradients(_ weighting: GraphMixWeighting) {
        let s = makeSetup(weighting)
        let out = s.run()
        let wts = randomArray(out.count, seed: 11)
        var df = [Float](repeating: 0, count: s.features.count)
        var dg = [Float](repeating: 0, count: s.graphs.count)
        s.store.zeroGradients()
        df.withUnsafeMutableBufferPointer { d in
            dg.withUnsafeMutableBufferPointer { g in
                wts.withUnsafeBufferPointer { s.mixer.backward(dfeatures: d.baseAddress!, dgraphs: g.baseAddress!, doutput: $0.baseAddress!) }
            }
        }
        let dparams = s.store.copyOfGradients()
        XCTAssertTrue(dparams.contains { $0 != 0 } && df.contains { $0 != 0 } && dg.contains { $0 != 0 })
        let rf = GradCheck.compare(values: s.features, analytic: df, eps: 1e-2, rtol: 1e-2, atol: 1e-4) {
            GradCheck.weightedSum(s.run(features: $0), wts)
        }
        XCTAssertTrue(rf.passed, "features: \(rf)")
        let rg = GradCheck.compare(values: s.graphs, analytic: dg, eps: 1e-2, rtol: 1e-2, atol: 1e-4) {
            GradCheck.weightedSum(s.run(graphs: $0), wts)
        }
        XCTAssertTrue(rg.passed, "graphs: \(rg)")
        let rp = GradCheck.compare(values: s.store.copyOfValues(), analytic: dparams, eps: 1e-2, rtol: 1e-2, atol: 1e-4) { v in
            withParameters(s.store, v) { GradCheck.weightedSum(s.run(), wts) }
        }
        XCTAssertTrue(rp.passed, "parameters: \(rp)")
    }

    func testGlobalMixtureGradients() { checkGradients(.global) }

    func testPerTokenMixtureGradients() { checkGradients(.perToken) }

    func testParameterNames() {
        XCTAssertEqual(makeSetup(.global).store.views.map(\.name),
                       ["glomo.mix.logits", "glomo.gate.weight", "glomo.gate.bias"])
        let s = makeSetup(.perToken)
        XCTAssertEqual(s.store.views.map(\.name), ["glomo.mix.weight", "glomo.mix.bias", "glomo.gate.weight", "glomo.gate.bias"])
        XCTAssertEqual(s.store.views[0].shape, [6, 3])   // M = (2L − 1)·K = 6 candidates, D = 3
    }

    /// One graph, D = 1, by hand: window 3, no context, G row 2 = [0.25, 0.75, 0], h = [1, 2, 4],
    /// gate weight [0.5, −1], bias 0.1.
    func testMixerByHand() {
        let store = ParameterStore()
        let mixer = GraphMixer(GraphMixerConfig(graphLayers: 1, heads: 1, featureSize: 1), store: store,
                               maxWindow: 3, maxBatch: 1)
        let gw = store.values(mixer.gateWeight); gw[0] = 0.5; gw[1] = -1
        store.values(mixer.gateBias)[0] = 0.1
        store.values(mixer.logits!)[0] = 0.3   // one candidate: its weight is 1 whatever the logit
        let h: [Float] = [1, 2, 4], g: [Float] = [0, 0, 0, 1, 0, 0, 0.25, 0.75, 0]
        var out = [Float](repeating: .nan, count: 3)
        h.withUnsafeBufferPointer { hb in
            g.withUnsafeBufferPointer { gb in
                out.withUnsafeMutableBufferPointer {
                    mixer.forward(output: $0.baseAddress!, features: hb.baseAddress!, graphs: gb.baseAddress!, window: 3, context: 0, batch: 1)
                }
            }
        }
        // y = [0, 1, 0.25·1 + 0.75·2 = 1.75]; g_i = σ(0.5·h_i − y_i + 0.1); out = g·h + (1 − g)·y.
        let y: [Double] = [0, 1, 1.75]
        for i in 0..<3 {
            let gate = 1 / (1 + exp(-(0.5 * Double(h[i]) - y[i] + 0.1)))
            let expected = gate * Double(h[i]) + (1 - gate) * y[i]
            XCTAssertEqual(Double(out[i]), expected, accuracy: 1e-5, "row \(i)")
        }
        XCTAssertEqual(mixer.mixtureWeights(row: 0, sequence: 0), [1])
    }

    /// The mixer's output against a direct Double implementation of the documented formula
    /// (candidates by explicit matrix products in the order m = c·K + h, softmax, M, y, gate),
    /// for both weightings and with carried context.
    func testMixerAgainstDirectDoubleReference() {
        for weighting in [GraphMixWeighting.global, .perToken] {
            let s = makeSetup(weighting, W: 5, c: 2, B: 2, D: 3, L: 3, K: 2)
            let out = s.run()
            let (W, c, B, D, L, K) = (s.W, s.c, s.B, s.D, s.L, s.K)
            let v = s.store.copyOfValues().map(Double.init)
            func param(_ name: String) -> ArraySlice<Double> { v[s.store["glomo." + name].range] }
            func graph(_ l: Int, _ h: Int, _ b: Int) -> [[Double]] {
                (0..<W).map { i in (0..<W).map { j in Double(s.graphs[(((l * K + h) * B + b) * W + i) * W + j]) } }
            }
            func matmul(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
                (0..<W).map { i in (0..<W).map { j in (0..<W).reduce(0) { $0 + a[i][$1] * b[$1][j] } } }
            }
            for b in 0..<B {
                // Candidates: m = c·K + h, c < L: G^c; c = L + l − 1: G^l · … · G^0.
                var cand = [[[Double]]](repeating: [], count: (2 * L - 1) * K)
                for h in 0..<K {
                    var product = graph(0, h, b)
                    for l in 0..<L { cand[l * K + h] = graph(l, h, b) }
                    for l in 1..<L {
                        product = matmul(graph(l, h, b), product)
                        cand[(L + l - 1) * K + h] = product
                    }
                }
                let M = cand.count
                let h = { (i: Int) in (0..<D).map { Double(s.features[(i * B + b) * D + $0]) } }
                for i in c..<W {
                    var logits = [Double](repeating: 0, count: M)
                    if weighting == .global {
                        logits = Array(param("mix.logits"))
                    } else {
                        let U = Array(param("mix.weight")), bias = Array(param("mix.bias"))
                        for m in 0..<M { logits[m] = bias[m] + (0..<D).reduce(0) { $0 + U[m * D + $1] * h(i)[$1] } }
                    }
                    let z = logits.map { exp($0) }.reduce(0, +)
                    let w = logits.map { exp($0) / z }
                    var y = [Double](repeating: 0, count: D)
                    for j in 0..<i {
                        let mij = (0..<M).reduce(0) { $0 + w[$1] * cand[$1][i][j] }
                        for k in 0..<D { y[k] += mij * h(j)[k] }
                    }
                    let gw = Array(param("gate.weight")), gb = Array(param("gate.bias")), x = h(i) + y
                    for k in 0..<D {
                        let zk = gb[k] + (0..<(2 * D)).reduce(0) { $0 + gw[k * 2 * D + $1] * x[$1] }
                        let g = 1 / (1 + exp(-zk))
                        let expected = g * h(i)[k] + (1 - g) * y[k]
                        XCTAssertEqual(Double(out[((i - c) * B + b) * D + k]), expected, accuracy: 1e-5,
                                       "\(weighting) b \(b) i \(i) k \(k)")
                    }
                }
            }
        }
    }

    /// Global weights are softmax(logits): checked against values computed here in Double.
    func testGlobalWeightsAreSoftmaxOfLogits() {
        let s = makeSetup(.global)
        _ = s.run()
        let logits = Array(s.store.values(s.mixer.logits!)).map(Double.init)
        let z = logits.map { exp($0) }.reduce(0, +)
        let w = s.mixer.mixtureWeights(row: 1, sequence: 1)
        for m in 0..<w.count { XCTAssertEqual(Double(w[m]), exp(logits[m]) / z, accuracy: 1e-6) }
    }

    /// Output row i depends on features 0…i and graph rows ≤ i only; changing later positions
    /// (features and graph rows) leaves earlier rows bit-identical.
    func testMixerIsCausal() {
        for weighting in [GraphMixWeighting.global, .perToken] {
            let s = makeSetup(weighting, W: 6, c: 1)
            let base = s.run()
            for t in s.c..<(s.W - 1) {
                var f = s.features, g = s.graphs
                for i in (t + 1)..<s.W { for k in 0..<(s.B * s.D) { f[i * s.B * s.D + k] += 3 } }
                for blk in 0..<(s.L * s.K * s.B) {
                    for i in (t + 1)..<s.W { for j in 0..<i { g[blk * s.W * s.W + i * s.W + j] *= 0.5 } }
                }
                let changed = s.run(features: f, graphs: g)
                let upTo = (t - s.c + 1) * s.B * s.D
                XCTAssertEqual(Array(changed[0..<upTo]), Array(base[0..<upTo]), "\(weighting), t = \(t)")
                XCTAssertNotEqual(Array(changed[upTo...]), Array(base[upTo...]), "\(weighting), t = \(t)")
            }
        }
    }

    /// End to end: embeddings → graph predictor → mixer; changing embeddings after t leaves the
    /// mixed output up to t unchanged.
    func testPredictorAndMixerAreCausal() {
        let (gp, gstore) = makeGraphPredictor(E: 4, L: 2, K: 2, maxSteps: 6, maxBatch: 2)
        _ = gstore
        let s = makeSetup(.global, W: 6, c: 0, B: 2, D: 3, L: 2, K: 2)
        let x = randomArray(6 * 2 * 4, seed: 21)
        let base = s.run(graphs: graphs(gp, x, T: 6, B: 2))
        for t in 0..<5 {
            var x2 = x
            for i in ((t + 1) * 2 * 4)..<x2.count { x2[i] += 1 }
            let out = s.run(graphs: graphs(gp, x2, T: 6, B: 2))
            let upTo = (t + 1) * 2 * 3
            XCTAssertEqual(Array(out[0..<upTo]), Array(base[0..<upTo]), "t = \(t)")
        }
    }

    /// Rows of every candidate sum to at most 1 (products of sub-stochastic matrices), row 0 and
    /// product rows without a multi-hop path are zero; the mixed graph is a convex combination.
    func testCandidateRowSums() {
        let (gp, _) = makeGraphPredictor(E: 4, L: 3, K: 2, maxSteps: 6, maxBatch: 2)
        let T = 6, B = 2, L = 3, K = 2
        let g = graphs(gp, randomArray(T * B * 4, seed: 5), T: T, B: B)
        var cand = [Float](repeating: 0, count: (2 * L - 1) * K * B * T * T)
        g.withUnsafeBufferPointer { gb in
            cand.withUnsafeMutableBufferPointer {
                GraphProducts.forward(candidates: $0.baseAddress!, graphs: gb.baseAddress!, layers: L, heads: K, batch: B, steps: T)
            }
        }
        for blk in 0..<((2 * L - 1) * K * B) {
            let c = blk / (K * B), hops = c < L ? 1 : c - L + 2
            for i in 0..<T {
                let row = cand[(blk * T * T + i * T)..<(blk * T * T + (i + 1) * T)]
                XCTAssertLessThanOrEqual(row.reduce(0, +), 1 + 1e-5)
                for j in 0..<T where j > i - hops { XCTAssertEqual(row[row.startIndex + j], 0, "candidate \(c) row \(i) col \(j)") }
            }
        }
    }
}
