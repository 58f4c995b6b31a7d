import Glibc

/// Masked softmax cross-entropy over rows of logits, fused with log-sum-exp: the one
/// implementation behind every softmax loss of the project (the LM's full softmax, the domain
/// classifier, GLoMo's context prediction; `AdaptiveLogSoftmax` and `LinearCrossEntropy` use
/// its row kernels).
///
/// PyTorch equivalent: `F.cross_entropy(logits, targets, reduction="none")` multiplied by the
/// mask and summed; `loss / count` is PyTorch's mean reduction over the unmasked rows. Each row
/// `r` contributes `mask[r] · (logsumexp(logits[r]) - logits[r, targets[r]])`; rows with mask 0
/// are skipped entirely (their target may be anything, e.g. padding). A NaN logit in a scored
/// row makes the loss NaN. Exponentials use `FastMath` (relative error < 1e-6).
///
/// Two ways through, with the same loss to the bit:
/// - `forward` keeps only the per-row log-sum-exp `[N]` (and log p(target)); `backward` (adds
///   into a gradient buffer) or `backwardInPlace` recompute the softmax from it.
/// - `forward(exponentiating:…)` (training) overwrites each scored row with exp(logit − max)
///   and keeps 1/Σ per row, so that `backwardInPlace(…, inverseSums:)` turns the row into its
///   gradient without a second pass of exponentials.
///
/// Rows are split over the threads of `WorkerPool.shared` when `n · V` is large; the loss is
/// summed in row order afterwards, so results do not depend on the thread count.
///
///     let ce = SoftmaxCrossEntropy(classCount: V)
///     let (loss, count) = ce.forward(logSumExp: lse, logits: logits, targets: y, mask: m, n: N)
///     ce.backward(dlogits: dlogits, logits: logits, logSumExp: lse, targets: y, mask: m,
///                 n: N, scale: Float(1 / count))          // gradient of the mean loss
public struct SoftmaxCrossEntropy: Sendable {
    public let classCount: Int

    public init(classCount: Int) {
        precondition(classCount > 0, "SoftmaxCrossEntropy: classCount must be positive")
        self.classCount = classCount
    }

    /// Returns the masked summed loss and the summed mask (the count of scored rows); writes
    /// each row's log-sum-exp and, if given, log p(target) (both 0 where masked). `mask` nil
    /// means every row counts with weight 1.
    @discardableResult
    public func forward(
        logSumExp: UnsafeMutablePointer<Float>,        // [N]
        logProbs: UnsafeMutablePointer<Float>? = nil,  // [N]
        logits: UnsafePointer<Float>,                  // [N, V]
        targets: UnsafePointer<Int32>,                 // [N]
        mask: UnsafePointer<Float>?,                   // [N] 0/1 weights
        n: Int
    ) -> (loss: Double, count: Double) {
        rows(UnsafeMutablePointer(mutating: logits), inverseSums: nil, logSumExp: logSumExp, logProbs: logProbs,
             targets: targets, mask: mask, n: n)
    }

    /// `forward` (the same loss, count, log-sum-exps and log-probabilities, to the bit) that also
    /// overwrites each scored row of `logits` with exp(logit − max) and writes 1/Σ of that row
    /// into `inverseSums` (0 where masked): what `backwardInPlace(…, inverseSums:)` needs. A row
    /// without a finite maximum is left as it is, with a NaN inverse sum.
    @discardableResult
    public func forward(
        exponentiating logits: UnsafeMutablePointer<Float>,  // [N, V] in: logits; out: exp(logit − max)
        inverseSums: UnsafeMutablePointer<Float>,            // [N]
        logSumExp: UnsafeMutablePointer<Float>,              // [N]
        logProbs: UnsafeMutablePointer<Float>? = nil,        // [N]
        targets: UnsafePointer<Int32>,                       // [N]
        mask: UnsafePointer<Float>?,                         // [N] 0/1 weights
        n: Int
    ) -> (loss: Double, count: Double) {
        rows(logits, inverseSums: inverseSums, logSumExp: logSumExp, logProbs: logProbs,
             targets: targets, mask: mask, n: n)
    }

    /// Both forwards: the rows in parallel (log-sum-exp, target logit parked in `logProbs`), then
    /// the loss in row order.
    private func rows(
        _ logits: UnsafeMutablePointer<Float>, inverseSums: UnsafeMutablePointer<Float>?,
        logSumExp: UnsafeMutablePointer<Float>, logProbs: UnsafeMutablePointer<Float>?,
        targets: UnsafePointer<Int32>, mask: UnsafePointer<Float>?, n: Int
    ) -> (loss: Double, count: Double) {
        guard let logProbs else {
            return withUnsafeTemporaryAllocation(of: Float.self, capacity: Swift.max(n, 1)) { scratch in
                rows(logits, inverseSums: inverseSums, logSumExp: logSumExp, logProbs: scratch.baseAddress!,
                     targets: targets, mask: mask, n: n)
            }
        }
        let V = classCount
        WorkerPool.shared.runSplitting(n * V >= WorkerPool.shared.options.elementwiseMinimum) { member in
            for r in member.share(of: n) {
                if (mask?[r] ?? 1) == 0 { logSumExp[r] = 0; logProbs[r] = 0; inverseSums?[r] = 0; continue }
                let t = Int(targets[r])
                precondition(t >= 0 && t < V, "SoftmaxCrossEntropy: target \(t) outside 0..<\(V)")
                let row = logits + r * V
                let mx = SoftmaxCrossEntropy.rowMax(row, count: V)
                logProbs[r] = row[t]  // the target's logit, before exponentiating
                var lse = mx
                if let inverseSums {
                    inverseSums[r] = .nan
                    if mx.isFinite {
                        let sum = SoftmaxCrossEntropy.exponentiate(row, minus: mx, count: V)
                        inverseSums[r] = 1 / sum
                        lse = mx + logf(sum)
                    }
                } else if mx.isFinite {
                    lse = mx + logf(SoftmaxCrossEntropy.sumExp(row, minus: mx, count: V))
                }
                logSumExp[r] = lse
            }
        }
        var loss: Double = 0, count: Double = 0
        for r in 0..<n {
            let m = mask?[r] ?? 1
            if m == 0 { continue }
            let targetLogit = logProbs[r], lse = logSumExp[r]
            loss += Double(m) * (Double(lse) - Double(targetLogit))
            count += Double(m)
            logProbs[r] = targetLogit - lse
        }
        return (loss, count)
    }

    /// Adds `scale · mask[r] · (softmax(logits[r]) - onehot(targets[r]))` into `dlogits`.
    public func backward(
        dlogits: UnsafeMutablePointer<Float>,  // [N, V]
        logits: UnsafePointer<Float>,          // [N, V]
        logSumExp: UnsafePointer<Float>,       // [N] from forward
        targets: UnsafePointer<Int32>,         // [N]
        mask: UnsafePointer<Float>?,           // [N]
        n: Int,
        scale: Float
    ) {
        let V = classCount
        for r in 0..<n {
            let m = mask?[r] ?? 1
            if m == 0 { continue }
            SoftmaxCrossEntropy.gradientRow(dlogits + r * V, logits: logits + r * V, logSumExp: logSumExp[r],
                                            target: Int(targets[r]), count: V, scale: scale * m, accumulate: true)
        }
    }

    /// Overwrites `logits[r]` with `scale · mask[r] · (softmax(logits[r]) − onehot(targets[r]))`
    /// (0 for masked rows, and for every row when `scale` is 0). With `inverseSums` (from
    /// `forward(exponentiating:…)`) the rows hold exp(logit − max) and are only scaled; without,
    /// they hold the logits and `logSumExp` gives the softmax.
    public func backwardInPlace(
        logits: UnsafeMutablePointer<Float>,       // [N, V] in: logits or exponentials; out: gradient
        logSumExp: UnsafePointer<Float>,           // [N] from forward
        inverseSums: UnsafePointer<Float>?,        // [N] from forward(exponentiating:)
        targets: UnsafePointer<Int32>,             // [N]
        mask: UnsafePointer<Float>?,               // [N]
        n: Int,
        scale: Float
    ) {
        let V = classCount
        WorkerPool.shared.runSplitting(n * V >= WorkerPool.shared.options.elementwiseMinimum) { member in
            for r in member.share(of: n) {
                let row = logits + r * V
                let m = mask?[r] ?? 1
                if m == 0 || scale == 0 { row.update(repeating: 0, count: V); continue }
                if let inverseSums {  // row holds exp(x − max): scale by 1/Σ
                    let s8 = SIMD8<Float>(repeating: scale * m * inverseSums[r])
                    var j = 0
                    while j + 8 <= V { FastMath.store8(FastMath.load8(row + j) * s8, row + j); j += 8 }
                    while j < V { row[j] *= s8[0]; j += 1 }
                    row[Int(targets[r])] -= scale * m
                } else {
                    SoftmaxCrossEntropy.gradientRow(row, logits: row, logSumExp: logSumExp[r], target: Int(targets[r]),
                                                    count: V, scale: scale * m, accumulate: false)
                }
            }
        }
    }

    /// `log Σ_j exp(x[j])`, stable (max subtracted).
    public static func logSumExp(_ x: UnsafePointer<Float>, count: Int) -> Float {
        let mx = rowMax(x, count: count)
        if !mx.isFinite { return mx }
        return mx + logf(sumExp(x, minus: mx, count: count))
    }

    /// Writes the log-softmax of each of `n` rows of `V` logits into `output`, with the
    /// log-sum-exp summed in Double: for generation (a few rows of full distributions), not for
    /// the loss.
    public static func logSoftmax(output: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, rows n: Int, count V: Int) {
        for r in 0..<n {
            let x = logits + r * V, y = output + r * V
            var mx = -Float.infinity
            for j in 0..<V { mx = Swift.max(mx, x[j]) }
            var lse = mx
            if mx.isFinite {
                var s: Double = 0
                for j in 0..<V { s += Double(FastMath.exp(x[j] - mx)) }
                lse = mx + Float(log(s))
            }
            for j in 0..<V { y[j] = x[j] - lse }
        }
    }
}

// MARK: Row kernels
//
// The passes of a fused softmax cross-entropy over one row, for callers that keep their own
// buffers (`LinearCrossEntropy`, `AdaptiveLogSoftmax`). Eight lanes at a time, several
// independent accumulators; the order of the sums is fixed, so results are reproducible.

extension SoftmaxCrossEntropy {
    /// The largest of `x[0..<count]` (NaN entries are skipped; they poison the sum of
    /// exponentials instead). Four independent accumulators.
    public static func rowMax(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var m0 = SIMD8<Float>(repeating: -.infinity), m1 = m0, m2 = m0, m3 = m0
        var j = 0
        while j + 32 <= count {
            m0 = lanewiseMax(m0, FastMath.load8(x + j)); m1 = lanewiseMax(m1, FastMath.load8(x + j + 8))
            m2 = lanewiseMax(m2, FastMath.load8(x + j + 16)); m3 = lanewiseMax(m3, FastMath.load8(x + j + 24))
            j += 32
        }
        while j + 8 <= count { m0 = lanewiseMax(m0, FastMath.load8(x + j)); j += 8 }
        let m8 = lanewiseMax(lanewiseMax(m0, m1), lanewiseMax(m2, m3))
        var mx = m8[0]
        for k in 1..<8 where m8[k] > mx { mx = m8[k] }  // (SIMD's generic max() was not inlined)
        while j < count {
            if x[j] > mx { mx = x[j] }
            j += 1
        }
        return mx
    }

    /// `Σ_j exp(x[j] − shift)` for `j < count`, where `shift` is at least every `x[j]`: their
    /// maximum, so that the sum holds a term 1 (`FastMath.softmaxExp` relies on both).
    public static func sumExp(_ x: UnsafePointer<Float>, minus shift: Float, count: Int) -> Float {
        let s8 = SIMD8<Float>(repeating: shift)
        var a0 = SIMD8<Float>(repeating: 0), a1 = a0
        var j = 0
        while j + 16 <= count {
            a0 += FastMath.softmaxExp(FastMath.load8(x + j) - s8)
            a1 += FastMath.softmaxExp(FastMath.load8(x + j + 8) - s8)
            j += 16
        }
        var tail: Float = 0
        while j < count { tail += FastMath.softmaxExp(x[j] - shift); j += 1 }
        return (a0 + a1).sum() + tail
    }

    /// Overwrites `x[j]` with `exp(x[j] − shift)` for `j < count` and returns their sum (in the
    /// same order as `sumExp`, so the two agree bit for bit); `shift` as in `sumExp`.
    public static func exponentiate(_ x: UnsafeMutablePointer<Float>, minus shift: Float, count: Int) -> Float {
        let s8 = SIMD8<Float>(repeating: shift)
        var a0 = SIMD8<Float>(repeating: 0), a1 = a0
        var j = 0
        while j + 16 <= count {
            let e0 = FastMath.softmaxExp(FastMath.load8(x + j) - s8)
            let e1 = FastMath.softmaxExp(FastMath.load8(x + j + 8) - s8)
            FastMath.store8(e0, x + j); FastMath.store8(e1, x + j + 8)
            a0 += e0; a1 += e1
            j += 16
        }
        var tail: Float = 0
        while j < count { let e = FastMath.softmaxExp(x[j] - shift); x[j] = e; tail += e; j += 1 }
        return (a0 + a1).sum() + tail
    }

    /// `d[j] = scale · exp(logits[j] − logSumExp)` for `j < count` (added into `d[j]` when
    /// `accumulate`), then `d[target] −= scale`: one row of the softmax cross-entropy's gradient.
    /// `d` may be `logits` itself (in place, not accumulating).
    @inline(__always)
    static func gradientRow(
        _ d: UnsafeMutablePointer<Float>,  // [count]
        logits: UnsafePointer<Float>,      // [count]
        logSumExp: Float, target: Int, count: Int, scale: Float, accumulate: Bool
    ) {
        let s8 = SIMD8<Float>(repeating: scale), lse8 = SIMD8<Float>(repeating: logSumExp)
        var j = 0
        if accumulate {
            while j + 8 <= count {
                let p = FastMath.exp(FastMath.load8(logits + j) - lse8)
                FastMath.store8(FastMath.load8(d + j) + s8 * p, d + j)
                j += 8
            }
            while j < count { d[j] += scale * FastMath.exp(logits[j] - logSumExp); j += 1 }
        } else {
            while j + 8 <= count {
                FastMath.store8(s8 * FastMath.exp(FastMath.load8(logits + j) - lse8), d + j)
                j += 8
            }
            while j < count { d[j] = scale * FastMath.exp(logits[j] - logSumExp); j += 1 }
        }
        d[target] -= scale
    }

    /// Lane-wise maximum that keeps `a` where `b` is NaN (stdlib's generic `pointwiseMax` is
    /// not inlined here).
    @inline(__always)
    static func lanewiseMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
}
