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
            // Skipped elements (outside the segments, see `trackGradientRows`) are exactly 0: each
            // block's partial sum is bitwise the dense one.
            let segments = gradientSegments(of: range)
            let dense = segments == [range]
            let blocks = (range.count + ParameterStore.normBlock - 1) / ParameterStore.normBlock
            let partial = UnsafeMutablePointer<Double>.allocate(capacity: blocks)  // [blocks]
            defer { partial.deallocate() }
            WorkerPool.shared.forEachShare(of: blocks, minimumCount: 2) { share in
                for k in share {
                    let lo = range.lowerBound + k * ParameterStore.normBlock
                    let block = lo..<min(lo + ParameterStore.normBlock, range.upperBound)
                    partial[k] = dense ? sumOfSquares(g! + lo, count: block.count)
                                       : sumOfSquares(g! + lo, count: block.count, segments: segments, offset: lo)
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
            // 0 · coefficient is +0 for a coefficient ≥ 0, so the known-zero rows can be skipped;
            // a negative one (a negative maxNorm) would turn them into −0: scale everything then.
            let sparse = coefficient >= 0
            if !sparse { forgetGradientRows() }
            for range in trainableRanges {
                for segment in sparse ? gradientSegments(of: range) : [range] {
                    WorkerPool.shared.forEachShare(of: segment.count, minimumCount: WorkerPool.shared.options.elementwiseMinimum) { share in
                        for i in share.shifted(by: segment.lowerBound) { g[i] *= coefficient }
                    }
                }
            }
        }
        return norm
    }
}

/// Σ x[i]² in double precision, four partial sums so the loop does not serialize on one
/// accumulator: the segmented form below over one segment holding every element.
private func sumOfSquares(_ x: UnsafePointer<Float>, count: Int) -> Double {
    sumOfSquares(x, count: count, segments: [0..<count], offset: 0)
}

/// `sumOfSquares(x, count:)` over only the elements of `segments` (absolute indices; `x` is
/// element `offset`), the others taken as 0: each element goes into the same accumulator as in
/// the dense loop, in the same order, and adding +0 changes none of them, so the result is
/// bitwise the dense one when the skipped elements are zero.
private func sumOfSquares(_ x: UnsafePointer<Float>, count: Int, segments: [Range<Int>], offset: Int) -> Double {
    var s0: Double = 0, s1: Double = 0, s2: Double = 0, s3: Double = 0, tail: Double = 0
    let mainEnd = count - count % 4   // elements [0, mainEnd) go to s0…s3 by i % 4, the rest to tail
    var first = 0, hi = segments.count   // the first segment ending after offset
    while first < hi { let mid = (first + hi) / 2; if segments[mid].upperBound <= offset { first = mid + 1 } else { hi = mid } }
    var k = first
    while k < segments.count && segments[k].lowerBound < offset + count {
        let lo = max(segments[k].lowerBound - offset, 0), up = min(segments[k].upperBound - offset, count)
        func add(_ i: Int) {
            let v = Double(x[i]) * Double(x[i])
            if i >= mainEnd {
                tail += v
            } else {
                switch i & 3 {
                case 0: s0 += v
                case 1: s1 += v
                case 2: s2 += v
                default: s3 += v
                }
            }
        }
        // One by one up to a multiple of 4, then unrolled as the dense loop, then the rest.
        var i = lo
        let unrolledEnd = min(up, mainEnd)
        while i < unrolledEnd && i & 3 != 0 { add(i); i += 1 }
        while i + 4 <= unrolledEnd {
            s0 += Double(x[i]) * Double(x[i])
            s1 += Double(x[i + 1]) * Double(x[i + 1])
            s2 += Double(x[i + 2]) * Double(x[i + 2])
            s3 += Double(x[i + 3]) * Double(x[i + 3])
            i += 4
        }
        while i < up { add(i); i += 1 }
        k += 1
    }
    return tail + (s0 + s1) + (s2 + s3)
}
