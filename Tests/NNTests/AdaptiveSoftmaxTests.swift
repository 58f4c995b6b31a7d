import XCTest
import Foundation
@testable import NN
import TestFixtures

/// `AdaptiveLogSoftmax`: finite differences, normalization, PyTorch's
/// `nn.AdaptiveLogSoftmaxWithLoss` (Fixtures/make_adaptive_softmax_fixture.py), cutoff rules.
final class AdaptiveSoftmaxTests: XCTestCase {
    /// Runs `forward` on arrays; returns (loss, count, per-row log-probabilities).
    func forward(_ asm: AdaptiveLogSoftmax, _ x: [Float], _ p: [Float], _ y: [Int32], _ mask: [Float]?, n: Int)
        -> (loss: Double, count: Double, logProbs: [Float]) {
        var lp = [Float](repeating: .nan, count: n)
        let r: (loss: Double, count: Double)
        if let mask {
            r = asm.forward(logProbs: &lp, input: x, parameters: p, targets: y, mask: mask, n: n)
        } else {
            r = asm.forward(logProbs: &lp, input: x, parameters: p, targets: y, mask: nil, n: n)
        }
        return (r.loss, r.count, lp)
    }

    /// The gradient, normalization and PyTorch tests again on two threads with every split
    /// forced (head bias fill, head softmax rows, GEMMs, bias column sums).
    func testOnTwoThreadsWithEverySplit() throws {
        try onTwoThreadsSplittingEverything {
            try testGradientsMatchFiniteDifferences()
            try testLogProbRowsSumToOneAndMatchForward()
            try testMatchesPyTorchAdaptiveLogSoftmaxWithLoss()
        }
    }

    /// Every parameter and the input against central differences of `scale · loss`, with a
    /// masked row (whose target is out of range: it must not be read) and a cluster whose
    /// projection is 0 wide. Backward twice doubles every gradient.
    func testGradientsMatchFiniteDifferences() throws {
        for (div, bias) in [(2.0, true), (4.0, false)] {
            // K = 8, cutoffs [5, 9, 15], V = 23: projections 4, 2, 1 (div 2) or 2, 0, 0 (div 4).
            let K = 8, V = 23, N = 10
            let asm = try AdaptiveLogSoftmax(inputSize: K, classCount: V, cutoffs: [5, 9, 15], divValue: div, headBias: bias)
            XCTAssertEqual(asm.projectionSizes, div == 2 ? [4, 2, 1] : [2, 0, 0])
            XCTAssertEqual(asm.clusterSizes, [4, 6, 8])
            var rng = RNG(seed: 7)
            var p = [Float](repeating: 0, count: asm.parameterCount)
            asm.initialize(parameters: &p, rng: &rng)
            for k in p.indices { p[k] *= 2 }
            let x = randomArray(N * K, &rng)
            let y: [Int32] = [0, 4, 5, 8, 9, 14, -1, 15, 22, 11]   // head, every cluster, boundaries
            let mask: [Float] = [1, 1, 1, 1, 1, 1, 0, 1, 1, 1]
            let scale: Float = 0.37

            var dp = [Float](repeating: 0, count: p.count), dx = [Float](repeating: 0, count: x.count)
            let (_, count, _) = forward(asm, x, p, y, mask, n: N)
            XCTAssertEqual(count, 9)
            asm.backward(dinput: &dx, dparameters: &dp, input: x, parameters: p, targets: y, mask: mask, n: N, scale: scale)
            for (name, offset, shape) in asm.parameterTensors {
                let c = shape.reduce(1, *)
                if c == 0 { continue }
                assertGradient("div \(div) d\(name)", values: Array(p[offset..<offset + c]), analytic: Array(dp[offset..<offset + c])) { v in
                    var q = p; q.replaceSubrange(offset..<offset + c, with: v)
                    return Double(scale) * self.forward(asm, x, q, y, mask, n: N).loss
                }
            }
            assertGradient("div \(div) dinput", values: x, analytic: dx) { v in
                Double(scale) * self.forward(asm, v, p, y, mask, n: N).loss
            }
            // The masked row gets no input gradient.
            XCTAssertEqual(Array(dx[6 * K..<7 * K]), [Float](repeating: 0, count: K))

            // Backward adds: a second call doubles everything.
            var dp2 = dp, dx2 = dx
            _ = forward(asm, x, p, y, mask, n: N)
            asm.backward(dinput: &dx2, dparameters: &dp2, input: x, parameters: p, targets: y, mask: mask, n: N, scale: scale)
            assertDoubled(dp2, dp, "dparameters")
            assertDoubled(dx2, dx, "dinput")
        }
    }

    /// `logProb` rows are normalized over all V words (in Double), and agree with `forward`'s
    /// per-target log-probabilities; the loss is minus their sum.
    func testLogProbRowsSumToOneAndMatchForward() throws {
        let K = 32, V = 300, N = 6
        for (cutoffs, bias) in [([20, 60, 150], false), ([1, 2], true), ([299], true)] {
            let asm = try AdaptiveLogSoftmax(inputSize: K, classCount: V, cutoffs: cutoffs, headBias: bias)
            var rng = RNG(seed: UInt64(cutoffs.count))
            var p = [Float](repeating: 0, count: asm.parameterCount)
            asm.initialize(parameters: &p, rng: &rng)
            for k in p.indices { p[k] *= 4 }
            let x = randomArray(N * K, &rng, scale: 3)
            var rows = [Float](repeating: .nan, count: N * V)
            asm.logProb(output: &rows, input: x, parameters: p, n: N)
            let y: [Int32] = [0, Int32(cutoffs[0]), Int32(V - 1), 17, 150, 299]
            let (loss, count, lp) = forward(asm, x, p, y, nil, n: N)
            XCTAssertEqual(count, Double(N))
            var sumLogProbs = 0.0
            for r in 0..<N {
                let total = rows[r * V..<(r + 1) * V].reduce(0.0) { $0 + exp(Double($1)) }
                XCTAssertEqual(total, 1, accuracy: 1e-5, "cutoffs \(cutoffs) row \(r)")
                XCTAssertEqual(lp[r], rows[r * V + Int(y[r])], accuracy: 1e-5 * max(1, abs(lp[r])), "row \(r)")
                sumLogProbs += Double(lp[r])
            }
            XCTAssertEqual(loss, -sumLogProbs, accuracy: 1e-9 * max(1, abs(loss)))
            XCTAssertFalse(rows.contains { !$0.isFinite })
        }
    }

    /// Log-probabilities, loss, full rows and every gradient against PyTorch's
    /// `nn.AdaptiveLogSoftmaxWithLoss` within 1e-5 (relative above 1, absolute below), for a
    /// module with head bias and div 2 and one with the defaults (div 4, a 0-wide projection).
    func testMatchesPyTorchAdaptiveLogSoftmaxWithLoss() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent("adaptive_softmax.json")
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        func floats(_ any: Any?) -> [Float] { (any as! [NSNumber]).map { $0.floatValue } }
        for name in ["bias_div2", "default_div4"] {
            let f = try XCTUnwrap(root[name] as? [String: Any], name)
            let K = (f["input_size"] as! NSNumber).intValue, V = (f["n_classes"] as! NSNumber).intValue
            let N = (f["n"] as! NSNumber).intValue
            let cutoffs = (f["cutoffs"] as! [NSNumber]).map { $0.intValue }
            let asm = try AdaptiveLogSoftmax(inputSize: K, classCount: V, cutoffs: cutoffs,
                                             divValue: (f["div_value"] as! NSNumber).doubleValue,
                                             headBias: f["head_bias"] as! Bool)
            let params = f["params"] as! [String: Any], dparams = f["dparams"] as! [String: Any]
            XCTAssertEqual(Set(params.keys), Set(asm.parameterTensors.map { $0.name }), name)
            var p = [Float](repeating: .nan, count: asm.parameterCount)
            for (tensor, offset, shape) in asm.parameterTensors {
                let v = floats(params[tensor])
                XCTAssertEqual(v.count, shape.reduce(1, *), tensor)
                p.replaceSubrange(offset..<offset + v.count, with: v)
            }
            let x = floats(f["input"]), y = (f["target"] as! [NSNumber]).map { $0.int32Value }

            let (loss, count, lp) = forward(asm, x, p, y, nil, n: N)
            assertClose(lp, floats(f["output"]), "\(name) output")
            assertClose([Float(loss / count)], [(f["loss"] as! NSNumber).floatValue], "\(name) loss")
            var dp = [Float](repeating: 0, count: p.count), dx = [Float](repeating: 0, count: x.count)
            asm.backward(dinput: &dx, dparameters: &dp, input: x, parameters: p, targets: y, mask: nil, n: N,
                         scale: Float(1 / count))
            assertClose(dx, floats(f["dinput"]), "\(name) dinput")
            for (tensor, offset, shape) in asm.parameterTensors {
                let c = shape.reduce(1, *)
                assertClose(Array(dp[offset..<offset + c]), floats(dparams[tensor]), "\(name) d\(tensor)", allowEmpty: true)
            }
            var rows = [Float](repeating: .nan, count: N * V)
            asm.logProb(output: &rows, input: x, parameters: p, n: N)
            assertClose(rows, floats(f["log_prob"]), "\(name) log_prob")
        }
    }

    func assertClose(_ a: [Float], _ b: [Float], _ name: String, tol: Float = 1e-5, allowEmpty: Bool = false,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "\(name): size", file: file, line: line)
        if !allowEmpty { XCTAssertFalse(b.isEmpty, name, file: file, line: line) }
        var worst: Float = 0
        for k in 0..<min(a.count, b.count) { worst = max(worst, abs(a[k] - b[k]) / max(1, abs(b[k]))) }
        XCTAssertLessThanOrEqual(worst, tol, "\(name): max error \(worst)", file: file, line: line)
    }

    /// Parameters registered in a store form one contiguous slice under PyTorch's names.
    func testRegisterInStore() throws {
        let asm = try AdaptiveLogSoftmax(inputSize: 8, classCount: 23, cutoffs: [5, 9], headBias: true)
        let store = ParameterStore()
        store.register("before", shape: [3])
        let first = asm.register(in: store, prefix: "decoder.")
        XCTAssertEqual(first.offset, 3)
        XCTAssertEqual(store.count, 3 + asm.parameterCount)
        XCTAssertEqual(store.views.map { $0.name }, ["before", "decoder.head.weight", "decoder.head.bias",
                                                     "decoder.tail.0.0.weight", "decoder.tail.0.1.weight",
                                                     "decoder.tail.1.0.weight", "decoder.tail.1.1.weight"])
        // head [5 + 2, 8] + [7]; tail 0: [2, 8], [4, 2]; tail 1: 8 / 16 = 0 wide: [0, 8], [14, 0].
        XCTAssertEqual(store.views.dropFirst().map { $0.shape }, [[7, 8], [7], [2, 8], [4, 2], [0, 8], [14, 0]])
    }

    /// Bad cutoffs and division values are refused with one line saying what is wrong.
    func testCutoffValidationErrors() {
        func message(_ cutoffs: [Int], V: Int = 100, div: Double = 4) -> String? {
            do {
                _ = try AdaptiveLogSoftmax(inputSize: 8, classCount: V, cutoffs: cutoffs, divValue: div)
                return nil
            } catch let e as AdaptiveSoftmaxError {
                XCTAssertFalse(e.description.contains("\n"))
                return e.description
            } catch {
                XCTFail("unexpected error \(error)")
                return nil
            }
        }
        XCTAssertEqual(message([]), "adaptive softmax cutoffs: need at least one cutoff")
        XCTAssertEqual(message([0, 10]), "adaptive softmax cutoffs [0,10]: cutoff 0 is not positive")
        XCTAssertEqual(message([-5]), "adaptive softmax cutoffs [-5]: cutoff -5 is not positive")
        XCTAssertEqual(message([10, 100]), "adaptive softmax cutoffs [10,100]: cutoff 100 is not below the vocabulary size 100")
        XCTAssertEqual(message([10, 500]), "adaptive softmax cutoffs [10,500]: cutoff 500 is not below the vocabulary size 100")
        XCTAssertEqual(message([10, 20, 10]), "adaptive softmax cutoffs [10,20,10]: cutoff 10 appears twice")
        XCTAssertEqual(message([10, 10]), "adaptive softmax cutoffs [10,10]: cutoff 10 appears twice")
        XCTAssertEqual(message([30, 20]), "adaptive softmax cutoffs [30,20]: not increasing (20 after 30)")
        XCTAssertEqual(message([5], V: 1), "adaptive softmax cutoffs [5]: cutoff 5 is not below the vocabulary size 1")
        XCTAssertEqual(message([10], div: 0), "adaptive softmax: division value 0.0 must be a positive number")
        XCTAssertEqual(message([10], div: .nan), "adaptive softmax: division value nan must be a positive number")
        XCTAssertNil(message([1, 99]))
        XCTAssertNil(message([50]))
    }

    /// Projection widths are Python's `int(K // div ** (i + 1))`, as PyTorch computes them.
    func testProjectionSizesFollowPyTorch() throws {
        // Values from Python: [int(16 // 4.0 ** (i + 1)) for i in range(3)] == [4, 1, 0] etc.
        XCTAssertEqual(try AdaptiveLogSoftmax(inputSize: 16, classCount: 40, cutoffs: [8, 20, 30]).projectionSizes, [4, 1, 0])
        XCTAssertEqual(try AdaptiveLogSoftmax(inputSize: 200, classCount: 40, cutoffs: [8, 20, 30], divValue: 4).projectionSizes, [50, 12, 3])
        XCTAssertEqual(try AdaptiveLogSoftmax(inputSize: 100, classCount: 40, cutoffs: [8, 20], divValue: 1.5).projectionSizes, [66, 44])
        XCTAssertEqual(try AdaptiveLogSoftmax(inputSize: 1, classCount: 40, cutoffs: [8], divValue: 0.1).projectionSizes, [9])  // 1 // 0.1 == 9.0 in Python
    }

    /// The cutoff rule, on hand-counted vocabularies.
    func testChooseCutoffs() throws {
        // 100 tokens; 80 are covered by the first 3 words (50+20+10), 90 by the first 5
        // (50+20+10+8+5 = 93 ≥ 90 > 88). 3·4 = 12 ≥ V = 9: no further boundary.
        let small = [50, 20, 10, 8, 5, 3, 2, 1, 1]
        XCTAssertEqual(try AdaptiveLogSoftmax.chooseCutoffs(counts: small), [3])
        XCTAssertEqual(try AdaptiveLogSoftmax.chooseCutoffs(counts: small, headCoverage: 0.9), [5])
        XCTAssertEqual(try AdaptiveLogSoftmax.chooseCutoffs(counts: small, headCoverage: 0.5), [1, 4])
        // Two words hold 90 of 100 tokens in a vocabulary of 100: boundaries 2, 8, 32 (128 ≥ 100);
        // the last cluster (68 words) is larger than the one before (24): kept.
        let wide = [45, 45] + [Int](repeating: 0, count: 88) + [Int](repeating: 1, count: 10)
        XCTAssertEqual(try AdaptiveLogSoftmax.chooseCutoffs(counts: wide), [2, 8, 32])
        // The same head in a vocabulary of 40: 2, 8, 32, but the last cluster (8 words) is
        // smaller than the one before (24), so it joins it.
        let narrow = [45, 45] + [Int](repeating: 1, count: 10) + [Int](repeating: 0, count: 28)
        XCTAssertEqual(try AdaptiveLogSoftmax.chooseCutoffs(counts: narrow), [2, 8])
        // Growth 2 on the vocabulary of 100: 2, 4, 8, 16, 32, 64; last cluster 36 ≥ 32.
        XCTAssertEqual(try AdaptiveLogSoftmax.chooseCutoffs(counts: wide, growth: 2), [2, 4, 8, 16, 32, 64])
        // Full coverage would put every word in the head: one word is left for a cluster.
        XCTAssertEqual(try AdaptiveLogSoftmax.chooseCutoffs(counts: [1, 1, 1, 1], headCoverage: 1), [3])
        XCTAssertEqual(try AdaptiveLogSoftmax.chooseCutoffs(counts: [0, 0, 0]), [1])
        XCTAssertThrowsError(try AdaptiveLogSoftmax.chooseCutoffs(counts: [7]))
        XCTAssertThrowsError(try AdaptiveLogSoftmax.chooseCutoffs(counts: [7, 1], headCoverage: 0))
        XCTAssertThrowsError(try AdaptiveLogSoftmax.chooseCutoffs(counts: [7, 1], growth: 1))
        // Zipf counts over 10k words: whatever the head, the result passes validation.
        let zipf = (1...10_000).map { 1_000_000 / $0 }
        let cuts = try AdaptiveLogSoftmax.chooseCutoffs(counts: zipf)
        XCTAssertNoThrow(try AdaptiveLogSoftmax.validate(cutoffs: cuts, classCount: 10_000))
    }
}
