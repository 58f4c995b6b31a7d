import Glibc

/// A linear layer followed by masked softmax cross-entropy, forward only, without ever holding
/// the `[N, V]` logits: for evaluation.
///
/// Same result as `Linear.forward` then `SoftmaxCrossEntropy.forward` (up to rounding): row `r`
/// contributes `mask[r] · (logsumexp(z[r]) − z[r, targets[r]])` with `z = input · weightᵀ + bias`.
///
/// The logits are computed in blocks of at most `blockRows × blockColumns`, one single-threaded
/// GEMM per block into a per-thread buffer that starts as the bias (so OpenBLAS accumulates and
/// skips its zeroing pass); with `rowIndependent`, through `PackedGEMM` (the block's weight rows
/// packed into per-thread panels), which gives each row the same arithmetic wherever it sits, so
/// a row's log-probability depends on its own input alone, bitwise, whatever the number of rows
/// or the thread count (scoring documents relies on it). While the block is in cache, each of its rows gives a partial
/// result: the block's maximum `m_b` and `s_b = Σ_j exp(z_j − m_b)` over the block's columns.
/// Afterwards each row's partials are combined in column-block order,
/// `logsumexp = M + log Σ_b s_b · exp(m_b − M)` with `M = max_b m_b`. Compared with
/// materialising the logits this saves writing and twice reading `[N, V]` floats.
///
/// The blocks are shared out over the threads of `WorkerPool.shared` as whole tasks; each block
/// of the weight is packed by one thread only (splitting by rows would have every thread pack
/// all of it). A row's partials do not depend on which thread computed them and are combined
/// in a fixed order, and the loss is summed in row order: results do not depend on the thread
/// count.
///
///     let decoderLoss = LinearCrossEntropy(inputSize: H, classCount: V)
///     let (loss, count) = decoderLoss.forward(logProbs: lp, input: h, weight: w, bias: b,
///                                             targets: y, mask: nil, n: N)   // loss / count = mean
public final class LinearCrossEntropy {
    public let inputSize: Int   // K
    public let classCount: Int  // V
    /// Rows of one block of logits. The block's weight rows are packed once per block (by
    /// OpenBLAS or for `PackedGEMM`), so taller blocks pack the weight fewer times.
    public var blockRows = 512
    /// Columns of one block of logits (a multiple of 16 keeps the SIMD loops whole). Measured
    /// with `lmtool bench lm` on a 2-core Zen 3: 256 to 2048 columns were within the machine's
    /// noise (±10%); wide blocks also keep two threads busy on few tasks.
    public var blockColumns = 512

    /// Per-thread `[blockRows, blockColumns]` block of logits, then (row-independent products
    /// only) per thread the packed panels of a block's weight rows.
    private var blocks: UnsafeMutablePointer<Float>?
    private var blocksCapacity = 0
    /// Per row: partial maxima and sums `[columnBlocks, N]` each, then the target's logit `[N]`.
    private var partials: UnsafeMutablePointer<Float>?
    private var partialsCapacity = 0

    public init(inputSize: Int, classCount: Int) {
        precondition(inputSize > 0 && classCount > 0, "LinearCrossEntropy: sizes must be positive")
        self.inputSize = inputSize
        self.classCount = classCount
    }

    deinit {
        blocks?.deallocate()
        partials?.deallocate()
    }

    /// Returns the masked summed loss and the summed mask (the count of scored rows); writes
    /// log p(target) per row into `logProbs` (0 where masked). `mask` nil means every row
    /// counts with weight 1; masked rows cost nothing and their targets may be anything.
    @discardableResult
    public func forward(
        logProbs: UnsafeMutablePointer<Float>,  // [N]
        input: UnsafePointer<Float>,            // [N, K]
        weight: UnsafePointer<Float>,           // [V, K] (PyTorch's nn.Linear layout)
        bias: UnsafePointer<Float>?,            // [V]
        targets: UnsafePointer<Int32>,          // [N]
        mask: UnsafePointer<Float>?,            // [N] 0/1 weights
        n: Int,
        rowIndependent: Bool = false
    ) -> (loss: Double, count: Double) {
        precondition(n >= 0, "LinearCrossEntropy: negative row count")
        precondition(blockRows > 0 && blockColumns > 0, "LinearCrossEntropy: block sizes must be positive")
        let V = classCount, K = inputSize, R = blockRows, C = blockColumns
        for r in 0..<n where (mask?[r] ?? 1) != 0 {
            let t = targets[r]
            precondition(t >= 0 && Int(t) < V, "LinearCrossEntropy: target \(t) outside 0..<\(V)")
        }
        // Blocks of equal height (and the threads equal work): n rows in ⌈n / R⌉ blocks.
        let columnBlocks = (V + C - 1) / C, rowBlocks = Swift.max(1, (n + R - 1) / R)
        let height = (n + rowBlocks - 1) / rowBlocks
        let pool = WorkerPool.shared
        reserve(threads: pool.threads, rows: n, columnBlocks: columnBlocks, packing: rowIndependent)
        let blocks = self.blocks!, partials = self.partials!
        let packs = blocks + pool.threads * R * C, packCount = PackedGEMM.packedCount(n: C, k: K)
        let partialMax = partials, partialSum = partials + columnBlocks * n  // [columnBlocks, N] each
        let targetLogit = partials + 2 * columnBlocks * n                    // [N]

        // Tasks in row-block-major order: a thread's consecutive tasks share their input rows.
        let tasks = rowBlocks * columnBlocks
        pool.runSplitting(tasks >= 2 && n * V * K >= pool.options.gemmMinimumWork) { member in
            let block = blocks + member.index * R * C, pack = packs + member.index * packCount
            for task in member.share(of: tasks) {
                let r0 = (task / columnBlocks) * height, rows = Swift.min(height, n - r0)
                let b = task % columnBlocks, c0 = b * C, cols = Swift.min(C, V - c0)
                // block[rows, cols] = bias[c0...] + input[r0..., K] · weight[c0..., K]ᵀ
                for i in 0..<rows {
                    if let bias {
                        (block + i * C).update(from: bias + c0, count: cols)
                    } else {
                        (block + i * C).update(repeating: 0, count: cols)
                    }
                }
                if rowIndependent {
                    PackedGEMM.pack(pack, b: weight + c0 * K, ldb: K, transB: .transpose, k: K, n: cols, columns: 0..<cols)
                    PackedGEMM.multiplyAdd(c: block, ldc: C, a: input + r0 * K, lda: K, packed: pack,
                                           m: rows, k: K, n: cols, columns: 0..<cols)
                } else {
                    sgemmOneThread(.none, .transpose, m: rows, n: cols, k: K, a: input + r0 * K, lda: K,
                                   b: weight + c0 * K, ldb: K, beta: 1, c: block, ldc: C)
                }
                for i in 0..<rows {
                    let r = r0 + i
                    if let mask, mask[r] == 0 { continue }
                    let row = block + i * C
                    let mx = SoftmaxCrossEntropy.rowMax(row, count: cols)
                    partialMax[b * n + r] = mx
                    // (A block without a finite maximum still passes on its NaNs through the sum.)
                    partialSum[b * n + r] = SoftmaxCrossEntropy.sumExp(row, minus: mx.isFinite ? mx : 0, count: cols)
                    let t = Int(targets[r]) - c0
                    if t >= 0 && t < cols { targetLogit[r] = row[t] }
                }
            }
        }

        // Combine each row's partials in block order; sum the loss in row order.
        var loss: Double = 0, count: Double = 0
        for r in 0..<n {
            let m = mask?[r] ?? 1
            if m == 0 { logProbs[r] = 0; continue }
            var mx = -Float.infinity
            for b in 0..<columnBlocks where partialMax[b * n + r] > mx { mx = partialMax[b * n + r] }
            var lse = mx
            if mx.isFinite {
                var sum: Float = 0
                for b in 0..<columnBlocks { sum += partialSum[b * n + r] * FastMath.exp(partialMax[b * n + r] - mx) }
                lse = mx + logf(sum)
            }
            logProbs[r] = targetLogit[r] - lse
            loss += Double(m) * (Double(lse) - Double(targetLogit[r]))
            count += Double(m)
        }
        return (loss, count)
    }

    /// Grows the per-thread blocks (with `packing`, also room for `PackedGEMM`'s panels) and the
    /// per-row partials.
    private func reserve(threads: Int, rows: Int, columnBlocks: Int, packing: Bool) {
        let blocksNeeded = threads * (blockRows * blockColumns + (packing ? PackedGEMM.packedCount(n: blockColumns, k: inputSize) : 0))
        if blocksNeeded > blocksCapacity {
            blocks?.deallocate()
            blocks = .allocate(capacity: blocksNeeded)
            blocksCapacity = blocksNeeded
        }
        let partialsNeeded = Swift.max(1, (2 * columnBlocks + 1) * rows)
        if partialsNeeded > partialsCapacity {
            partials?.deallocate()
            partials = .allocate(capacity: partialsNeeded)
            partialsCapacity = partialsNeeded
        }
    }
}
