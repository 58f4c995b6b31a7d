import XCTest
@testable import NN
import NNTestSupport

/// Random test data drawn from a seeded RNG.
func randomArray(_ n: Int, _ rng: inout RNG, scale: Float = 1) -> [Float] {
    (0..<n).map { _ in rng.uniform(-scale, scale) }
}

/// Asserts that a finite-difference check passed, printing the worst entry otherwise.
func assertGradient(
    _ name: String, values: [Float], analytic: [Float], eps: Float = 1e-2,
    rtol: Double = 1e-2, atol: Double = 1e-3,
    file: StaticString = #filePath, line: UInt = #line, loss: ([Float]) -> Double
) {
    let r = GradCheck.compare(values: values, analytic: analytic, eps: eps, rtol: rtol, atol: atol, loss: loss)
    XCTAssertTrue(r.passed, "\(name): \(r)", file: file, line: line)
}

final class GradCheckTests: XCTestCase {
    /// The checker itself: accepts a correct gradient of x³ and rejects a wrong one.
    func testCheckerAcceptsCorrectAndRejectsWrongGradients() {
        let xs: [Float] = [0.5, -1.25, 2]
        let loss: ([Float]) -> Double = { v in v.reduce(0) { $0 + Double($1) * Double($1) * Double($1) } }
        let right = xs.map { 3 * $0 * $0 }       // d/dx x³, by hand
        XCTAssertTrue(GradCheck.compare(values: xs, analytic: right, eps: 1e-3, loss: loss).passed)
        var wrong = right; wrong[1] *= 1.1
        let r = GradCheck.compare(values: xs, analytic: wrong, eps: 1e-3, loss: loss)
        XCTAssertFalse(r.passed)
        XCTAssertEqual(r.failures, 1)
        XCTAssertEqual(r.worstIndex, 1)
        XCTAssertEqual(GradCheck.weightedSum([1, 2, 3], [4, 5, 6]), 32)
    }
}

/// Asserts `after[k] ≈ 2·before[k]` (backward accumulates rather than overwrites).
func assertDoubled(_ after: [Float], _ before: [Float], _ name: String,
                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(after.count, before.count, file: file, line: line)
    XCTAssertTrue(before.contains { $0 != 0 }, "\(name): gradient is all zero", file: file, line: line)
    for k in 0..<min(after.count, before.count) {
        XCTAssertEqual(after[k], 2 * before[k], accuracy: 1e-5 * max(1, abs(before[k])), "\(name)[\(k)]",
                       file: file, line: line)
    }
}
