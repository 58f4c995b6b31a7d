/// Layer normalization over the last dimension, as PyTorch's `nn.LayerNorm(C)` (eps 1e-5,
/// biased variance, elementwise affine).
///
/// Layout (PyTorch): `weight [C]`, `bias [C]`. For each row x of `input [N, C]`:
/// `y = (x - mean) · rstd · weight + bias` with `rstd = 1 / sqrt(var + eps)`. The forward pass
/// writes each row's mean and rstd `[N]` for the backward pass (llm.c's layernorm).
///
///     let ln = LayerNorm(size: C)
///     ln.forward(output: y, mean: mu, rstd: rs, input: x, weight: w, bias: b, n: N)
///     ln.backward(dinput: dx, dweight: dw, dbias: db, doutput: dy, input: x, weight: w,
///                 mean: mu, rstd: rs, n: N)
public struct LayerNorm: Sendable {
    public let size: Int
    public let eps: Float

    public init(size: Int, eps: Float = 1e-5) {
        precondition(size > 0, "LayerNorm: size must be positive")
        self.size = size
        self.eps = eps
    }

    public func forward(
        output: UnsafeMutablePointer<Float>,  // [N, C]
        mean: UnsafeMutablePointer<Float>,    // [N]
        rstd: UnsafeMutablePointer<Float>,    // [N]
        input: UnsafePointer<Float>,          // [N, C]
        weight: UnsafePointer<Float>,         // [C]
        bias: UnsafePointer<Float>,           // [C]
        n: Int
    ) {
        let C = size
        for r in 0..<n {
            let x = input + r * C, y = output + r * C
            var s: Double = 0
            for j in 0..<C { s += Double(x[j]) }
            let mu = s / Double(C)
            var v: Double = 0
            for j in 0..<C { let d = Double(x[j]) - mu; v += d * d }
            let rs = Float(1 / (v / Double(C) + Double(eps)).squareRoot())
            let m = Float(mu)
            for j in 0..<C { y[j] = (x[j] - m) * rs * weight[j] + bias[j] }
            mean[r] = m; rstd[r] = rs
        }
    }

    /// Adds the gradients with respect to input, weight and bias.
    public func backward(
        dinput: UnsafeMutablePointer<Float>,  // [N, C]
        dweight: UnsafeMutablePointer<Float>, // [C]
        dbias: UnsafeMutablePointer<Float>,   // [C]
        doutput: UnsafePointer<Float>,        // [N, C]
        input: UnsafePointer<Float>,          // [N, C]
        weight: UnsafePointer<Float>,         // [C]
        mean: UnsafePointer<Float>,           // [N]
        rstd: UnsafePointer<Float>,           // [N]
        n: Int
    ) {
        let C = size
        for r in 0..<n {
            let x = input + r * C, dy = doutput + r * C, dx = dinput + r * C
            let m = mean[r], rs = rstd[r]
            // dx = rstd · (g - mean(g) - xhat · mean(g · xhat)), with g = dy · weight.
            var gMean: Float = 0, gxMean: Float = 0
            for j in 0..<C {
                let g = dy[j] * weight[j], xhat = (x[j] - m) * rs
                gMean += g; gxMean += g * xhat
            }
            gMean /= Float(C); gxMean /= Float(C)
            for j in 0..<C {
                let xhat = (x[j] - m) * rs
                dbias[j] += dy[j]
                dweight[j] += dy[j] * xhat
                dx[j] += rs * (dy[j] * weight[j] - gMean - xhat * gxMean)
            }
        }
    }
}
