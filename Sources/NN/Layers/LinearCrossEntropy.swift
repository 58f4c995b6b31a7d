#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A linear layer followed by masked softmax cross-entropy, forward only, without ever holding
/// the `[N, V]` logits: for evaluation.
///
/// Same result as `Linear.forward` then `SoftmaxCrossEntropy.forward` (up to rounding): row `r`
/// contributes `mask[r] · (logsumexp(z[r]) − z[r, targets[r]])` with `z = input · weightᵀ + bias`.
/// The logits are computed in blocks of `blockRows × blockColumns` that stay in the core's
/// cache, one single-threaded GEMM per block; each block updates a running maximum and a
/// running sum of exponentials per row ("online softmax": when a block raises a row's maximum
/// from `m` to `m'`, the sum so far is scaled by `exp(m − m')`). Compared with materialising
/// the logits this saves writing and twice reading `[N, V]` floats and OpenBLAS's separate
/// zeroing pass over them (each block starts as the bias and the GEMM accumulates into it). Rows are split over the threads of `WorkerPool.shared`; the loss is
/// summed in row order, so it does not depend on the thread count.
///
///     let decoderLoss = LinearCrossEntropy(inputSize: H, classCount: V)
///     let (loss, count) = decoderLoss.forward(logProbs: lp, input: h, weight: w, bias: b,
///                                             targets: y, mask: nil, n: N)   // loss / count = mean
public final class LinearCrossEntropy {
    public let inputSize: Int   // K
    public let classCount: Int  // V
    /// Rows of one block of logits (per thread). OpenBLAS packs the weight once per call, so
    /// taller blocks pack it fewer times.
    public var blockRows = 512
    /// Columns of one block of logits (a multiple of 16 keeps the SIMD loops whole). Measured
    /// with `lmtool bench lm` on a 2-core Zen 3 (L2 512 KB per core): 512 × 256 (512 KB) was
    /// as fast as or faster than 128 × 256 and 512 × 128.
    public var blockColumns = 256

    /// Per-thread scratch: a `[blockRows, blockColumns]` block of logits, then running maximum,
    /// running sum and target logit per block row.
    private var scratch: UnsafeMutablePointer<Float>?
    private var scratchPerThread = 0
    private var scratchThreads = 0
    /// Weighted loss per row `[N]`, summed in row order after the threads finish.
    private var rowLoss: UnsafeMutablePointer<Double>?
    private var rowLossCapacity = 0

    public init(inputSize: Int, classCount: Int) {
        precondition(inputSize > 0 && classCount > 0, "LinearCrossEntropy: sizes must be positive")
        self.inputSize = inputSize
        self.classCount = classCount
    }

    deinit {
        scratch?.deallocate()
        rowLoss?.deallocate()
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
        n: Int
    ) -> (loss: Double, count: Double) {
        precondition(n >= 0, "LinearCrossEntropy: negative row count")
        precondition(blockRows > 0 && blockColumns > 0, "LinearCrossEntropy: block sizes must be positive")
        let V = classCount
        for r in 0..<n where (mask?[r] ?? 1) != 0 {
            let t = targets[r]
            precondition(t >= 0 && Int(t) < V, "LinearCrossEntropy: target \(t) outside 0..<\(V)")
        }
        let pool = WorkerPool.shared
        reserve(threads: pool.threads, rows: n)
        let rowLoss = self.rowLoss!, scratch = self.scratch!, perThread = scratchPerThread
        // Split only when every thread gets whole blocks' worth of work.
        pool.runSplitting(n * V * inputSize >= GEMMSplit.minimumWork && n >= 2 * 16) { member in
            let rows = member.share(of: n, alignment: 16)
            var r0 = rows.lowerBound
            while r0 < rows.upperBound {
                let count = Swift.min(blockRows, rows.upperBound - r0)
                lossOfRows(r0, count: count, logProbs: logProbs, rowLoss: rowLoss, input: input,
                           weight: weight, bias: bias, targets: targets, mask: mask,
                           scratch: scratch + member.index * perThread)
                r0 += count
            }
        }
        var loss: Double = 0, count: Double = 0
        for r in 0..<n {
            let m = mask?[r] ?? 1
            if m != 0 { loss += rowLoss[r]; count += Double(m) }
        }
        return (loss, count)
    }

    /// Rows `r0 ..< r0 + rows` (at most `blockRows`): block by block of columns.
    private func lossOfRows(_ r0: Int, count rows: Int, logProbs: UnsafeMutablePointer<Float>,
                            rowLoss: UnsafeMutablePointer<Double>, input: UnsafePointer<Float>,
                            weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                            targets: UnsafePointer<Int32>, mask: UnsafePointer<Float>?,
                            scratch: UnsafeMutablePointer<Float>) {
        let V = classCount, K = inputSize, C = blockColumns
        let block = scratch                                  // [rows, C]
        let runningMax = scratch + blockRows * C             // [rows]
        let runningSum = runningMax + blockRows              // [rows]
        let targetLogit = runningSum + blockRows             // [rows]
        runningMax.update(repeating: -.infinity, count: rows)
        runningSum.update(repeating: 0, count: rows)
        targetLogit.update(repeating: 0, count: rows)
        var c0 = 0
        while c0 < V {
            let cols = Swift.min(C, V - c0)
            // block[rows, cols] = bias[c0...] + input[r0..., K] · weight[c0..., K]ᵀ; the bias
            // goes in first, so that OpenBLAS accumulates (beta 1) and skips its zeroing pass.
            for i in 0..<rows {
                if let bias { (block + i * C).update(from: bias + c0, count: cols) } else { (block + i * C).update(repeating: 0, count: cols) }
            }
            sgemmOneThread(.none, .transpose, m: rows, n: cols, k: K, a: input + r0 * K, lda: K,
                           b: weight + c0 * K, ldb: K, beta: 1, c: block, ldc: C)
            for i in 0..<rows {
                let r = r0 + i
                if let mask, mask[r] == 0 { continue }
                let row = block + i * C
                let blockMax = SoftmaxCrossEntropy.addBiasAndMax(row, bias: nil, count: cols)
                let t = Int(targets[r]) - c0
                if t >= 0 && t < cols { targetLogit[i] = row[t] }
                let newMax = Swift.max(runningMax[i], blockMax)
                if newMax.isFinite {
                    // exp(−∞) = 0: the first finite block starts the sum.
                    runningSum[i] = runningSum[i] * FastMath.exp(runningMax[i] - newMax)
                        + SoftmaxCrossEntropy.sumExp(row, minus: newMax, count: cols)
                }
                runningMax[i] = newMax
            }
            c0 += cols
        }
        for i in 0..<rows {
            let r = r0 + i
            let m = mask?[r] ?? 1
            if m == 0 { logProbs[r] = 0; rowLoss[r] = 0; continue }
            let mx = runningMax[i]
            let lse = mx.isFinite ? mx + logf(runningSum[i]) : mx
            logProbs[r] = targetLogit[i] - lse
            rowLoss[r] = Double(m) * (Double(lse) - Double(targetLogit[i]))
        }
    }

    /// Grows the scratch for `threads` threads and the row losses for `rows` rows.
    private func reserve(threads: Int, rows: Int) {
        let perThread = blockRows * blockColumns + 3 * blockRows
        if threads > scratchThreads || perThread != scratchPerThread {
            scratch?.deallocate()
            scratch = .allocate(capacity: threads * perThread)
            scratchThreads = threads
            scratchPerThread = perThread
        }
        if rows > rowLossCapacity || rowLoss == nil {
            rowLoss?.deallocate()
            rowLoss = .allocate(capacity: Swift.max(rows, 1))
            rowLossCapacity = rows
        }
    }
}
