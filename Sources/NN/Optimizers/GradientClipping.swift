#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

extension ParameterStore {
    /// The L2 norm of the gradients of all trainable parameters together (accumulated in double
    /// precision); frozen parameters do not count.
    public func gradientNorm() -> Float {
        let g = gradients
        var sum: Double = 0
        // Four partial sums so the loop does not serialize on one accumulator.
        var s0: Double = 0, s1: Double = 0, s2: Double = 0, s3: Double = 0
        for range in trainableRanges {
            var i = range.lowerBound
            while i + 4 <= range.upperBound {
                s0 += Double(g[i]) * Double(g[i])
                s1 += Double(g[i + 1]) * Double(g[i + 1])
                s2 += Double(g[i + 2]) * Double(g[i + 2])
                s3 += Double(g[i + 3]) * Double(g[i + 3])
                i += 4
            }
            while i < range.upperBound { sum += Double(g[i]) * Double(g[i]); i += 1 }
        }
        sum += (s0 + s1) + (s2 + s3)
        return Float(sum.squareRoot())
    }

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
                for i in range { g[i] *= coefficient }
            }
        }
        return norm
    }
}
