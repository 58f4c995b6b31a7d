/// `C[m, n] += A[m, k] · op(B)[k, n]` with B packed once and multiplied many times: the LSTM's
/// per-step recurrent products (`h_{t-1} · W_hhᵀ` forward, `dgates_t · W_hh` backward), where B
/// is the same weight matrix at every step of a window and A has only `batch` rows.
///
/// OpenBLAS packs all of B on every call; for 20 rows of A that packing and its 16-row
/// micro-kernel edge cost ~40% of the product (`lmtool bench gemm`: ~60 GFLOP/s vs ~90 on large
/// shapes, one Zen 3 core). Here B is packed once per window into panels of 16 columns,
///
///     packed[(j / 16) · k · 16 + p · 16 + j % 16] = op(B)[p, j]     (0 beyond column n)
///
/// and a 4-row × 16-column kernel (8 SIMD8 accumulators over the whole depth k) streams each
/// panel from cache. The 1 to 3 rows left over take 2 rows × 2 panels or 1 row × 4 panels at
/// once, still 8 accumulators: one row against one panel (2 accumulators) waits on the latency
/// of its fused multiply-adds, which made batch-1 scoring's recurrence run at about a quarter of
/// the 4-row kernel's speed. Every kernel adds `a[i, p] · w[p, j]` for p in order into a zero
/// accumulator and then into C, so a row gets the same bits from whichever kernel takes it.
/// Builds for CPUs with FMA (`make build` on x86-64 with AVX2 and FMA passes
/// `-DLMTOOL_FMA` with `-target-cpu haswell`) accumulate with fused multiply-adds; other builds
/// with a multiply and an add, which stay vectorized there (`addProduct` would call libm's
/// `fmaf` lane by lane). One Zen 3 core, 20×2600×650: fused ~85–90 GFLOP/s, separate ~50–60,
/// OpenBLAS 0.3.21 ~55–60 (BENCHMARKS.md).
///
/// Panels are independent, so threads pack and multiply disjoint blocks of columns (multiples of
/// 16) without synchronizing:
///
///     let cols = member.share(of: n, alignment: PackedGEMM.panelWidth)
///     PackedGEMM.pack(packed, b: w, ldb: k, transB: .transpose, k: k, n: n, columns: cols)
///     for t in 0..<T {
///         PackedGEMM.multiplyAdd(c: c[t], ldc: n, a: a[t], lda: k, packed: packed, m: m, k: k, n: n, columns: cols)
///     }
public enum PackedGEMM {
    /// Columns per panel.
    public static let panelWidth = 16

    /// Floats that the packed panels of `n` columns of depth `k` take.
    public static func packedCount(n: Int, k: Int) -> Int { (n + panelWidth - 1) / panelWidth * panelWidth * k }

    /// Packs the panels of `columns` (which starts at a multiple of 16) of `op(B)` `[k, n]`:
    /// B is stored `[n, k]` for `.transpose` and `[k, n]` for `.none`, `ldb` its row stride.
    public static func pack(
        _ packed: UnsafeMutablePointer<Float>,  // [packedCount(n, k)]
        b: UnsafePointer<Float>, ldb: Int, transB: Transpose,
        k: Int, n: Int, columns: Range<Int>
    ) {
        precondition(columns.lowerBound % panelWidth == 0 && columns.upperBound <= n, "PackedGEMM: columns must start at a panel")
        var j0 = columns.lowerBound
        while j0 < columns.upperBound {
            let panel = packed + j0 * k  // (j0 / 16) · k · 16
            let width = min(panelWidth, n - j0)
            if width < panelWidth { panel.update(repeating: 0, count: k * panelWidth) }
            if transB == .transpose {
                // Row p of the panel gathers element p of 16 rows of B (16 sequential streams).
                let rows = b + j0 * ldb
                for p in 0..<k {
                    let out = panel + p * 16
                    for jj in 0..<width { out[jj] = rows[jj * ldb + p] }
                }
            } else {
                for p in 0..<k { (panel + p * panelWidth).update(from: b + p * ldb + j0, count: width) }
            }
            j0 += panelWidth
        }
    }

    /// `C[m, n] += A[m, k] · Wᵀ` for a weight W stored `[n, k]` (`nn.Linear`'s layout): packs W into
    /// `packed` (`packedCount(n: n, k: k)` floats) and multiplies, on the threads of
    /// `WorkerPool.shared` when the product is large enough (each thread packs and multiplies its own
    /// panels of columns; C's rows stay whole).
    ///
    /// Every row of C gets the same arithmetic whatever m is and wherever the row sits, so a row's
    /// result depends on its own row of A alone. Scoring needs this: a document scored as one batch
    /// column must get bitwise what it gets alone. OpenBLAS does not promise it: its Haswell/Zen
    /// kernels round a row differently by its place in their tiles (docs/scoring.md).
    public static func rowIndependentMultiplyAdd(
        c: UnsafeMutablePointer<Float>, ldc: Int,  // [m, n]
        a: UnsafePointer<Float>, lda: Int,         // [m, k]
        weight: UnsafePointer<Float>,              // [n, k]
        m: Int, k: Int, n: Int,
        packed: UnsafeMutablePointer<Float>        // [packedCount(n, k)] scratch
    ) {
        guard m > 0 && n > 0 else { return }
        let pool = WorkerPool.shared
        let split = n >= 2 * panelWidth && GEMMSplit(m: m, n: n, k: k, options: pool.options) != nil
        pool.runSplitting(split) { member in
            let columns = member.share(of: n, alignment: panelWidth)
            guard !columns.isEmpty else { return }
            pack(packed, b: weight, ldb: k, transB: .transpose, k: k, n: n, columns: columns)
            multiplyAdd(c: c, ldc: ldc, a: a, lda: lda, packed: packed, m: m, k: k, n: n, columns: columns)
        }
    }

    /// How the kernel accumulates (`FastMath.Accumulation`).
    public typealias Accumulation = FastMath.Accumulation

    /// `C[m, columns] += A[m, k] · op(B)[k, columns]` from the panels `pack` wrote for `columns`.
    public static func multiplyAdd(
        c: UnsafeMutablePointer<Float>, ldc: Int,  // [m, n]
        a: UnsafePointer<Float>, lda: Int,         // [m, k]
        packed: UnsafePointer<Float>,              // [packedCount(n, k)]
        m: Int, k: Int, n: Int, columns: Range<Int>,
        accumulation: Accumulation = .native
    ) {
        switch accumulation {
        case .fused:
            multiplyAdd(Fused.self, c: c, ldc: ldc, a: a, lda: lda, packed: packed, m: m, k: k, n: n, columns: columns)
        case .separate:
            multiplyAdd(Separate.self, c: c, ldc: ldc, a: a, lda: lda, packed: packed, m: m, k: k, n: n, columns: columns)
        }
    }

    /// `acc += x · w`, lane by lane: the one operation the kernels differ in.
    protocol MultiplyAccumulate {
        static func add(_ acc: inout SIMD8<Float>, _ x: SIMD8<Float>, _ w: SIMD8<Float>)
    }
    enum Fused: MultiplyAccumulate {
        @inline(__always)
        static func add(_ acc: inout SIMD8<Float>, _ x: SIMD8<Float>, _ w: SIMD8<Float>) { acc.addProduct(x, w) }
    }
    enum Separate: MultiplyAccumulate {
        @inline(__always)
        static func add(_ acc: inout SIMD8<Float>, _ x: SIMD8<Float>, _ w: SIMD8<Float>) { acc += x * w }
    }

    @inline(__always)
    static func multiplyAdd<M: MultiplyAccumulate>(
        _: M.Type,
        c: UnsafeMutablePointer<Float>, ldc: Int, a: UnsafePointer<Float>, lda: Int,
        packed: UnsafePointer<Float>, m: Int, k: Int, n: Int, columns: Range<Int>
    ) {
        precondition(columns.lowerBound % panelWidth == 0 && columns.upperBound <= n, "PackedGEMM: columns must start at a panel")
        let whole = m - m % 4  // rows the 4-row kernel takes
        var j0 = columns.lowerBound
        while j0 < columns.upperBound {
            // Four panels at a time: the rows left over after the 4-row kernel (a batch of 1 or
            // 2, or the last rows of a thread's share) then take several panels at once, so
            // that they too keep 8 accumulators in flight rather than wait on one chain.
            let group = Swift.min(4, (columns.upperBound - j0 + panelWidth - 1) / panelWidth)
            for q in 0..<group {
                let jq = j0 + q * panelWidth, panel = packed + jq * k, width = Swift.min(panelWidth, columns.upperBound - jq)
                var r = 0
                while r < whole {
                    rows4(M.self, c: c + r * ldc + jq, ldc: ldc, a: a + r * lda, lda: lda, panel: panel, k: k, width: width)
                    r += 4
                }
            }
            var r = whole
            if group == 4 && j0 + 4 * panelWidth <= columns.upperBound {
                let panel = packed + j0 * k
                while r + 2 <= m {
                    rows2x2(M.self, c: c + r * ldc + j0, ldc: ldc, a: a + r * lda, lda: lda, panel: panel, k: k)
                    rows2x2(M.self, c: c + r * ldc + j0 + 2 * panelWidth, ldc: ldc, a: a + r * lda, lda: lda,
                            panel: panel + 2 * panelWidth * k, k: k)
                    r += 2
                }
                if r < m { rows1x4(M.self, c: c + r * ldc + j0, a: a + r * lda, panel: panel, k: k) }
            } else {
                for q in 0..<group {
                    let jq = j0 + q * panelWidth, panel = packed + jq * k, width = Swift.min(panelWidth, columns.upperBound - jq)
                    for r in r..<m { rows1(M.self, c: c + r * ldc + jq, a: a + r * lda, panel: panel, k: k, width: width) }
                }
            }
            j0 += group * panelWidth
        }
    }

    /// Four rows of A against one panel: `c[0..<4, 0..<width] += a[0..<4, :] · panel`.
    @inline(__always)
    static func rows4<M: MultiplyAccumulate>(_: M.Type, c: UnsafeMutablePointer<Float>, ldc: Int, a: UnsafePointer<Float>, lda: Int,
                      panel: UnsafePointer<Float>, k: Int, width: Int) {
        var c00 = SIMD8<Float>(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda
        var w = panel  // row p of the panel: 16 floats
        for p in 0..<k {
            let w0 = FastMath.load8(w), w1 = FastMath.load8(w + 8)
            let x0 = SIMD8<Float>(repeating: a0[p]), x1 = SIMD8<Float>(repeating: a1[p])
            let x2 = SIMD8<Float>(repeating: a2[p]), x3 = SIMD8<Float>(repeating: a3[p])
            M.add(&c00, x0, w0); M.add(&c01, x0, w1)
            M.add(&c10, x1, w0); M.add(&c11, x1, w1)
            M.add(&c20, x2, w0); M.add(&c21, x2, w1)
            M.add(&c30, x3, w0); M.add(&c31, x3, w1)
            w += 16
        }
        addRow(c, c00, c01, width)
        addRow(c + ldc, c10, c11, width)
        addRow(c + 2 * ldc, c20, c21, width)
        addRow(c + 3 * ldc, c30, c31, width)
    }

    /// Two rows of A against two whole panels: `c[0..<2, 0..<32] += a[0..<2, :] · panels`.
    @inline(__always)
    static func rows2x2<M: MultiplyAccumulate>(_: M.Type, c: UnsafeMutablePointer<Float>, ldc: Int, a: UnsafePointer<Float>, lda: Int,
                        panel: UnsafePointer<Float>, k: Int) {
        var c00 = SIMD8<Float>(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00
        let a0 = a, a1 = a + lda
        var w = panel, v = panel + k * panelWidth  // row p of each panel
        for p in 0..<k {
            let w0 = FastMath.load8(w), w1 = FastMath.load8(w + 8), v0 = FastMath.load8(v), v1 = FastMath.load8(v + 8)
            let x0 = SIMD8<Float>(repeating: a0[p]), x1 = SIMD8<Float>(repeating: a1[p])
            M.add(&c00, x0, w0); M.add(&c01, x0, w1); M.add(&c02, x0, v0); M.add(&c03, x0, v1)
            M.add(&c10, x1, w0); M.add(&c11, x1, w1); M.add(&c12, x1, v0); M.add(&c13, x1, v1)
            w += 16
            v += 16
        }
        addRow(c, c00, c01, 16)
        addRow(c + 16, c02, c03, 16)
        addRow(c + ldc, c10, c11, 16)
        addRow(c + ldc + 16, c12, c13, 16)
    }

    /// One row of A against four whole panels: `c[0..<64] += a[:] · panels`.
    @inline(__always)
    static func rows1x4<M: MultiplyAccumulate>(_: M.Type, c: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>,
                        panel: UnsafePointer<Float>, k: Int) {
        var c0 = SIMD8<Float>(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0
        let s = k * panelWidth  // from one panel to the next
        var w = panel
        for p in 0..<k {
            let x = SIMD8<Float>(repeating: a[p])
            M.add(&c0, x, FastMath.load8(w)); M.add(&c1, x, FastMath.load8(w + 8))
            M.add(&c2, x, FastMath.load8(w + s)); M.add(&c3, x, FastMath.load8(w + s + 8))
            M.add(&c4, x, FastMath.load8(w + 2 * s)); M.add(&c5, x, FastMath.load8(w + 2 * s + 8))
            M.add(&c6, x, FastMath.load8(w + 3 * s)); M.add(&c7, x, FastMath.load8(w + 3 * s + 8))
            w += 16
        }
        addRow(c, c0, c1, 16)
        addRow(c + 16, c2, c3, 16)
        addRow(c + 32, c4, c5, 16)
        addRow(c + 48, c6, c7, 16)
    }

    /// One row of A against one panel.
    @inline(__always)
    static func rows1<M: MultiplyAccumulate>(_: M.Type, c: UnsafeMutablePointer<Float>, a: UnsafePointer<Float>, panel: UnsafePointer<Float>,
                      k: Int, width: Int) {
        var c0 = SIMD8<Float>(), c1 = c0
        var w = panel
        for p in 0..<k {
            let x = SIMD8<Float>(repeating: a[p])
            M.add(&c0, x, FastMath.load8(w))
            M.add(&c1, x, FastMath.load8(w + 8))
            w += 16
        }
        addRow(c, c0, c1, width)
    }

    /// `c[0..<width] += (lo, hi)` (16 lanes, the first `width` stored).
    @inline(__always)
    static func addRow(_ c: UnsafeMutablePointer<Float>, _ lo: SIMD8<Float>, _ hi: SIMD8<Float>, _ width: Int) {
        if width == 16 {
            FastMath.store8(FastMath.load8(c) + lo, c)
            FastMath.store8(FastMath.load8(c + 8) + hi, c + 8)
        } else {
            for j in 0..<width { c[j] += j < 8 ? lo[j] : hi[j - 8] }
        }
    }
}
