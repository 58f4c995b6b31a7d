import CBLAS
import Dispatch

/// `sgemm` with the columns of C split in two halves that two threads compute at the same time,
/// each with a single-threaded OpenBLAS call, when OpenBLAS is set to two or more threads.
///
/// For the LSTM's per-step products (m = batch, ~20 rows) OpenBLAS's own threading gains ~10%
/// (BENCHMARKS.md): it packs all of B for few rows of A. Splitting the n columns halves each
/// thread's share of B, so both cores work on disjoint halves. Products smaller than
/// `minimumWork` multiply-adds (where waking a second thread costs more than it saves), and any
/// call while OpenBLAS has one thread, go to `sgemm` unchanged. Each element of C is a dot
/// product over the same k terms as in one unsplit call (the tests check the two agree to
/// rounding).
///
/// Not reentrant across threads: it sets OpenBLAS's (global) thread count to 1 for the duration
/// of the call and restores it, so no other thread may run BLAS meanwhile (lmtool's training and
/// evaluation loops are single-threaded around BLAS).
///
///     // gates[B, 4H] += h[B, H] · W_hhᵀ   (W_hh stored [4H, H])
///     sgemmSplitColumns(.none, .transpose, m: B, n: 4 * H, k: H, a: h, lda: H,
///                       b: whh, ldb: H, beta: 1, c: gates, ldc: 4 * H)
public func sgemmSplitColumns(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float,
    c: UnsafeMutablePointer<Float>, ldc: Int,
    minimumWork: Int = SplitGEMM.defaultMinimumWork
) {
    let threads = Int(openblas_get_num_threads())
    guard let half = SplitGEMM.firstHalfWidth(m: m, n: n, k: k, threads: threads, minimumWork: minimumWork) else {
        sgemm(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    let parts = SplitGEMM.Parts(a: a, b: b, c: c)
    openblas_set_num_threads(1)
    DispatchQueue.concurrentPerform(iterations: 2) { part in
        let n0 = part == 0 ? 0 : half, width = part == 0 ? half : n - half
        // Columns n0..<n0+width of op(B): rows of B stored [n, k], or columns of B stored [k, n].
        let bPart = transB == .transpose ? parts.b + n0 * ldb : parts.b + n0
        sgemm(transA, transB, m: m, n: width, k: k, alpha: alpha, a: parts.a, lda: lda,
              b: bPart, ldb: ldb, beta: beta, c: parts.c + n0, ldc: ldc)
    }
    openblas_set_num_threads(Int32(threads))
}

/// Settings of `sgemmSplitColumns`.
public enum SplitGEMM {
    /// Below this many multiply-adds (m·n·k) the product runs unsplit: `lmtool bench gemm
    /// --threads 2` measured the split faster than OpenBLAS's own threading for the medium LM's
    /// 20×2600×650 (33.8M; 96 → 167 GFLOP/s) and slower for the small LM's 20×800×200 (3.2M;
    /// 101 → 79) and the tiny LM's 32×256×64 (BENCHMARKS.md).
    public static let defaultMinimumWork = 1 << 23
    /// The first half's width is a multiple of this many columns (whole SIMD panels).
    static let columnAlignment = 16

    /// The width of the first of the two column blocks (n/2 rounded up to `columnAlignment`),
    /// or nil when the product runs unsplit: fewer than 2 threads, a single row, fewer than two
    /// panels of columns, or less work than `minimumWork`.
    static func firstHalfWidth(m: Int, n: Int, k: Int, threads: Int, minimumWork: Int) -> Int? {
        guard threads >= 2, m > 1, n >= 2 * columnAlignment, m * n * k >= minimumWork else { return nil }
        return (n / 2 + columnAlignment - 1) / columnAlignment * columnAlignment
    }

    /// The operands, handed to the two threads (raw pointers into buffers the caller owns and
    /// keeps alive for the call; the threads write disjoint columns of C).
    struct Parts: @unchecked Sendable {
        let a: UnsafePointer<Float>
        let b: UnsafePointer<Float>
        let c: UnsafeMutablePointer<Float>
    }
}
