import Support

/// Inverted dropout, standard (a fresh mask per element) or variational/locked (one mask per
/// sequence and feature, shared across time steps).
///
/// PyTorch equivalent: `nn.Dropout(p)` (standard) and the "locked dropout" of AWD-LSTM
/// (variational). Kept units are scaled by `1 / (1 - p)` so that evaluation is the identity.
/// The mask (values 0 or `1/(1-p)`) is written to a caller buffer for the backward pass; in
/// evaluation (`training == false`) or with `p == 0` the output equals the input and the mask is
/// all ones. Masks come from the caller's `RNG`, so runs are deterministic: each mask draws one
/// 64-bit key from it, and element `i` keeps or drops by a hash of (key, i) (SplitMix64's
/// finaliser, a counter-based generator), so the elements are independent of each other and of
/// how the threads of `WorkerPool.shared` split them.
///
///     let drop = Dropout(probability: 0.5)
///     drop.forward(output: y, mask: m, input: x, count: n, rng: &rng, training: true)
///     drop.backward(dinput: dx, doutput: dy, mask: m, count: n)
///     drop.forwardLocked(output: y, mask: mBC, input: x, steps: T, batch: B, channels: C,
///                        rng: &rng, training: true)      // mBC is [B, C], shared over T
public struct Dropout: Sendable {
    /// Probability of zeroing a unit, in [0, 1).
    public let probability: Float

    public init(probability: Float) {
        precondition(probability >= 0 && probability < 1, "Dropout: probability must be in [0, 1)")
        self.probability = probability
    }

    /// Fills `mask[0..<count]` with 0 (probability p) or 1/(1-p); all ones if `!training`.
    public func sampleMask(_ mask: UnsafeMutablePointer<Float>, count: Int, rng: inout RNG, training: Bool) {
        if !training || probability == 0 { mask.update(repeating: 1, count: count); return }
        let key = rng.next(), p = probability, keep = 1 / (1 - probability)
        WorkerPool.shared.forEachShare(of: count, minimumCount: WorkerPool.shared.options.elementwiseMinimum) { range in
            for i in range { mask[i] = Dropout.uniform(key: key, index: i) < p ? 0 : keep }
        }
    }

    /// Standard dropout: `output[i] = input[i] · mask[i]` with a fresh mask.
    public func forward(
        output: UnsafeMutablePointer<Float>,  // [n]
        mask: UnsafeMutablePointer<Float>,    // [n]
        input: UnsafePointer<Float>,          // [n]
        count n: Int, rng: inout RNG, training: Bool
    ) {
        sampleMask(mask, count: n, rng: &rng, training: training)
        WorkerPool.shared.forEachShare(of: n, minimumCount: WorkerPool.shared.options.elementwiseMinimum) { range in
            for i in range { output[i] = input[i] * mask[i] }
        }
    }

    /// A Float in [0, 1) with 24 random bits, a pure function of `key` and `index`: SplitMix64's
    /// output for the `index + 1`-th step from state `key`.
    @inline(__always)
    static func uniform(key: UInt64, index: Int) -> Float {
        var g = SplitMix64(seed: key &+ UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15)
        return Float(g.next() >> 40) * 0x1p-24
    }

    /// `gradient[i] *= mask[i]`: the backward pass in place, when the gradient w.r.t. the dropped
    /// output becomes the gradient w.r.t. the input in the same buffer.
    public func backwardInPlace(
        _ gradient: UnsafeMutablePointer<Float>,  // [n]
        mask: UnsafePointer<Float>,               // [n]
        count n: Int
    ) {
        for i in 0..<n { gradient[i] *= mask[i] }
    }

    /// `dinput[i] += doutput[i] · mask[i]`.
    public func backward(
        dinput: UnsafeMutablePointer<Float>,  // [n]
        doutput: UnsafePointer<Float>,        // [n]
        mask: UnsafePointer<Float>,           // [n]
        count n: Int
    ) {
        for i in 0..<n { dinput[i] += doutput[i] * mask[i] }
    }

    /// Variational (locked) dropout: one mask `[B, C]` applied at every time step.
    public func forwardLocked(
        output: UnsafeMutablePointer<Float>,  // [T, B, C]
        mask: UnsafeMutablePointer<Float>,    // [B, C]
        input: UnsafePointer<Float>,          // [T, B, C]
        steps T: Int, batch B: Int, channels C: Int, rng: inout RNG, training: Bool
    ) {
        let S = B * C
        sampleMask(mask, count: S, rng: &rng, training: training)
        for t in 0..<T {
            let o = output + t * S, x = input + t * S
            for i in 0..<S { o[i] = x[i] * mask[i] }
        }
    }

    /// `dinput[t] += doutput[t] · mask` for every step t.
    public func backwardLocked(
        dinput: UnsafeMutablePointer<Float>,  // [T, B, C]
        doutput: UnsafePointer<Float>,        // [T, B, C]
        mask: UnsafePointer<Float>,           // [B, C]
        steps T: Int, batch B: Int, channels C: Int
    ) {
        let S = B * C
        for t in 0..<T {
            let d = dinput + t * S, g = doutput + t * S
            for i in 0..<S { d[i] += g[i] * mask[i] }
        }
    }
}
