import XCTest
@testable import NN
import NNTestSupport

/// Frozen parameters: kept in the store (and its checkpoints) but never changed by an optimizer,
/// weight decay or gradient clipping.
final class FrozenParameterTests: XCTestCase {
    /// A store "a" [3], "frozen" [4] (frozen), "b" [5] with values and gradients from a seed.
    func makeStore(frozen: Bool = true, seed: UInt64 = 7) -> ParameterStore {
        let s = ParameterStore()
        s.register("a", shape: [3])
        s.register("frozen", shape: [2, 2], frozen: frozen)
        s.register("b", shape: [5])
        var rng = RNG(seed: seed)
        for i in 0..<s.count { s.values[i] = rng.uniform(-1, 1) }
        return s
    }

    /// The same trainable parameters without the frozen one (the reference an optimizer must match).
    func makeReference(from s: ParameterStore) -> ParameterStore {
        let r = ParameterStore()
        for name in ["a", "b"] {
            let v = r.register(name, shape: s[name].shape)
            r.set(v, to: s.tensor(s[name]))
        }
        return r
    }

    func setGradients(_ s: ParameterStore, step: Int) {
        var rng = RNG(seed: UInt64(100 + step))
        for i in 0..<s.count { s.gradients[i] = rng.uniform(-2, 2) }
    }

    func copyGradients(from s: ParameterStore, to r: ParameterStore) {
        for name in ["a", "b"] {
            let src = s.gradient(s[name]), dst = r.gradient(r[name])
            for i in 0..<src.count { dst[i] = src[i] }
        }
    }

    func testTrainableRangesAndCount() {
        let s = makeStore()
        XCTAssertEqual(s.count, 12)
        XCTAssertEqual(s.trainableRanges, [0..<3, 7..<12])
        XCTAssertEqual(s.trainableCount, 8)
        XCTAssertTrue(s.isFrozen(s["frozen"]))
        XCTAssertFalse(s.isFrozen(s["a"]))
        s.setFrozen(s["frozen"], false)
        XCTAssertEqual(s.trainableRanges, [0..<12])
        XCTAssertEqual(s.trainableCount, 12)
        s.setFrozen(s["a"])
        XCTAssertEqual(s.trainableRanges, [3..<12])
    }

    /// Each optimizer (with weight decay) leaves the frozen values bitwise unchanged, and updates
    /// the trainable ones exactly as it would in a store without the frozen parameter.
    func testOptimizersSkipFrozenParameters() {
        let makers: [(String, () -> Optimizer)] = [
            ("SGD", { SGD(weightDecay: 0.1) }),
            ("SGD+momentum", { SGD(momentum: 0.9, weightDecay: 0.1) }),
            ("Adam", { Adam(weightDecay: 0.1) }),
            ("Adagrad", { Adagrad(weightDecay: 0.1) }),
        ]
        for (name, make) in makers {
            let s = makeStore(), r = makeReference(from: s)
            let frozenBefore = Array(s.values(s["frozen"]))
            let opt = make(), refOpt = make()
            for step in 0..<3 {
                setGradients(s, step: step)
                copyGradients(from: s, to: r)
                opt.step(s, learningRate: 0.05)
                refOpt.step(r, learningRate: 0.05)
            }
            XCTAssertEqual(Array(s.values(s["frozen"])).map(\.bitPattern), frozenBefore.map(\.bitPattern), name)
            XCTAssertEqual(Array(s.values(s["a"])), Array(r.values(r["a"])), name)
            XCTAssertEqual(Array(s.values(s["b"])), Array(r.values(r["b"])), name)
            XCTAssertNotEqual(Array(s.values(s["a"])), Array(makeStore().values(makeStore()["a"])), "\(name) did not train")
        }
    }

    /// Without freezing, the same steps do change that parameter (so the test above can fail).
    func testUnfrozenParameterChanges() {
        let s = makeStore(frozen: false)
        let before = Array(s.values(s["frozen"]))
        setGradients(s, step: 0)
        SGD(weightDecay: 0.1).step(s, learningRate: 0.05)
        XCTAssertNotEqual(Array(s.values(s["frozen"])), before)
    }

    /// Clipping: the norm counts trainable gradients only, and only they are scaled.
    func testClippingIgnoresFrozenGradients() {
        let s = ParameterStore()
        s.register("a", shape: [2])
        s.register("frozen", shape: [1], frozen: true)
        s.register("b", shape: [1])
        // Trainable gradients (3, 4, 12): norm 13 by hand; the frozen one (100) must not count.
        s.gradients[0] = 3; s.gradients[1] = 4; s.gradients[2] = 100; s.gradients[3] = 12
        XCTAssertEqual(s.gradientNorm(), 13, accuracy: 1e-5)
        let norm = s.clipGradientNorm(maxNorm: 6.5)
        XCTAssertEqual(norm, 13, accuracy: 1e-5)
        XCTAssertEqual(s.gradients[0], 1.5, accuracy: 1e-5)
        XCTAssertEqual(s.gradients[1], 2, accuracy: 1e-5)
        XCTAssertEqual(s.gradients[2], 100)
        XCTAssertEqual(s.gradients[3], 6, accuracy: 1e-5)
    }

    /// A checkpoint saves and restores a frozen parameter like any other.
    func testCheckpointKeepsFrozenParameter() throws {
        let s = makeStore()
        let path = NSTemporaryDirectory() + "frozen-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try TrainingCheckpoint.save(to: path, parameters: s)
        let t = makeStore(seed: 99)
        XCTAssertNotEqual(t.copyOfValues(), s.copyOfValues())
        _ = try TrainingCheckpoint.restore(from: path, parameters: t)
        XCTAssertEqual(t.copyOfValues(), s.copyOfValues())
        XCTAssertTrue(t.isFrozen(t["frozen"]))
    }
}
