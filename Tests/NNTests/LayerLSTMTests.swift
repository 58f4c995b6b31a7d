import XCTest
import Foundation
@testable import NN
import TestFixtures
import NNTestSupport

final class LayerLSTMTests: XCTestCase {
    /// The gradient checks and the carried state again on two threads with every split forced
    /// (the recurrent GEMMs' columns and the gate math's batch rows cut between threads).
    func testOnTwoThreadsWithEverySplit() {
        onTwoThreadsSplittingEverything {
            testGradientsTwoLayersWithCarriedState()
            testGradientsWideHiddenSIMDPath()
            testStateCarriesBetweenWindows()
        }
    }

    func testParameterLayout() {
        let lstm = LSTM(inputSize: 3, hiddenSize: 4, batchSize: 1, maxSteps: 1)
        // 16·3 + 16·4 + 16 + 16 = 144.
        XCTAssertEqual(lstm.parameterCount, 144)
        let t = lstm.parameterTensors
        XCTAssertEqual(t.map(\.name), ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"])
        XCTAssertEqual(t.map(\.offset), [0, 48, 112, 128])
        XCTAssertEqual(t.map(\.shape), [[16, 3], [16, 4], [16], [16]])
        // A stack of two (as the LM builds it) has nn.LSTM(3, 4, 2)'s layout: layer 1 reads H.
        let stack = LSTMStack(inputSize: 3, hiddenSize: 4, numLayers: 2, batchSize: 1, maxSteps: 1)
        XCTAssertEqual(stack.parameterCount, 304)  // 144 + (16·4 + 16·4 + 32)
        XCTAssertEqual(stack.parameterTensors.map(\.name), ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                                            "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"])
        XCTAssertEqual(stack.parameterTensors.map(\.offset), [0, 48, 112, 128, 144, 208, 272, 288])
        XCTAssertEqual(stack.parameterTensors[4].shape, [16, 4])
    }

    /// One step, one unit, computed by hand with libm.
    func testSingleStepHandComputed() {
        let lstm = LSTM(inputSize: 1, hiddenSize: 1, batchSize: 1, maxSteps: 1)
        // W_ih = [i, f, g, o] = [0.5, -0.3, 0.8, 0.1], W_hh = [0.2, 0.4, -0.6, 0.7], b_ih = 0.1s, b_hh = 0
        let p: [Float] = [0.5, -0.3, 0.8, 0.1, 0.2, 0.4, -0.6, 0.7, 0.1, 0.1, 0.1, 0.1, 0, 0, 0, 0]
        lstm.hiddenState = [0.3]; lstm.cellState = [-0.2]
        var h: [Float] = [0]
        lstm.forward(output: &h, input: [2], parameters: p, steps: 1)
        func s(_ z: Double) -> Double { 1 / (1 + exp(-z)) }
        let x = 2.0, h0 = 0.3, c0 = -0.2
        let i = s(0.5 * x + 0.2 * h0 + 0.1), f = s(-0.3 * x + 0.4 * h0 + 0.1)
        let g = tanh(0.8 * x - 0.6 * h0 + 0.1), o = s(0.1 * x + 0.7 * h0 + 0.1)
        let c = f * c0 + i * g
        XCTAssertEqual(Double(h[0]), o * tanh(c), accuracy: 2e-6)
        XCTAssertEqual(Double(lstm.cellState[0]), c, accuracy: 2e-6)
        XCTAssertEqual(lstm.hiddenState, h)
    }

    /// Two stacked layers (as the LM stacks them), from a carried state.
    func testGradientsTwoLayersWithCarriedState() {
        var rng = RNG(seed: 3)
        let I = 3, H = 4, L = 2, B = 2, T = 3
        let lstm = LSTMStack(inputSize: I, hiddenSize: H, numLayers: L, batchSize: B, maxSteps: 4)
        let p = randomArray(lstm.parameterCount, &rng, scale: 0.5)
        let x = randomArray(T * B * I, &rng)
        let dy = randomArray(T * B * H, &rng)
        // A first window sets a nonzero carried state; every evaluation restarts from it.
        var scratch = [Float](repeating: 0, count: 4 * B * H)
        lstm.forward(output: &scratch, input: randomArray(4 * B * I, &rng), parameters: p, steps: 4)
        let h0 = lstm.hiddenState, c0 = lstm.cellState
        XCTAssertTrue(h0.contains { $0 != 0 })
        func loss(_ x: [Float], _ p: [Float]) -> Double {
            lstm.hiddenState = h0; lstm.cellState = c0
            var y = [Float](repeating: 0, count: T * B * H)
            lstm.forward(output: &y, input: x, parameters: p, steps: T)
            return GradCheck.weightedSum(y, dy)
        }
        _ = loss(x, p)
        var dx = [Float](repeating: 0, count: T * B * I), dp = [Float](repeating: 0, count: p.count)
        lstm.backward(dinput: &dx, dparameters: &dp, doutput: dy, input: x, parameters: p)
        assertGradient("dinput", values: x, analytic: dx) { loss($0, p) }
        assertGradient("dparameters", values: p, analytic: dp) { loss(x, $0) }
        // Accumulation: a second backward doubles.
        let dp1 = dp
        _ = loss(x, p)
        lstm.backward(dinput: nil, dparameters: &dp, doutput: dy, input: x, parameters: p)
        assertDoubled(dp, dp1, "dparameters")
    }

    /// H = 11 runs the eight-lane SIMD path of the fused kernels plus a three-unit scalar tail.
    func testGradientsWideHiddenSIMDPath() {
        checkGradientsFromACarriedState(inputSize: 2, hiddenSize: 11, batchSize: 2, steps: 2, seed: 14)
    }

    /// Input and parameter gradients of one LSTM layer over `steps` steps from a random carried
    /// state, against central differences.
    func checkGradientsFromACarriedState(inputSize I: Int, hiddenSize H: Int, batchSize B: Int, steps T: Int, seed: UInt64,
                                         file: StaticString = #filePath, line: UInt = #line) {
        var rng = RNG(seed: seed)
        let lstm = LSTM(inputSize: I, hiddenSize: H, batchSize: B, maxSteps: T)
        let p = randomArray(lstm.parameterCount, &rng, scale: 0.4)
        let x = randomArray(T * B * I, &rng), dy = randomArray(T * B * H, &rng)
        let h0 = randomArray(B * H, &rng), c0 = randomArray(B * H, &rng)
        func loss(_ x: [Float], _ p: [Float]) -> Double {
            lstm.hiddenState = h0; lstm.cellState = c0
            var y = [Float](repeating: 0, count: T * B * H)
            lstm.forward(output: &y, input: x, parameters: p, steps: T)
            return GradCheck.weightedSum(y, dy)
        }
        _ = loss(x, p)
        var dx = [Float](repeating: 0, count: x.count), dp = [Float](repeating: 0, count: p.count)
        lstm.backward(dinput: &dx, dparameters: &dp, doutput: dy, input: x, parameters: p)
        assertGradient("dinput", values: x, analytic: dx, file: file, line: line) { loss($0, p) }
        assertGradient("dparameters", values: p, analytic: dp, file: file, line: line) { loss(x, $0) }
    }

    /// The time loop with the batch rows split between the threads for the whole window (9 rows:
    /// 4 and 5, so the 4-row kernel leaves a row over in each share) gives bitwise what the same
    /// loop gives with each step's columns split: outputs, carried state and both gradients. And
    /// on its own path the gradients pass the finite-difference check.
    func testRowSplitTimeLoopMatchesColumnSplitBitwise() {
        var rng = RNG(seed: 41)
        let I = 3, H = 20, B = 9, T = 5
        let p = randomArray(LSTM(inputSize: I, hiddenSize: H, batchSize: B, maxSteps: T).parameterCount, &rng, scale: 0.4)
        let x = randomArray(T * B * I, &rng), dy = randomArray(T * B * H, &rng)
        let h0 = randomArray(B * H, &rng), c0 = randomArray(B * H, &rng)
        func run(rowsPerThread: Int) -> [[Float]] {
            onTwoThreadsSplittingEverything {
                WorkerPool.shared.options.lstmRowsPerThread = rowsPerThread
                XCTAssertEqual(LSTM.splitsRows(batch: B, threads: 2), rowsPerThread <= 4)
                let lstm = LSTM(inputSize: I, hiddenSize: H, batchSize: B, maxSteps: T)
                lstm.hiddenState = h0; lstm.cellState = c0
                var y = [Float](repeating: 0, count: T * B * H)
                lstm.forward(output: &y, input: x, parameters: p, steps: T)
                var dx = [Float](repeating: 0, count: x.count), dp = [Float](repeating: 0, count: p.count)
                lstm.backward(dinput: &dx, dparameters: &dp, doutput: dy, input: x, parameters: p)
                return [y, lstm.hiddenState, lstm.cellState, dx, dp]
            }
        }
        let rows = run(rowsPerThread: 4), columns = run(rowsPerThread: 100)
        for (i, name) in ["output", "hidden state", "cell state", "dinput", "dparameters"].enumerated() {
            XCTAssertEqual(rows[i], columns[i], name)
        }
        // The finite-difference check, smaller (every parameter is perturbed): 8 rows, 4 a thread.
        onTwoThreadsSplittingEverything {
            XCTAssertTrue(LSTM.splitsRows(batch: 8, threads: 2))
            checkGradientsFromACarriedState(inputSize: 2, hiddenSize: 5, batchSize: 8, steps: 3, seed: 43)
        }
    }

    func testStateCarriesBetweenWindows() {
        // Running 4 steps at once equals running 2 + 2 steps with the carried state.
        var rng = RNG(seed: 4)
        let I = 2, H = 3, B = 2
        let a = LSTMStack(inputSize: I, hiddenSize: H, numLayers: 2, batchSize: B, maxSteps: 4)
        let b = LSTMStack(inputSize: I, hiddenSize: H, numLayers: 2, batchSize: B, maxSteps: 2)
        let p = randomArray(a.parameterCount, &rng, scale: 0.5), x = randomArray(4 * B * I, &rng)
        var ya = [Float](repeating: 0, count: 4 * B * H), yb = [Float](repeating: 0, count: 4 * B * H)
        a.forward(output: &ya, input: x, parameters: p, steps: 4)
        yb.withUnsafeMutableBufferPointer { y in
            x.withUnsafeBufferPointer { x in
                b.forward(output: y.baseAddress!, input: x.baseAddress!, parameters: p, steps: 2)
                b.forward(output: y.baseAddress! + 2 * B * H, input: x.baseAddress! + 2 * B * I, parameters: p, steps: 2)
            }
        }
        for k in 0..<ya.count { XCTAssertEqual(ya[k], yb[k], accuracy: 1e-6) }
        b.resetState()
        XCTAssertEqual(b.hiddenState, [Float](repeating: 0, count: 2 * B * H))
    }
}
