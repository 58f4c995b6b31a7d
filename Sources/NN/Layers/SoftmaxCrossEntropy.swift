import Glibc

/// Masked softmax cross-entropy over rows of logits, fused with log-sum-exp.
///
/// PyTorch equivalent: `F.cross_entropy(logits, targets, reduction="none")` multiplied by the
/// mask and summed; `loss / count` is PyTorch's mean reduction over the unmasked rows. Each row
/// `r` contributes `mask[r] · (logsumexp(logits[r]) - logits[r, targets[r]])`; rows with mask 0
/// are skipped entirely (their target may be anything, e.g. padding). The forward pass keeps
/// only the per-row log-sum-exp `[N]`; backward recomputes the softmax from it while writing the
/// logits gradient, so no `[N, V]` probability buffer is needed. A NaN logit in a scored row
/// makes the loss NaN. Exponentials use `FastMath.exp` (relative error < 1e-6).
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
    /// each scored row's log-sum-exp. `mask` nil means every row counts with weight 1.
    @discardableResult
    public func forward(
        logSumExp: UnsafeMutablePointer<Float>,  // [N]
        logits: UnsafePointer<Float>,            // [N, V]
        targets: UnsafePointer<Int32>,           // [N]
        mask: UnsafePointer<Float>?,             // [N] 0/1 weights
        n: Int
    ) -> (loss: Double, count: Double) {
        let V = classCount
        var loss: Double = 0, count: Double = 0
        for r in 0..<n {
            let m = mask?[r] ?? 1
            if m == 0 { logSumExp[r] = 0; continue }
            let t = Int(targets[r])
            precondition(t >= 0 && t < V, "SoftmaxCrossEntropy: target \(t) outside 0..<\(V)")
            let row = logits + r * V
            let lse = SoftmaxCrossEntropy.logSumExp(row, count: V)
            logSumExp[r] = lse
            loss += Double(m) * (Double(lse) - Double(row[t]))
            count += Double(m)
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
            let s = scale * m, lse = logSumExp[r]
            let row = logits + r * V, drow = dlogits + r * V
            let s8 = SIMD8<Float>(repeating: s), lse8 = SIMD8<Float>(repeating: lse)
            var j = 0
            while j + 8 <= V {
                let p = FastMath.exp(FastMath.load8(row + j) - lse8)
                FastMath.store8(FastMath.load8(drow + j) + s8 * p, drow + j)
                j += 8
            }
            while j < V { drow[j] += s * FastMath.exp(row[j] - lse); j += 1 }
            drow[Int(targets[r])] -= s
        }
    }

    /// Forward and backward in one pass, one exponential per logit: returns the masked summed
    /// loss and the count like `forward`, and adds `scale · mask[r] · (softmax − onehot)` into
    /// `dlogits` like `backward`. For the gradient of the mean loss pass `scale = 1 / Σ mask`
    /// (known before the pass). About twice as fast as `forward` followed by `backward`.
    ///
    ///     let count = mask.reduce(0, +)
    ///     let (loss, _) = ce.forwardBackward(dlogits: d, logits: z, targets: y, mask: mask,
    ///                                        n: N, scale: 1 / count)
    @discardableResult
    public func forwardBackward(
        dlogits: UnsafeMutablePointer<Float>,  // [N, V]
        logits: UnsafePointer<Float>,          // [N, V]
        targets: UnsafePointer<Int32>,         // [N]
        mask: UnsafePointer<Float>?,           // [N] 0/1 weights
        n: Int,
        scale: Float
    ) -> (loss: Double, count: Double) {
        let V = classCount
        var loss: Double = 0, count: Double = 0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: V) { scratch in
            let e = scratch.baseAddress!  // [V] exp(logit - max) of one row
            for r in 0..<n {
                let m = mask?[r] ?? 1
                if m == 0 { continue }
                let t = Int(targets[r])
                precondition(t >= 0 && t < V, "SoftmaxCrossEntropy: target \(t) outside 0..<\(V)")
                let row = logits + r * V, drow = dlogits + r * V
                let mx = SoftmaxCrossEntropy.rowMax(row, count: V)
                let mx8 = SIMD8<Float>(repeating: mx)
                var acc = SIMD8<Float>(repeating: 0), tail: Float = 0
                var j = 0
                while j + 8 <= V {
                    let v = FastMath.exp(FastMath.load8(row + j) - mx8)
                    FastMath.store8(v, e + j); acc += v
                    j += 8
                }
                while j < V { let v = FastMath.exp(row[j] - mx); e[j] = v; tail += v; j += 1 }
                let sum = acc.sum() + tail
                loss += Double(m) * (Double(mx) + Double(logf(sum)) - Double(row[t]))
                count += Double(m)
                let f = scale * m / sum, f8 = SIMD8<Float>(repeating: f)
                j = 0
                while j + 8 <= V {
                    FastMath.store8(FastMath.load8(drow + j) + f8 * FastMath.load8(e + j), drow + j)
                    j += 8
                }
                while j < V { drow[j] += f * e[j]; j += 1 }
                drow[t] -= scale * m
            }
        }
        return (loss, count)
    }

    /// `log Σ_j exp(x[j])`, stable (max subtracted).
    static func logSumExp(_ x: UnsafePointer<Float>, count: Int) -> Float {
        let mx = rowMax(x, count: count)
        if !mx.isFinite { return mx }
        return mx + logf(sumExp(x, minus: mx, count: count))
    }
}

// MARK: Row kernels
//
// The passes of a fused softmax cross-entropy over one row, for callers that keep their own
// buffers (`LinearCrossEntropy`, LM's decoder loss). Eight lanes at a time, several
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

    /// Lane-wise maximum that keeps `a` where `b` is NaN (stdlib's generic `pointwiseMax` is
    /// not inlined here).
    @inline(__always)
    static func lanewiseMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
}
