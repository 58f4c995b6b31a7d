import XCTest
@testable import NN
import TestFixtures

final class OptimizerTests: XCTestCase {
    /// A store with one parameter "p" holding `values`.
    func store(_ values: [Float]) -> ParameterStore {
        let s = ParameterStore()
        s.register("p", shape: [values.count])
        for (i, v) in values.enumerated() { s.values[i] = v }
        return s
    }

    func setGradients(_ s: ParameterStore, _ g: [Float]) {
        for (i, v) in g.enumerated() { s.gradients[i] = v }
    }

    func assertClose(_ a: [Float], _ b: [Float], tolerance: Float = 1e-6, _ message: String = "", line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, line: line)
        for (x, y) in zip(a, b) where abs(x - y) > tolerance * max(1, abs(y)) {
            XCTFail("\(message) \(a) != \(b)", line: line)
            return
        }
    }

    // MARK: Hand-computed steps

    /// The hand-computed and PyTorch checks of SGD, clipping and the gradient norm on two
    /// threads with every elementwise pass split.
    func testOnTwoThreads() throws {
        try onTwoThreadsSplittingEverything {
            testSGDByHand()
            testSGDMomentumByHand()
            testClipGradientNormByHand()
            testGradientNormOfManyElements()
            try testAgainstPyTorch()
            testClipAgainstPyTorch()
        }
    }

    func testSGDByHand() {
        let s = store([1, 2])
        setGradients(s, [0.5, -1])
        SGD().step(s, learningRate: 0.1)
        assertClose(s.copyOfValues(), [0.95, 2.1])
        // Weight decay alone shrinks the parameters: p − lr·λ·p with lr 0.5, λ 0.1.
        let d = store([1, 2])
        SGD(weightDecay: 0.1).step(d, learningRate: 0.5)
        assertClose(d.copyOfValues(), [0.95, 1.9])
    }

    func testSGDMomentumByHand() {
        // Step 1: b = g = [0.5, −1], p = [0.95, 2.1].
        // Step 2: b = 0.9·b + g = [0.95, −1.9], p = [0.95 − 0.095, 2.1 + 0.19] = [0.855, 2.29].
        let s = store([1, 2])
        let sgd = SGD(momentum: 0.9)
        setGradients(s, [0.5, -1])
        sgd.step(s, learningRate: 0.1)
        sgd.step(s, learningRate: 0.1)
        assertClose(s.copyOfValues(), [0.855, 2.29])
        XCTAssertEqual(try sgd.stateTensors(for: s, prefix: "")["momentum_buffer.p"]!.values(as: Float.self), [0.95, -1.9])
    }

    func testAdamByHand() {
        // Step 1: m̂ = g, v̂ = g², so p moves by lr·g/|g| = 0.1·sign(g): [0.9, 2.1].
        // Step 2 with g = 0: m = 0.09·g₁... m₁ = 0.1·g₁, m₂ = 0.9·m₁ = 0.09·g₁; m̂ = 0.09·g₁/0.19;
        // v₂ = 0.999·0.001·g₁²; v̂ = 0.000999·g₁²/0.001999; update = lr·m̂/√v̂
        //    = 0.1 · (0.09/0.19) / √(0.000999/0.001999) · sign(g₁) = 0.0670084… · sign(g₁).
        let s = store([1, 2])
        let adam = Adam()
        setGradients(s, [0.5, -1])
        adam.step(s, learningRate: 0.1)
        assertClose(s.copyOfValues(), [0.9, 2.1])
        setGradients(s, [0, 0])
        adam.step(s, learningRate: 0.1)
        let u = 0.1 * (0.09 / 0.19) / (0.000999 / 0.001999).squareRoot()
        assertClose(s.copyOfValues(), [Float(0.9 - u), Float(2.1 + u)])
        XCTAssertEqual(adam.stepCount, 2)
    }

    func testAdagradByHand() {
        // Step 1: s = g² = [0.25, 1], p −= 0.1·g/√s → [0.9, 2.1].
        // Step 2, g = [1, 1]: s = [1.25, 2], p = [0.9 − 0.1/√1.25, 2.1 − 0.1/√2].
        let s = store([1, 2])
        let adagrad = Adagrad()
        setGradients(s, [0.5, -1])
        adagrad.step(s, learningRate: 0.1)
        assertClose(s.copyOfValues(), [0.9, 2.1])
        setGradients(s, [1, 1])
        adagrad.step(s, learningRate: 0.1)
        assertClose(s.copyOfValues(), [Float(0.9 - 0.1 / 1.25.squareRoot()), Float(2.1 - 0.1 / 2.0.squareRoot())])
    }

    func testClipGradientNormByHand() {
        // Gradients [3, 4] (two parameters): norm 5; max 1 scales them by 1/(5 + 1e-6).
        let s = ParameterStore()
        s.register("a", shape: [1])
        s.register("b", shape: [1])
        setGradients(s, [3, 4])
        XCTAssertEqual(s.clipGradientNorm(maxNorm: 1), 5)
        assertClose(s.copyOfGradients(), [0.6, 0.8])
        XCTAssertEqual(s.gradientNorm(), 1, accuracy: 1e-6)
        setGradients(s, [3, 4])
        XCTAssertEqual(s.clipGradientNorm(maxNorm: 10), 5)
        XCTAssertEqual(s.copyOfGradients(), [3, 4])
    }

    func testClipWithNaNGradientLeavesThemAndReportsNaN() {
        let s = store([0, 0])
        setGradients(s, [.nan, 1])
        XCTAssertTrue(s.clipGradientNorm(maxNorm: 1).isNaN)
        XCTAssertEqual(s.gradients[1], 1)
    }

    func testGradientNormOfManyElements() {
        // 1001 elements of value 0.1 plus one 3: √(1001·0.01 + 9) = √19.01 (exercises the unrolled loop and tail).
        let s = ParameterStore()
        s.register("a", shape: [1002])
        for i in 0..<1001 { s.gradients[i] = 0.1 }
        s.gradients[1001] = 3
        XCTAssertEqual(s.gradientNorm(), Float(19.01.squareRoot()), accuracy: 1e-5)
    }

    /// Over several summation blocks: equal on one and two threads (bit for bit) and to a
    /// double-precision sum.
    func testGradientNormOverManyBlocksIsThreadIndependent() {
        let s = ParameterStore()
        s.register("a", shape: [70_001])
        s.register("b", shape: [3])
        var rng = RNG(seed: 5)
        var reference = 0.0
        for i in 0..<s.count {
            s.gradients[i] = rng.uniform(-1, 1)
            reference += Double(s.gradients[i]) * Double(s.gradients[i])
        }
        let one = s.gradientNorm()
        let two = onTwoThreadsSplittingEverything { s.gradientNorm() }
        XCTAssertEqual(one, two)
        XCTAssertEqual(Double(one), reference.squareRoot(), accuracy: 1e-6 * reference.squareRoot())
    }

    // MARK: PyTorch references

    /// A store shaped like the fixtures: w [2, 2] then b [3].
    func fixtureStore() -> ParameterStore {
        let s = ParameterStore()
        s.register("w", shape: [2, 2])
        s.register("b", shape: [3])
        for (i, v) in OptimizerFixtures.initial.enumerated() { s.values[i] = v }
        return s
    }

    func testAgainstPyTorch() throws {
        for c in OptimizerFixtures.cases {
            let s = fixtureStore()
            let optimizer = c.make()
            for (k, (g, lr)) in zip(OptimizerFixtures.grads, OptimizerFixtures.learningRates).enumerated() {
                setGradients(s, g)
                optimizer.step(s, learningRate: lr)
                assertClose(s.copyOfValues(), c.after[k], tolerance: 2e-6, "\(c.name) step \(k + 1):")
            }
            let state = optimizer.stateTensors(for: s, prefix: "")
            XCTAssertEqual(try state["step"]!.values(as: Int64.self), [3], c.name)
            for (key, expected) in c.state {
                let flat = try state["\(key).w"]!.values(as: Float.self) + state["\(key).b"]!.values(as: Float.self)
                assertClose(flat, expected, tolerance: 2e-6, "\(c.name) \(key):")
            }
        }
    }

    func testClipAgainstPyTorch() {
        for c in [OptimizerFixtures.clipTight, OptimizerFixtures.clipLoose] {
            let s = fixtureStore()
            setGradients(s, OptimizerFixtures.grads[0])
            XCTAssertEqual(s.clipGradientNorm(maxNorm: c.maxNorm), c.norm, accuracy: 1e-6)
            assertClose(s.copyOfGradients(), c.grads)
        }
    }

    // MARK: Resuming from a checkpoint

    func testResumeFromCheckpointIsExact() throws {
        for c in OptimizerFixtures.cases {
            let grads = OptimizerFixtures.grads, lrs = OptimizerFixtures.learningRates
            // Uninterrupted: three steps.
            let s1 = fixtureStore(), o1 = c.make()
            for k in 0..<3 { setGradients(s1, grads[k]); o1.step(s1, learningRate: lrs[k]) }
            // Interrupted after one step, saved, restored into fresh objects, then two more steps.
            let s2 = fixtureStore(), o2 = c.make()
            setGradients(s2, grads[0]); o2.step(s2, learningRate: lrs[0])
            var file = SafetensorsFile(tensors: s2.checkpointTensors())
            file.tensors.merge(o2.stateTensors(for: s2, prefix: "optimizer."), uniquingKeysWith: { $1 })
            let loaded = try SafetensorsFile(decoding: file.encoded(), path: "ckpt")
            let s3 = ParameterStore()
            s3.register("w", shape: [2, 2])
            s3.register("b", shape: [3])
            try s3.load(from: loaded.tensors)
            let o3 = c.make()
            try o3.loadState(from: loaded.tensors, for: s3, prefix: "optimizer.")
            XCTAssertEqual(o3.stepCount, 1)
            for k in 1..<3 { setGradients(s3, grads[k]); o3.step(s3, learningRate: lrs[k]) }
            XCTAssertEqual(s3.copyOfValues(), s1.copyOfValues(), "\(c.name): resumed run differs")
        }
    }

    func testLoadStateRejectsMissingOrWrongTensors() {
        let s = fixtureStore()
        let adam = Adam()
        XCTAssertThrowsError(try adam.loadState(from: [:], for: s, prefix: "")) { XCTAssertTrue("\($0)".contains("step")) }
        var state = Adam().stateTensors(for: s, prefix: "")
        state["exp_avg.w"] = SafeTensor([1, 2, 3] as [Float], shape: [3])
        XCTAssertThrowsError(try adam.loadState(from: state, for: s, prefix: "")) { XCTAssertTrue("\($0)".contains("exp_avg.w")) }
        state["exp_avg.w"] = nil
        XCTAssertThrowsError(try adam.loadState(from: state, for: s, prefix: ""))
        XCTAssertEqual(adam.stepCount, 0)
    }
}

final class OptimizerVectorizationTests: XCTestCase {
    /// The vectorized loops (8 lanes) must give bit-for-bit what the scalar tail gives: run the
    /// optimizer on 19 elements at once, and on each element alone (a one-element store only
    /// takes the scalar path, which the PyTorch fixtures check).
    func testWideAndScalarPathsAgree() {
        let makers: [(String, () -> any Optimizer)] = [
            ("Adam", { Adam(weightDecay: 0.01) }), ("Adam β₁ 0.3", { Adam(beta1: 0.3) }),
            ("Adagrad", { Adagrad(weightDecay: 0.1, learningRateDecay: 0.05) }),
            ("SGD", { SGD(momentum: 0.9, weightDecay: 0.01) }),
        ]
        let n = 19
        var rng = RNG(seed: 21)
        let initial = (0..<n).map { _ in rng.uniform(-1, 1) }
        let grads = (0..<3).map { _ in (0..<n).map { _ in rng.normal() } }
        for (name, make) in makers {
            let wide = ParameterStore()
            wide.register("p", shape: [n])
            for i in 0..<n { wide.values[i] = initial[i] }
            let o = make()
            for step in 0..<3 {
                for i in 0..<n { wide.gradients[i] = grads[step][i] }
                o.step(wide, learningRate: 0.05)
            }
            for i in 0..<n {
                let one = ParameterStore()
                one.register("p", shape: [1])
                one.values[0] = initial[i]
                let o1 = make()
                for step in 0..<3 {
                    one.gradients[0] = grads[step][i]
                    o1.step(one, learningRate: 0.05)
                }
                XCTAssertEqual(one.values[0], wide.values[i], "\(name) element \(i)")
            }
        }
    }
}
