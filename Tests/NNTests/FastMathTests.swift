import XCTest
import Foundation
@testable import NN

/// FastMath against libm (Glibc tanhf/expf evaluated in Double as the reference).
final class FastMathTests: XCTestCase {
    /// A dense sweep of [-20, 20] plus large magnitudes on both sides.
    private func sweep() -> [Float] {
        var xs: [Float] = []
        var x: Float = -20
        while x <= 20 { xs.append(x); x += 1.0 / 1024 }
        for e in stride(from: -30, through: 38, by: 1) {
            let m = Float(pow(10.0, Double(e)))
            xs.append(m); xs.append(-m); xs.append(1.7 * m); xs.append(-1.7 * m)
        }
        xs += [.greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, 0, -0.0]
        return xs.filter { $0.isFinite }
    }

    func testTanhAgainstLibm() {
        var worst: Double = 0
        for x in sweep() {
            let ref = Foundation.tanh(Double(x))
            worst = max(worst, abs(Double(FastMath.tanh(x)) - ref))
        }
        XCTAssertLessThan(worst, 1e-6)
        XCTAssertEqual(FastMath.tanh(.infinity), 1)
        XCTAssertEqual(FastMath.tanh(-.infinity), -1)
        XCTAssertEqual(FastMath.tanh(1e30), 1)
        XCTAssertEqual(FastMath.tanh(0), 0)
        XCTAssertTrue(FastMath.tanh(.nan).isNaN)
        // Odd symmetry and monotonicity on the sweep.
        XCTAssertEqual(FastMath.tanh(-0.75), -FastMath.tanh(0.75))
        XCTAssertGreaterThan(FastMath.tanh(0.5), FastMath.tanh(0.49))
    }

    func testSigmoidAgainstLibm() {
        var worst: Double = 0
        for x in sweep() {
            let ref = 1 / (1 + Foundation.exp(-Double(x)))
            worst = max(worst, abs(Double(FastMath.sigmoid(x)) - ref))
        }
        XCTAssertLessThan(worst, 1e-6)
        XCTAssertEqual(FastMath.sigmoid(0), 0.5)
        XCTAssertEqual(FastMath.sigmoid(.infinity), 1)
        XCTAssertEqual(FastMath.sigmoid(-.infinity), 0)
        XCTAssertTrue(FastMath.sigmoid(.nan).isNaN)
    }

    func testExpAgainstLibm() {
        for accumulation in [FastMath.Accumulation.fused, .separate] {
            var worst: Double = 0
            var x: Float = -87.3
            while x <= 88.7 {
                let ref = Foundation.exp(Double(x))
                worst = max(worst, abs(Double(FastMath.exp(x, accumulation)) - ref) / ref)
                x += 1.0 / 256
            }
            for x in sweep() where x > -87.3 && x < 88.7 {
                let ref = Foundation.exp(Double(x))
                worst = max(worst, abs(Double(FastMath.exp(x, accumulation)) - ref) / ref)
            }
            XCTAssertLessThan(worst, 1e-6, "\(accumulation)")
            XCTAssertEqual(FastMath.exp(0, accumulation), 1)
            XCTAssertEqual(FastMath.exp(89, accumulation), .infinity)
            XCTAssertEqual(FastMath.exp(-88, accumulation), 0)
            XCTAssertTrue(FastMath.exp(.nan, accumulation).isNaN)
        }
        // The two accumulations differ (in the last bits) somewhere: each test above checks a different kernel.
        XCTAssertTrue((0..<1000).contains { FastMath.exp(Float($0) / 37 - 13, .fused) != FastMath.exp(Float($0) / 37 - 13, .separate) })
        XCTAssertEqual(FastMath.exp(0), 1)
        XCTAssertEqual(FastMath.exp(89), .infinity)
        XCTAssertEqual(FastMath.exp(.infinity), .infinity)
        XCTAssertEqual(FastMath.exp(-88), 0)
        XCTAssertEqual(FastMath.exp(-.infinity), 0)
        XCTAssertEqual(FastMath.exp(-1e30), 0)
        XCTAssertTrue(FastMath.exp(.nan).isNaN)
        // Near the overflow edge the result is finite and close to libm.
        let edge: Float = 88.72
        XCTAssertTrue(FastMath.exp(edge).isFinite)
        XCTAssertEqual(Double(FastMath.exp(edge)) / Foundation.exp(Double(edge)), 1, accuracy: 1e-6)
    }

    func testArrayFunctionsMatchScalar() {
        let xs: [Float] = (0..<1000).map { Float($0) / 25 - 20 }
        var out = [Float](repeating: 0, count: xs.count)
        FastMath.tanh(&out, xs, count: xs.count)
        XCTAssertEqual(out, xs.map { FastMath.tanh($0) })
        FastMath.sigmoid(&out, xs, count: xs.count)
        XCTAssertEqual(out, xs.map { FastMath.sigmoid($0) })
        FastMath.exp(&out, xs, count: xs.count)
        XCTAssertEqual(out, xs.map { FastMath.exp($0) })
        XCTAssertEqual(Double(out[999]), Foundation.exp(Double(xs[999])), accuracy: 1e-6 * Foundation.exp(Double(xs[999])))
    }
}

final class FastMathSIMDTests: XCTestCase {
    /// `softmaxExp` against libm's double-precision exp on [−87, 0] (a dense sweep, the small
    /// arguments near 0 and random points): relative error ≤ 2.5e-7, in both accumulations;
    /// exactly 1 at 0; 0 below −87 and at −∞; NaN stays NaN; the SIMD lanes equal the scalar
    /// function bit for bit.
    func testSoftmaxExpAgainstLibm() {
        var xs: [Float] = [0, -0.0, -1e-30, -1e-7, -0.3465, -0.3466, -0.5, -1, -86.99, -87]
        var x: Float = -87
        while x <= 0 { xs.append(x); x += 0.00131 }
        var rng = RNG(seed: 7)
        for _ in 0..<20_000 { xs.append(-87 * rng.uniform()) }
        for _ in 0..<5_000 { xs.append(-rng.uniform()) }
        while xs.count % 8 != 0 { xs.append(-2) }
        for accumulation in [FastMath.Accumulation.fused, .separate] {
            var worst: Double = 0
            for i in stride(from: 0, to: xs.count, by: 8) {
                let lanes = FastMath.softmaxExp(SIMD8<Float>(xs[i..<i + 8]), accumulation)
                for k in 0..<8 {
                    let scalar = FastMath.softmaxExp(xs[i + k], accumulation)
                    XCTAssertEqual(lanes[k].bitPattern, scalar.bitPattern, "\(accumulation) lane of \(xs[i + k])")
                    let exact = Foundation.exp(Double(xs[i + k]))
                    worst = max(worst, abs(Double(scalar) / exact - 1))
                }
            }
            XCTAssertLessThanOrEqual(worst, 2.5e-7, "\(accumulation)")
            XCTAssertEqual(FastMath.softmaxExp(0, accumulation), 1)
            XCTAssertEqual(FastMath.softmaxExp(-0.0, accumulation), 1)
            let edge = FastMath.softmaxExp(-87, accumulation)
            XCTAssertEqual(Double(edge), Foundation.exp(-87.0), accuracy: 1e-6 * Foundation.exp(-87.0))
            for below: Float in [-87.0001, -87.5, -100, -1e30, -.infinity] {
                XCTAssertEqual(FastMath.softmaxExp(below, accumulation), 0, "\(below)")
            }
            XCTAssertTrue(FastMath.softmaxExp(Float.nan, accumulation).isNaN)
            let nanLanes = FastMath.softmaxExp(SIMD8<Float>(.nan, -1, -.infinity, 0, -.nan, -90, -3, -0.0), accumulation)
            XCTAssertTrue(nanLanes[0].isNaN && nanLanes[4].isNaN)
            XCTAssertEqual(nanLanes[2], 0)
            XCTAssertEqual(nanLanes[5], 0)
            XCTAssertEqual(nanLanes[3], 1)
        }
    }

    /// The SIMD8 versions give exactly the scalar results, lane by lane, including the edges.
    func testSIMDLanesMatchScalar() {
        var xs: [Float] = [0, -0.0, 1e-30, 0.3, -2.5, 7.9, -8, 15, -16, 40, -90, 88.7, 88.8, -87.3, -87.4, 1e30, -1e30,
                           .infinity, -.infinity, .nan]
        var x: Float = -30
        while x < 30 { xs.append(x); x += 0.013 }
        while xs.count % 8 != 0 { xs.append(0.5) }
        func same(_ a: Float, _ b: Float) -> Bool { a == b || (a.isNaN && b.isNaN) }
        for i in stride(from: 0, to: xs.count, by: 8) {
            let v = SIMD8<Float>(xs[i..<i + 8])
            let t = FastMath.tanh(v), s = FastMath.sigmoid(v), e = FastMath.exp(v)
            let fused = FastMath.exp(v, .fused), separate = FastMath.exp(v, .separate)
            for k in 0..<8 {
                XCTAssertTrue(same(fused[k], FastMath.exp(xs[i + k], .fused)), "fused exp(\(xs[i + k]))")
                XCTAssertTrue(same(separate[k], FastMath.exp(xs[i + k], .separate)), "separate exp(\(xs[i + k]))")
                XCTAssertTrue(same(t[k], FastMath.tanh(xs[i + k])), "tanh(\(xs[i + k]))")
                XCTAssertTrue(same(s[k], FastMath.sigmoid(xs[i + k])), "sigmoid(\(xs[i + k]))")
                XCTAssertTrue(same(e[k], FastMath.exp(xs[i + k])), "exp(\(xs[i + k])): \(e[k]) vs \(FastMath.exp(xs[i + k]))")
            }
        }
    }
}
