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
    /// For arguments ≤ 0, `expNonPositive` equals `exp` bit for bit (so `exp`'s accuracy test
    /// covers it), in both accumulations, including the underflow edge, -inf and NaN.
    func testExpNonPositiveEqualsExp() {
        var xs: [Float] = [0, -0.0, -1e-30, -0.5, -87.3, -87.33654, -87.34, -88, -1e30, -.infinity, .nan, -.nan]
        var x: Float = -90
        while x <= 0 { xs.append(x); x += 0.0037 }
        while xs.count % 8 != 0 { xs.append(-1) }
        func same(_ a: Float, _ b: Float) -> Bool { a.bitPattern == b.bitPattern || (a.isNaN && b.isNaN) }
        for accumulation in [FastMath.Accumulation.fused, .separate] {
            for i in stride(from: 0, to: xs.count, by: 8) {
                let v = SIMD8<Float>(xs[i..<i + 8])
                let fast = FastMath.expNonPositive(v, accumulation), full = FastMath.exp(v, accumulation)
                for k in 0..<8 {
                    XCTAssertTrue(same(fast[k], full[k]), "\(accumulation) exp(\(xs[i + k])): \(fast[k]) vs \(full[k])")
                }
            }
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
