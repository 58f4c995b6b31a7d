import Glibc

extension ParameterStore {
    /// The L2 norm of the gradients of all trainable parameters together (accumulated in double
    /// precision); frozen parameters do not count.
    ///
    /// Summed in fixed blocks of `normBlock` elements (each on one thread of
    /// `WorkerPool.shared`), then over the blocks in order: the result does not depend on the
    /// thread count.
    public func gradientNorm() -> Float {
        let g = UnsafePointer(gradients.baseAddress)
        var sum: Double = 0
        for range in trainableRanges {
            let blocks = (range.count + ParameterStore.normBlock - 1) / ParameterStore.normBlock
            let partial = UnsafeMutablePointer<Double>.allocate(capacity: blocks)  // [blocks]
            defer { partial.deallocate() }
            WorkerPool.shared.forEachShare(of: blocks, minimumCount: 2) { share in
                for k in share {
                    let lo = range.lowerBound + k * ParameterStore.normBlock
                    partial[k] = sumOfSquares(g! + lo, count: min(ParameterStore.normBlock, range.upperBound - lo))
                }
            }
            for k in 0..<blocks { sum += partial[k] }
        }
        return Float(sum.squareRoot())
    }

    /// Elements per partial sum of `gradientNorm`.
    static let normBlock = 1 << 14

    /// Scales the gradients of all trainable parameters so that their global L2 norm is at most
    /// `maxNorm`, as `torch.nn.utils.clip_grad_norm_` over the parameters given to the optimizer,
    /// and returns the norm *before* clipping. Frozen parameters neither count nor change.
    ///
    /// The scale is `maxNorm / (norm + 1e-6)` when that is below 1; otherwise the gradients are
    /// left as they are. A NaN norm also leaves them as they are (PyTorch would fill them with
    /// NaN), so the caller can see it in the returned value and skip the step.
    ///
    ///     let norm = store.clipGradientNorm(maxNorm: 0.25)
    @discardableResult
    public func clipGradientNorm(maxNorm: Float) -> Float {
        let norm = gradientNorm()
        let coefficient = maxNorm / (norm + 1e-6)
        if coefficient < 1 {
            let g = gradients
            for range in trainableRanges {
                WorkerPool.shared.forEachShare(of: range.count, minimumCount: WorkerPool.shared.settings.elementwiseMinimum) { share in
                    for i in share.shifted(by: range.lowerBound) { g[i] *= coefficient }
                }
            }
        }
        return norm
    }
}

/// Σ x[i]² in double precision, four partial sums so the loop does not serialize on one
/// accumulator.
private func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
    var s0: Double = 0, s1: Double = 0, s2: Double = 0, s3: Double = 0, tail: Double = 0
    var i = 0
    while i + 4 <= count {
        s0 += Double(x[i]) * Double(x[i])
        s1 += Double(x[i + 1]) * Double(x[i + 1])
        s2 += Double(x[i + 2]) * Double(x[i + 2])
        s3 += Double(x[i + 3]) * Double(x[i + 3])
        i += 4
    }
    while i < count { tail += Double(x[i]) * Double(x[i]); i += 1 }
    return tail + (s0 + s1) + (s2 + s3)
}
