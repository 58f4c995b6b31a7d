import XCTest
@testable import NN

final class PackedGEMMTests: XCTestCase {
    /// C[m, cols] += A · op(B) through the packed panels against a double-precision triple loop:
    /// both layouts of B, both accumulations, row counts that leave 1, 2 or 3 rows after the
    /// 4-row kernel (taken 2 rows × 2 panels and 1 row × 4 panels at a time where 4 whole panels
    /// remain, else panel by panel), a last panel narrower than 16, column ranges packed and
    /// multiplied separately (as two threads do), and a C wider than n whose padding must stay
    /// untouched.
    func testAgainstNaiveLoops() {
        var rng = RNG(seed: 23)
        for (m, n, k) in [(5, 37, 9), (4, 16, 3), (1, 50, 6), (20, 70, 13), (6, 70, 9), (3, 130, 24), (2, 75, 17), (7, 64, 8)] {
            let ldc = n + 2
            let blocks = [0..<n, 0..<(n > 32 ? 32 : n)] + (n > 32 ? [32..<n] : [])
            for tb in [Transpose.none, .transpose] {
                for accumulation in [PackedGEMM.Accumulation.fused, .separate] {
                    let a = randomArray(m * k, &rng), b = randomArray(k * n, &rng)
                    let c0 = randomArray(m * ldc, &rng)
                    var c = c0
                    var packed = [Float](repeating: .nan, count: PackedGEMM.packedCount(n: n, k: k))
                    // Whole range, or two blocks of panels; either way every column once.
                    let ranges = blocks.count == 3 ? [blocks[1], blocks[2]] : [blocks[0]]
                    for cols in ranges {
                        PackedGEMM.pack(&packed, b: b, ldb: tb == .none ? n : k, transB: tb, k: k, n: n, columns: cols)
                        PackedGEMM.multiplyAdd(c: &c, ldc: ldc, a: a, lda: k, packed: packed, m: m, k: k, n: n,
                                               columns: cols, accumulation: accumulation)
                    }
                    for i in 0..<m {
                        for j in 0..<ldc {
                            guard j < n else {
                                XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j], "padding of C untouched")
                                continue
                            }
                            var s = Double(c0[i * ldc + j])
                            for p in 0..<k {
                                s += Double(a[i * k + p]) * Double(tb == .none ? b[p * n + j] : b[j * k + p])
                            }
                            XCTAssertEqual(Double(c[i * ldc + j]), s, accuracy: 1e-5,
                                           "\(m)x\(n)x\(k) \(tb) \(accumulation) C[\(i), \(j)]")
                        }
                    }
                }
            }
        }
    }

    /// `rowIndependentMultiplyAdd`: C += A · Wᵀ against a double-precision loop, and each row's
    /// result bitwise the same whatever the number of rows, the row's place among them and the
    /// thread count (OpenBLAS's Haswell/Zen kernels fail the second: they round a row by its place
    /// in their tiles, which broke columns-vs-alone scoring on such machines).
    func testRowIndependentProductAgainstNaiveLoopsAndAloneRows() {
        var rng = RNG(seed: 29)
        let pool = WorkerPool.shared, threads = pool.threads, options = pool.options
        defer { pool.threads = threads; pool.options = options }
        for (n, k) in [(48, 8), (800, 200), (37, 13)] {
            let m = 13
            let a = randomArray(m * k, &rng), w = randomArray(n * k, &rng), c0 = randomArray(m * n, &rng)
            var packed = [Float](repeating: .nan, count: PackedGEMM.packedCount(n: n, k: k))
            func product(rows: Range<Int>, threads: Int) -> [Float] {
                pool.threads = threads
                var opts = options
                opts.gemmMinimumWork = 1   // split whenever the shape allows
                pool.options = opts
                var c = Array(c0[(rows.lowerBound * n)..<(rows.upperBound * n)])
                a.withUnsafeBufferPointer { a in
                    PackedGEMM.rowIndependentMultiplyAdd(c: &c, ldc: n, a: a.baseAddress! + rows.lowerBound * k, lda: k,
                                                         weight: w, m: rows.count, k: k, n: n, packed: &packed)
                }
                return c
            }
            let all = product(rows: 0..<m, threads: 2)
            for i in 0..<m {
                for j in 0..<n {
                    var s = Double(c0[i * n + j])
                    for p in 0..<k { s += Double(a[i * k + p]) * Double(w[j * k + p]) }
                    XCTAssertEqual(Double(all[i * n + j]), s, accuracy: 1e-4, "\(n)x\(k) C[\(i), \(j)]")
                }
            }
            // Row 5 alone, among rows 3..<12, and all 13 on one thread: the same bits.
            let row5 = Array(all[(5 * n)..<(6 * n)])
            XCTAssertEqual(product(rows: 5..<6, threads: 2), row5, "\(n)x\(k) row 5 alone")
            XCTAssertEqual(Array(product(rows: 3..<12, threads: 2)[(2 * n)..<(3 * n)]), row5, "\(n)x\(k) row 5 of 3..<12")
            // In 1..<7 row 5 is left over after the 4-row kernel (2 rows × 2 panels where n allows).
            XCTAssertEqual(Array(product(rows: 1..<7, threads: 2)[(4 * n)..<(5 * n)]), row5, "\(n)x\(k) row 5 of 1..<7")
            XCTAssertEqual(product(rows: 0..<m, threads: 1), all, "\(n)x\(k) one thread")
        }
    }

    /// The panel layout the type's documentation gives, element by element, from both layouts
    /// of B: `packed[(j / 16) · k · 16 + p · 16 + j % 16] = op(B)[p, j]`, 0 beyond column n.
    func testPackLayout() {
        var rng = RNG(seed: 31)
        for (n, k) in [(16, 8), (37, 9), (75, 17), (8, 3), (130, 24)] {
            let b = randomArray(n * k, &rng)
            for tb in [Transpose.none, .transpose] {
                var packed = [Float](repeating: .nan, count: PackedGEMM.packedCount(n: n, k: k))
                PackedGEMM.pack(&packed, b: b, ldb: tb == .none ? n : k, transB: tb, k: k, n: n, columns: 0..<n)
                for j in 0..<((n + 15) / 16 * 16) {
                    for p in 0..<k {
                        let expected = j >= n ? 0 : (tb == .none ? b[p * n + j] : b[j * k + p])
                        XCTAssertEqual(packed[(j / 16) * k * 16 + p * 16 + j % 16], expected, "\(n)x\(k) \(tb) (\(p), \(j))")
                    }
                }
            }
        }
    }

    func testPackedCountIsWholePanels() {
        XCTAssertEqual(PackedGEMM.packedCount(n: 2600, k: 650), 2608 * 650)
        XCTAssertEqual(PackedGEMM.packedCount(n: 16, k: 3), 48)
    }
}
