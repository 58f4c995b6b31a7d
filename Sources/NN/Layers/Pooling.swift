/// Masked mean pooling over time: `[T, B, C] -> [B, C]`.
///
/// PyTorch equivalent: `(x * m[..., None]).sum(0) / m.sum(0)[:, None]` for a time-major `x` and
/// a mask `m [T, B]` of 0/1 weights. A sequence whose mask sums to 0 pools to zeros (and gets
/// no gradient). `mask` nil means every step counts.
///
///     MeanPooling.forward(output: pooled, input: h, mask: m, steps: T, batch: B, channels: C)
///     MeanPooling.backward(dinput: dh, doutput: dpooled, mask: m, steps: T, batch: B, channels: C)
public enum MeanPooling {
    public static func forward(
        output: UnsafeMutablePointer<Float>,  // [B, C]
        input: UnsafePointer<Float>,          // [T, B, C]
        mask: UnsafePointer<Float>?,          // [T, B]
        steps T: Int, batch B: Int, channels C: Int
    ) {
        output.update(repeating: 0, count: B * C)
        for b in 0..<B {
            let o = output + b * C
            let total = weightSum(mask, b: b, steps: T, batch: B)
            if total == 0 { continue }
            for t in 0..<T {
                let w = (mask?[t * B + b] ?? 1) / total
                if w == 0 { continue }
                let x = input + (t * B + b) * C
                for j in 0..<C { o[j] += w * x[j] }
            }
        }
    }

    /// `dinput[t, b] += doutput[b] · mask[t, b] / Σ_t mask[t, b]`.
    public static func backward(
        dinput: UnsafeMutablePointer<Float>,  // [T, B, C]
        doutput: UnsafePointer<Float>,        // [B, C]
        mask: UnsafePointer<Float>?,          // [T, B]
        steps T: Int, batch B: Int, channels C: Int
    ) {
        for b in 0..<B {
            let total = weightSum(mask, b: b, steps: T, batch: B)
            if total == 0 { continue }
            let g = doutput + b * C
            for t in 0..<T {
                let w = (mask?[t * B + b] ?? 1) / total
                if w == 0 { continue }
                let d = dinput + (t * B + b) * C
                for j in 0..<C { d[j] += w * g[j] }
            }
        }
    }

    static func weightSum(_ mask: UnsafePointer<Float>?, b: Int, steps T: Int, batch B: Int) -> Float {
        guard let mask else { return Float(T) }
        var s: Float = 0
        for t in 0..<T { s += mask[t * B + b] }
        return s
    }
}

/// Masked max pooling over time: `[T, B, C] -> [B, C]`, remembering the winning step.
///
/// PyTorch equivalent: `x.masked_fill(m[..., None] == 0, -inf).max(0)` (values and indices).
/// Steps with mask 0 never win; a sequence with no unmasked step pools to zeros with index -1
/// (and gets no gradient). Ties go to the earliest step. The gradient flows only to the winner.
///
///     MaxPooling.forward(output: pooled, argmax: idx, input: h, mask: m, steps: T, batch: B, channels: C)
///     MaxPooling.backward(dinput: dh, doutput: dpooled, argmax: idx, batch: B, channels: C)
public enum MaxPooling {
    public static func forward(
        output: UnsafeMutablePointer<Float>,  // [B, C]
        argmax: UnsafeMutablePointer<Int32>,  // [B, C] winning step, -1 if none
        input: UnsafePointer<Float>,          // [T, B, C]
        mask: UnsafePointer<Float>?,          // [T, B]
        steps T: Int, batch B: Int, channels C: Int
    ) {
        output.update(repeating: -.infinity, count: B * C)
        argmax.update(repeating: -1, count: B * C)
        for t in 0..<T {
            for b in 0..<B where (mask?[t * B + b] ?? 1) != 0 {
                let x = input + (t * B + b) * C, o = output + b * C, a = argmax + b * C
                for j in 0..<C where a[j] < 0 || x[j] > o[j] {
                    o[j] = x[j]; a[j] = Int32(t)
                }
            }
        }
        for i in 0..<B * C where argmax[i] < 0 { output[i] = 0 }
    }

    /// `dinput[argmax[b, j], b, j] += doutput[b, j]`.
    public static func backward(
        dinput: UnsafeMutablePointer<Float>,  // [T, B, C]
        doutput: UnsafePointer<Float>,        // [B, C]
        argmax: UnsafePointer<Int32>,         // [B, C]
        batch B: Int, channels C: Int
    ) {
        for b in 0..<B {
            for j in 0..<C {
                let t = Int(argmax[b * C + j])
                if t >= 0 { dinput[(t * B + b) * C + j] += doutput[b * C + j] }
            }
        }
    }
}
