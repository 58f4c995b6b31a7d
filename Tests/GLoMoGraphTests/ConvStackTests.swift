import XCTest
import NN
@testable import GLoMoGraph
import NNTestSupport

final class ConvStackTests: XCTestCase {
    /// Finite differences through Conv1d → LayerNorm → ReLU, twice.
    func testGradients() {
        let T = 5, B = 2, E = 3, C = 4
        let store = ParameterStore()
        let stack = ConvStack(store: store, prefix: "s.", inputSize: E, channels: C, layers: 2, kernelSize: 3, maxRows: T * B)
        var rng = RNG(seed: 3)
        stack.initialize(rng: &rng)
        for v in store.views where v.name.contains("norm") {
            let p = store.values(v)
            for i in 0..<p.count { p[i] = v.name.hasSuffix("weight") ? rng.uniform(0.5, 1.5) : rng.uniform(-0.3, 0.3) }
        }
        let x = randomArray(T * B * E, seed: 4)
        let w = randomArray(T * B * C, seed: 5)
        func run(_ x: [Float]) -> [Float] {
            x.withUnsafeBufferPointer { stack.forward(input: $0.baseAddress!, steps: T, batch: B) }
            return Array(UnsafeBufferPointer(start: stack.output, count: T * B * C))
        }
        _ = run(x)
        store.zeroGradients()
        var dx = [Float](repeating: 0, count: x.count)
        dx.withUnsafeMutableBufferPointer { d in
            w.withUnsafeBufferPointer { stack.backward(dinput: d.baseAddress!, doutput: $0.baseAddress!, steps: T, batch: B) }
        }
        let rp = GradCheck.compare(values: store.copyOfValues(), analytic: store.copyOfGradients(), eps: 1e-3) { p in
            withParameters(store, p) { GradCheck.weightedSum(run(x), w) }
        }
        XCTAssertTrue(rp.passed, "parameters: \(rp)")
        let rx = GradCheck.compare(values: x, analytic: dx, eps: 1e-3) { GradCheck.weightedSum(run($0), w) }
        XCTAssertTrue(rx.passed, "input: \(rx)")
    }
}
