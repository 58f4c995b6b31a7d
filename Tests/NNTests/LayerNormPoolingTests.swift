import XCTest
import Foundation
@testable import NN
import NNTestSupport

final class LayerNormPoolingTests: XCTestCase {
    func testLayerNormHandComputed() {
        // x = [1, 2, 3, 6]: mean 3, biased var 3.5.
        let ln = LayerNorm(size: 4)
        var y = [Float](repeating: 0, count: 4), mu: [Float] = [0], rs: [Float] = [0]
        ln.forward(output: &y, mean: &mu, rstd: &rs, input: [1, 2, 3, 6], weight: [1, 2, 1, 1], bias: [0, 0, 0, 0.5], n: 1)
        let r = 1 / (3.5 + 1e-5).squareRoot()
        let expected = [-2 * r, -1 * r * 2, 0, 3 * r + 0.5]
        for k in 0..<4 { XCTAssertEqual(Double(y[k]), expected[k], accuracy: 1e-6) }
        XCTAssertEqual(mu[0], 3)
    }

    func testLayerNormGradients() {
        var rng = RNG(seed: 9)
        let N = 3, C = 6
        let ln = LayerNorm(size: C)
        let x = randomArray(N * C, &rng, scale: 2), w = randomArray(C, &rng), b = randomArray(C, &rng)
        let dy = randomArray(N * C, &rng)
        func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
            var y = [Float](repeating: 0, count: N * C), mu = [Float](repeating: 0, count: N), rs = mu
            ln.forward(output: &y, mean: &mu, rstd: &rs, input: x, weight: w, bias: b, n: N)
            return GradCheck.weightedSum(y, dy)
        }
        var y = [Float](repeating: 0, count: N * C), mu = [Float](repeating: 0, count: N), rs = mu
        ln.forward(output: &y, mean: &mu, rstd: &rs, input: x, weight: w, bias: b, n: N)
        var dx = [Float](repeating: 0, count: N * C), dw = [Float](repeating: 0, count: C), db = dw
        ln.backward(dinput: &dx, dweight: &dw, dbias: &db, doutput: dy, input: x, weight: w, mean: mu, rstd: rs, n: N)
        assertGradient("dx", values: x, analytic: dx, eps: 1e-3) { loss($0, w, b) }
        assertGradient("dw", values: w, analytic: dw, eps: 1e-3) { loss(x, $0, b) }
        assertGradient("db", values: b, analytic: db, eps: 1e-3) { loss(x, w, $0) }
        let dx1 = dx
        ln.backward(dinput: &dx, dweight: &dw, dbias: &db, doutput: dy, input: x, weight: w, mean: mu, rstd: rs, n: N)
        assertDoubled(dx, dx1, "dx")
    }

    func testMeanPoolingHandComputedAndGradient() {
        // T = 3, B = 2, C = 1; batch 0 uses steps 0, 1; batch 1 uses none.
        let x: [Float] = [1, 10, 3, 20, 100, 30]
        let mask: [Float] = [1, 0, 1, 0, 0, 0]
        var y: [Float] = [9, 9]
        MeanPooling.forward(output: &y, input: x, mask: mask, steps: 3, batch: 2, channels: 1)
        XCTAssertEqual(y, [2, 0])
        MeanPooling.forward(output: &y, input: x, mask: nil, steps: 3, batch: 2, channels: 1)
        XCTAssertEqual(y, [104.0 / 3, 20])

        var rng = RNG(seed: 10)
        let T = 4, B = 3, C = 2
        let xs = randomArray(T * B * C, &rng), dy = randomArray(B * C, &rng)
        let m: [Float] = [1, 1, 0, 1, 0, 0, 0, 1, 0, 1, 1, 0]
        var dx = [Float](repeating: 0, count: T * B * C)
        MeanPooling.backward(dinput: &dx, doutput: dy, mask: m, steps: T, batch: B, channels: C)
        assertGradient("dinput", values: xs, analytic: dx) { x in
            var y = [Float](repeating: 0, count: B * C)
            MeanPooling.forward(output: &y, input: x, mask: m, steps: T, batch: B, channels: C)
            return GradCheck.weightedSum(y, dy)
        }
        let dx1 = dx
        MeanPooling.backward(dinput: &dx, doutput: dy, mask: m, steps: T, batch: B, channels: C)
        assertDoubled(dx, dx1, "mean pooling")
    }

    func testMaxPoolingHandComputedAndGradient() {
        // T = 3, B = 2, C = 1; the masked step 2 of batch 0 holds the largest value but loses.
        let x: [Float] = [1, -5, 3, -7, 100, -6]
        let mask: [Float] = [1, 1, 1, 1, 0, 1]
        var y: [Float] = [0, 0], idx: [Int32] = [0, 0]
        MaxPooling.forward(output: &y, argmax: &idx, input: x, mask: mask, steps: 3, batch: 2, channels: 1)
        XCTAssertEqual(y, [3, -5])
        XCTAssertEqual(idx, [1, 0])
        MaxPooling.forward(output: &y, argmax: &idx, input: x, mask: [0, 1, 0, 1, 0, 1], steps: 3, batch: 2, channels: 1)
        XCTAssertEqual(y, [0, -5]); XCTAssertEqual(idx, [-1, 0])

        var rng = RNG(seed: 11)
        let T = 4, B = 2, C = 3
        let xs = randomArray(T * B * C, &rng), dy = randomArray(B * C, &rng)
        let m: [Float] = [1, 1, 0, 1, 1, 0, 1, 1]
        var ys = [Float](repeating: 0, count: B * C), a = [Int32](repeating: 0, count: B * C)
        MaxPooling.forward(output: &ys, argmax: &a, input: xs, mask: m, steps: T, batch: B, channels: C)
        var dx = [Float](repeating: 0, count: T * B * C)
        MaxPooling.backward(dinput: &dx, doutput: dy, argmax: a, batch: B, channels: C)
        assertGradient("dinput", values: xs, analytic: dx, eps: 1e-3) { x in
            var y = [Float](repeating: 0, count: B * C), a = [Int32](repeating: 0, count: B * C)
            MaxPooling.forward(output: &y, argmax: &a, input: x, mask: m, steps: T, batch: B, channels: C)
            return GradCheck.weightedSum(y, dy)
        }
        let dx1 = dx
        MaxPooling.backward(dinput: &dx, doutput: dy, argmax: a, batch: B, channels: C)
        assertDoubled(dx, dx1, "max pooling")
    }
}
