import CBLAS

/// Whether a GEMM operand is used as stored or transposed.
public enum Transpose: Sendable {
    case none
    case transpose

    var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
}

/// Row-major single-precision GEMM: `C = alpha · op(A) · op(B) + beta · C`, on the threads of
/// `WorkerPool.shared`.
///
/// `op(A)` is `[m, k]`, `op(B)` is `[k, n]`, `C` is `[m, n]`; `lda`, `ldb`, `ldc` are the row
/// strides of the matrices *as stored* (so for `transA == .transpose`, A is stored `[k, m]`
/// and `lda >= m`). Pass `beta: 1` to accumulate into `C`, as every backward pass does.
/// Products of at least the pool's `gemmMinimumWork` multiply-adds are cut in blocks of rows or
/// columns of C (`GEMMSplit`), one single-threaded OpenBLAS call per thread; each element of C
/// is the same dot product either way (equal to rounding).
///
///     // out[T·B, 4H] = x[T·B, E] · W_ihᵀ   (W_ih stored [4H, E], as PyTorch)
///     sgemm(.none, .transpose, m: T * B, n: 4 * H, k: E,
///           a: x, lda: E, b: wih, ldb: E, beta: 0, c: out, ldc: 4 * H)
public func sgemm(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative size")
    let pool = WorkerPool.shared
    guard pool.threads > 1, let split = GEMMSplit(m: m, n: n, k: k, options: pool.options) else {
        sgemmOneThread(transA, transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                       beta: beta, c: c, ldc: ldc)
        return
    }
    pool.run { member in
        switch split {
        case .rows:
            // Rows r of op(A): rows of A stored [m, k], or columns of A stored [k, m].
            let r = member.share(of: m)
            sgemmOneThread(transA, transB, m: r.count, n: n, k: k, alpha: alpha,
                           a: transA == .none ? a + r.lowerBound * lda : a + r.lowerBound, lda: lda,
                           b: b, ldb: ldb, beta: beta, c: c + r.lowerBound * ldc, ldc: ldc)
        case .columns:
            // Columns j of op(B): rows of B stored [n, k], or columns of B stored [k, n].
            let j = member.share(of: n, alignment: GEMMSplit.columnAlignment)
            sgemmOneThread(transA, transB, m: m, n: j.count, k: k, alpha: alpha, a: a, lda: lda,
                           b: transB == .transpose ? b + j.lowerBound * ldb : b + j.lowerBound, ldb: ldb,
                           beta: beta, c: c + j.lowerBound, ldc: ldc)
        }
    }
}

/// `sgemm` on the calling thread alone: one OpenBLAS call (which lmtool keeps single-threaded).
public func sgemmOneThread(
    _ transA: Transpose, _ transB: Transpose,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative size")
    if m == 0 || n == 0 { return }
    if m == 1 && k > 0 {
        // One row (a batch of one: generation, streaming scoring): cᵀ = op(B)ᵀ · aᵀ as a GEMV.
        // OpenBLAS 0.3.21 would pack B for a GEMM, which costs more than the product itself.
        let incA = transA == .none ? 1 : lda   // A's row as stored: contiguous, or a column of [k, 1]
        if transB == .transpose {
            // B stored [n, k]: c[j] = Σ_p B[j, p] · a[p]
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(n), Int32(k), alpha, b, Int32(ldb),
                        a, Int32(incA), beta, c, 1)
        } else {
            // B stored [k, n]: c[j] = Σ_p B[p, j] · a[p]
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(k), Int32(n), alpha, b, Int32(ldb),
                        a, Int32(incA), beta, c, 1)
        }
        return
    }
    cblas_sgemm(
        CblasRowMajor, transA.cblas, transB.cblas,
        Int32(m), Int32(n), Int32(k),
        alpha, a, Int32(lda), b, Int32(ldb),
        beta, c, Int32(ldc))
}
