import XCTest
@testable import NN

final class RNGTests: XCTestCase {
    func testSameSeedSameStream() {
        var a = RNG(seed: 7), b = RNG(seed: 7), c = RNG(seed: 8)
        let xa = (0..<5).map { _ in a.next() }
        XCTAssertEqual(xa, (0..<5).map { _ in b.next() })
        XCTAssertNotEqual(xa, (0..<5).map { _ in c.next() })
    }

    func testStateRoundTrip() {
        var a = RNG(seed: 1)
        for _ in 0..<10 { _ = a.next() }
        var b = RNG(state: a.state)
        XCTAssertEqual((0..<5).map { _ in a.next() }, (0..<5).map { _ in b.next() })
    }

    func testUniformRangeAndMean() {
        var r = RNG(seed: 3)
        var sum: Double = 0
        for _ in 0..<100_000 {
            let u = r.uniform()
            XCTAssert(u >= 0 && u < 1)
            sum += Double(u)
        }
        XCTAssertEqual(sum / 100_000, 0.5, accuracy: 0.01)
    }

    func testNormalMoments() {
        var r = RNG(seed: 4)
        let xs = (0..<100_000).map { _ in Double(r.normal()) }
        let mean = xs.reduce(0, +) / Double(xs.count)
        let variance = xs.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(xs.count)
        XCTAssertEqual(mean, 0, accuracy: 0.02)
        XCTAssertEqual(variance, 1, accuracy: 0.02)
    }

    func testSgemmAgainstHandComputed() {
        // [[1,2],[3,4]] · [[5,6],[7,8]] = [[19,22],[43,50]]; with B transposed: [[17,23],[39,53]].
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8]
        var c = [Float](repeating: 0, count: 4)
        sgemm(.none, .none, m: 2, n: 2, k: 2, a: a, lda: 2, b: b, ldb: 2, beta: 0, c: &c, ldc: 2)
        XCTAssertEqual(c, [19, 22, 43, 50])
        sgemm(.none, .transpose, m: 2, n: 2, k: 2, a: a, lda: 2, b: b, ldb: 2, beta: 0, c: &c, ldc: 2)
        XCTAssertEqual(c, [17, 23, 39, 53])
    }
}
