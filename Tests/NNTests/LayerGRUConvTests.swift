import XCTest
import Foundation
@testable import NN
import NNTestSupport

final class LayerGRUConvTests: XCTestCase {
    func testGRUCellHandComputed() {
        // One unit: W_ih = [r, z, n] = [0.5, -0.4, 0.9], W_hh = [0.3, 0.2, -0.7],
        // b_ih = [0.1, 0.2, 0.3], b_hh = [-0.1, 0.05, 0.25]; x = 1.5, h = -0.6.
        let cell = GRUCell(inputSize: 1, hiddenSize: 1, maxBatch: 1)
        let p: [Float] = [0.5, -0.4, 0.9, 0.3, 0.2, -0.7, 0.1, 0.2, 0.3, -0.1, 0.05, 0.25]
        var h1: [Float] = [0], cache = [Float](repeating: 0, count: cell.cacheSize(batch: 1))
        cell.forward(hNext: &h1, cache: &cache, input: [1.5], h: [-0.6], parameters: p, batch: 1)
        func s(_ v: Double) -> Double { 1 / (1 + exp(-v)) }
        let x = 1.5, h = -0.6
        let r = s(0.5 * x + 0.1 + 0.3 * h - 0.1), z = s(-0.4 * x + 0.2 + 0.2 * h + 0.05)
        let n = tanh(0.9 * x + 0.3 + r * (-0.7 * h + 0.25))
        XCTAssertEqual(Double(h1[0]), (1 - z) * n + z * h, accuracy: 2e-6)
    }

    func testGRUCellGradients() {
        var rng = RNG(seed: 12)
        let I = 3, H = 4, B = 2
        let cell = GRUCell(inputSize: I, hiddenSize: H, maxBatch: B)
        let p = randomArray(cell.parameterCount, &rng, scale: 0.6)
        let x = randomArray(B * I, &rng), h = randomArray(B * H, &rng), dy = randomArray(B * H, &rng)
        var cache = [Float](repeating: 0, count: cell.cacheSize(batch: B))
        func loss(_ x: [Float], _ h: [Float], _ p: [Float]) -> Double {
            var y = [Float](repeating: 0, count: B * H), cache = [Float](repeating: 0, count: cell.cacheSize(batch: B))
            cell.forward(hNext: &y, cache: &cache, input: x, h: h, parameters: p, batch: B)
            return GradCheck.weightedSum(y, dy)
        }
        var y = [Float](repeating: 0, count: B * H)
        cell.forward(hNext: &y, cache: &cache, input: x, h: h, parameters: p, batch: B)
        var dx = [Float](repeating: 0, count: B * I), dh = [Float](repeating: 0, count: B * H)
        var dp = [Float](repeating: 0, count: p.count)
        cell.backward(dinput: &dx, dh: &dh, dparameters: &dp, dhNext: dy, cache: cache, input: x, h: h, parameters: p, batch: B)
        assertGradient("dinput", values: x, analytic: dx) { loss($0, h, p) }
        assertGradient("dh", values: h, analytic: dh) { loss(x, $0, p) }
        assertGradient("dparameters", values: p, analytic: dp) { loss(x, h, $0) }
        let dp1 = dp
        cell.backward(dinput: nil, dh: &dh, dparameters: &dp, dhNext: dy, cache: cache, input: x, h: h, parameters: p, batch: B)
        assertDoubled(dp, dp1, "dparameters")
    }

    func testConv1dIsCausalHandComputed() {
        // Cin = Cout = 1, K = 2, weight [w0, w1] = [2, 3]: y_t = 2·x_{t-1} + 3·x_t + 1.
        let conv = Conv1d(inputChannels: 1, outputChannels: 1, kernelSize: 2)
        var y = [Float](repeating: 0, count: 3)
        conv.forward(output: &y, input: [1, 10, 100], weight: [2, 3], bias: [1], steps: 3, batch: 1)
        XCTAssertEqual(y, [4, 33, 321])
    }

    func testConv1dGradients() {
        var rng = RNG(seed: 13)
        let Ci = 2, Co = 3, K = 3, T = 4, B = 2
        let conv = Conv1d(inputChannels: Ci, outputChannels: Co, kernelSize: K)
        let x = randomArray(T * B * Ci, &rng), w = randomArray(conv.weightCount, &rng), b = randomArray(Co, &rng)
        let dy = randomArray(T * B * Co, &rng)
        func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
            let c = Conv1d(inputChannels: Ci, outputChannels: Co, kernelSize: K)
            var y = [Float](repeating: 0, count: T * B * Co)
            c.forward(output: &y, input: x, weight: w, bias: b, steps: T, batch: B)
            return GradCheck.weightedSum(y, dy)
        }
        var y = [Float](repeating: 0, count: T * B * Co)
        conv.forward(output: &y, input: x, weight: w, bias: b, steps: T, batch: B)
        var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: Co)
        conv.backward(dinput: &dx, dweight: &dw, dbias: &db, doutput: dy, weight: w, steps: T, batch: B)
        assertGradient("dinput", values: x, analytic: dx) { loss($0, w, b) }
        assertGradient("dweight", values: w, analytic: dw) { loss(x, $0, b) }
        assertGradient("dbias", values: b, analytic: db) { loss(x, w, $0) }
        let dx1 = dx
        conv.backward(dinput: &dx, dweight: &dw, dbias: &db, doutput: dy, weight: w, steps: T, batch: B)
        assertDoubled(dx, dx1, "dinput")
    }
}
