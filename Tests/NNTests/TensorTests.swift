import XCTest
@testable import NN
import NNTestSupport

final class TensorTests: XCTestCase {
    func testShapeIndexingAndReshape() {
        var t = Tensor(shape: [2, 3], [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(t.count, 6)
        XCTAssertEqual(t.rank, 2)
        XCTAssertEqual(t[1, 0], 4)
        XCTAssertEqual(t[0, 2], 3)
        t[1, 2] = 9
        XCTAssertEqual(t.storage, [1, 2, 3, 4, 5, 9])
        let r = t.reshaped([3, 2])
        XCTAssertEqual(r[2, 1], 9)
        XCTAssertEqual(r.shape, [3, 2])
        XCTAssertEqual(Tensor(shape: [], [5])[], 5)
        XCTAssertEqual(Tensor(shape: [0, 4]).count, 0)
        XCTAssertEqual(Tensor(shape: [2, 2], repeating: 3).storage, [3, 3, 3, 3])
        var f = Tensor(shape: [3])
        f.fill(2)
        XCTAssertEqual(f.storage, [2, 2, 2])
    }

    func testValueSemantics() {
        let a = Tensor(shape: [2], [1, 2])
        var b = a
        b[0] = 7
        XCTAssertEqual(a[0], 1)
        XCTAssertEqual(b[0], 7)
    }

    /// op(a)·op(b) by the textbook triple loop, in double precision.
    func naive(_ a: Tensor, _ ta: Transpose, _ b: Tensor, _ tb: Transpose) -> [Float] {
        let m = ta == .none ? a.shape[0] : a.shape[1], k = ta == .none ? a.shape[1] : a.shape[0]
        let n = tb == .none ? b.shape[1] : b.shape[0]
        var out = [Float]()
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for l in 0..<k {
                    let x = ta == .none ? a[i, l] : a[l, i]
                    let y = tb == .none ? b[l, j] : b[j, l]
                    s += Double(x) * Double(y)
                }
                out.append(Float(s))
            }
        }
        return out
    }

    func testMatmulAllTransposesAgainstNaiveLoops() {
        var rng = RNG(seed: 5)
        let (m, k, n) = (5, 7, 3)
        for ta in [Transpose.none, .transpose] {
            for tb in [Transpose.none, .transpose] {
                let a = Tensor.uniform(shape: ta == .none ? [m, k] : [k, m], -1, 1, rng: &rng)
                let b = Tensor.uniform(shape: tb == .none ? [k, n] : [n, k], -1, 1, rng: &rng)
                let c = Tensor.matmul(a, ta, b, tb)
                XCTAssertEqual(c.shape, [m, n])
                for (x, y) in zip(c.storage, naive(a, ta, b, tb)) {
                    XCTAssertEqual(x, y, accuracy: 1e-5, "\(ta) \(tb)")
                }
            }
        }
    }

    /// One row (m = 1) goes through GEMV: every transpose, padded strides, alpha and beta.
    func testSingleRowProductsAgainstNaiveLoops() {
        var rng = RNG(seed: 9)
        let (k, n) = (6, 4)
        for ta in [Transpose.none, .transpose] {
            for tb in [Transpose.none, .transpose] {
                // Stored with a row stride 2 larger than needed, to catch a wrong leading dimension.
                let aRows = ta == .none ? 1 : k, aCols = ta == .none ? k : 1
                let bRows = tb == .none ? k : n, bCols = tb == .none ? n : k
                let a = (0..<aRows * (aCols + 2)).map { _ in rng.uniform(-1, 1) }
                let b = (0..<bRows * (bCols + 2)).map { _ in rng.uniform(-1, 1) }
                let c0 = (0..<n).map { _ in rng.uniform(-1, 1) }
                var c = c0
                sgemm(ta, tb, m: 1, n: n, k: k, alpha: 0.5, a: a, lda: aCols + 2, b: b, ldb: bCols + 2,
                      beta: 2, c: &c, ldc: n)
                for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k {
                        let x = ta == .none ? a[p] : a[p * (aCols + 2)]
                        let y = tb == .none ? b[p * (bCols + 2) + j] : b[j * (bCols + 2) + p]
                        s += Double(x) * Double(y)
                    }
                    XCTAssertEqual(c[j], Float(0.5 * s + 2 * Double(c0[j])), accuracy: 1e-5, "\(ta) \(tb) column \(j)")
                }
            }
        }
    }

    func testMatmulByHandAndAccumulation() {
        // [[1,2],[3,4]] · [[5,6],[7,8]] = [[19,22],[43,50]]; aᵀ·b = [[26,30],[38,44]].
        let a = Tensor(shape: [2, 2], [1, 2, 3, 4]), b = Tensor(shape: [2, 2], [5, 6, 7, 8])
        XCTAssertEqual(Tensor.matmul(a, .none, b, .none).storage, [19, 22, 43, 50])
        XCTAssertEqual(Tensor.matmul(a, .transpose, b, .none).storage, [26, 30, 38, 44])
        var c = Tensor(shape: [2, 2], [1, 1, 1, 1])
        c.matmul(a, .none, b, .none, beta: 1)  // accumulate, as backward passes do
        XCTAssertEqual(c.storage, [20, 23, 44, 51])
        c.matmul(a, .none, b, .none, alpha: 2, beta: 0)
        XCTAssertEqual(c.storage, [38, 44, 86, 100])
        // A zero inner size gives zeros (beta 0) or leaves beta·C.
        var z = Tensor(shape: [2, 2], [1, 2, 3, 4])
        z.matmul(Tensor(shape: [2, 0]), .none, Tensor(shape: [0, 2]), .none, beta: 0.5)
        XCTAssertEqual(z.storage, [0.5, 1, 1.5, 2])
        XCTAssertEqual(Tensor.matmul(Tensor(shape: [0, 3]), .none, Tensor(shape: [3, 2]), .none).shape, [0, 2])
    }

    func testRandomInitializers() {
        var rng = RNG(seed: 1)
        let u = Tensor.uniform(shape: [1000], -0.1, 0.1, rng: &rng)
        XCTAssertTrue(u.storage.allSatisfy { $0 >= -0.1 && $0 < 0.1 })
        XCTAssertGreaterThan(u.storage.max()!, 0.09)
        var rng2 = RNG(seed: 1)
        XCTAssertEqual(Tensor.uniform(shape: [1000], -0.1, 0.1, rng: &rng2), u)
        let g = Tensor.normal(shape: [4000], std: 2, rng: &rng)
        let variance = g.storage.reduce(0) { $0 + Double($1) * Double($1) } / 4000
        XCTAssertEqual(variance, 4, accuracy: 0.4)
    }
}

final class ParameterStoreTests: XCTestCase {
    func testLayoutIsContiguousInRegistrationOrder() {
        let s = ParameterStore()
        let w = s.register("encoder.weight", shape: [3, 2])
        let b = s.register("encoder.bias", shape: [3])
        let h = s.register("scalar", shape: [])
        XCTAssertEqual(w.offset, 0); XCTAssertEqual(w.count, 6)
        XCTAssertEqual(b.offset, 6); XCTAssertEqual(b.count, 3)
        XCTAssertEqual(h.offset, 9); XCTAssertEqual(h.count, 1)
        XCTAssertEqual(s.count, 10)
        XCTAssertEqual(s.values.count, 10)
        XCTAssertEqual(s.gradients.count, 10)
        XCTAssertEqual(s.views.map(\.name), ["encoder.weight", "encoder.bias", "scalar"])
        XCTAssertEqual(s["encoder.bias"], b)
        XCTAssertNil(s.view(named: "nope"))
        XCTAssertTrue(s.values.allSatisfy { $0 == 0 })
    }

    func testViewsAddressTheFlatBuffers() {
        let s = ParameterStore()
        let w = s.register("w", shape: [2, 2])
        let b = s.register("b", shape: [2])
        s.set(w, to: Tensor(shape: [2, 2], [1, 2, 3, 4]))
        s.values(b)[1] = 9
        XCTAssertEqual(s.copyOfValues(), [1, 2, 3, 4, 0, 9])
        XCTAssertEqual(s.tensor(w), Tensor(shape: [2, 2], [1, 2, 3, 4]))
        s.gradient(b)[0] = 5
        XCTAssertEqual(s.gradients[4], 5)
        XCTAssertEqual(s.gradientTensor(b).storage, [5, 0])
        // Pointers: gradient and value of the same parameter are at the same offset.
        XCTAssertEqual(s.values(b).baseAddress, s.values.baseAddress! + 4)
        XCTAssertEqual(s.gradient(b).baseAddress, s.gradients.baseAddress! + 4)
    }

    func testGrowingKeepsValuesAndZeroingIsSeparate() {
        let s = ParameterStore()
        let a = s.register("a", shape: [3])
        for i in 0..<3 { s.values[i] = Float(i + 1); s.gradients[i] = 1 }
        for i in 0..<50 { s.register("p\(i)", shape: [7]) }  // forces reallocations
        XCTAssertEqual(Array(s.values(a)), [1, 2, 3])
        XCTAssertEqual(Array(s.gradient(a)), [1, 1, 1])
        XCTAssertEqual(s.count, 3 + 350)
        XCTAssertTrue(s.values[3...].allSatisfy { $0 == 0 })
        s.zeroGradients()
        XCTAssertTrue(s.gradients.allSatisfy { $0 == 0 })
        XCTAssertEqual(Array(s.values(a)), [1, 2, 3])
    }
}
