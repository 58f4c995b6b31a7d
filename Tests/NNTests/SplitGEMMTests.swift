import XCTest
@testable import NN

final class SplitGEMMTests: XCTestCase {
    func testWhenTheColumnsAreSplit() {
        let big = SplitGEMM.defaultMinimumWork
        // The medium LM's per-step products are split; n/2 is rounded up to 16 columns.
        XCTAssertEqual(SplitGEMM.firstHalfWidth(m: 20, n: 2600, k: 650, threads: 2, minimumWork: big), 1312)
        XCTAssertEqual(SplitGEMM.firstHalfWidth(m: 20, n: 650, k: 2600, threads: 2, minimumWork: big), 336)
        // The small LM's are not (measured slower split), nor anything on one thread.
        XCTAssertNil(SplitGEMM.firstHalfWidth(m: 20, n: 800, k: 200, threads: 2, minimumWork: big))
        XCTAssertNil(SplitGEMM.firstHalfWidth(m: 20, n: 2600, k: 650, threads: 1, minimumWork: big))
        // A single row, or fewer than two panels of columns, never.
        XCTAssertNil(SplitGEMM.firstHalfWidth(m: 1, n: 2600, k: 650, threads: 2, minimumWork: 0))
        XCTAssertNil(SplitGEMM.firstHalfWidth(m: 20, n: 31, k: 650, threads: 2, minimumWork: 0))
        XCTAssertEqual(SplitGEMM.firstHalfWidth(m: 2, n: 32, k: 1, threads: 2, minimumWork: 0), 16)
        XCTAssertEqual(SplitGEMM.firstHalfWidth(m: 2, n: 70, k: 1, threads: 2, minimumWork: 0), 48)
    }

    /// The split product against a double-precision triple loop, for both layouts of B, with
    /// alpha, beta and a leading dimension of C wider than n; on two threads (split) and one.
    func testSplitProductAgainstNaiveLoops() {
        let before = BLASRuntime.threads
        defer { BLASRuntime.setThreads(before) }
        var rng = RNG(seed: 17)
        let (m, n, k, ldc) = (5, 70, 9, 73)
        for threads in [2, 1] {
            BLASRuntime.setThreads(threads)
            for ta in [Transpose.none, .transpose] {
                for tb in [Transpose.none, .transpose] {
                    let a = (0..<m * k).map { _ in rng.uniform(-1, 1) }
                    let b = (0..<k * n).map { _ in rng.uniform(-1, 1) }
                    let c0 = (0..<m * ldc).map { _ in rng.uniform(-1, 1) }
                    var c = c0
                    sgemmSplitColumns(ta, tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: ta == .none ? k : m,
                                      b: b, ldb: tb == .none ? n : k, beta: 2, c: &c, ldc: ldc, minimumWork: 0)
                    XCTAssertEqual(BLASRuntime.threads, threads, "thread count restored")
                    for i in 0..<m {
                        for j in 0..<ldc {
                            guard j < n else {
                                XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j], "padding of C untouched")
                                continue
                            }
                            var s = 0.0
                            for p in 0..<k {
                                let x = ta == .none ? a[i * k + p] : a[p * m + i]
                                let y = tb == .none ? b[p * n + j] : b[j * k + p]
                                s += Double(x) * Double(y)
                            }
                            let expected = Float(0.5 * s + 2 * Double(c0[i * ldc + j]))
                            XCTAssertEqual(c[i * ldc + j], expected, accuracy: 1e-5,
                                           "\(threads) threads, \(ta) \(tb), C[\(i), \(j)]")
                        }
                    }
                }
            }
        }
    }
}
