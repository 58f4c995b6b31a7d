/// A causal 1-D convolution over time-major sequences: output step t sees input steps
/// t-K+1 … t only (left zero padding of K-1 steps, stride 1, no dilation).
///
/// PyTorch equivalent: `nn.Conv1d(Cin, Cout, K)` applied to `F.pad(x, (K - 1, 0))` with x in
/// PyTorch's `[B, Cin, T]` layout; here sequences are time-major `[T, B, C]`. Layout (PyTorch):
/// `weight [Cout, Cin, K]`, `bias [Cout]` (optional); tap k multiplies input step `t - (K-1) + k`.
///
/// The forward pass unfolds the input into columns `[T·B, Cin·K]` (kept for backward) and does
/// one GEMM with the weight viewed as `[Cout, Cin·K]`.
///
///     let conv = Conv1d(inputChannels: 8, outputChannels: 16, kernelSize: 3)
///     conv.forward(output: y, input: x, weight: w, bias: b, steps: T, batch: B)   // y [T, B, 16]
///     conv.backward(dinput: dx, dweight: dw, dbias: db, doutput: dy, weight: w, steps: T, batch: B)
public final class Conv1d {
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernelSize: Int
    private var columns: [Float] = []   // [T·B, Cin·K] of the last forward
    private var dcolumns: [Float] = []  // [T·B, Cin·K] scratch
    private var lastShape = (steps: 0, batch: 0)

    public init(inputChannels: Int, outputChannels: Int, kernelSize: Int) {
        precondition(inputChannels > 0 && outputChannels > 0 && kernelSize > 0, "Conv1d: sizes must be positive")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
    }

    /// Number of weight entries, `Cout · Cin · K`.
    public var weightCount: Int { outputChannels * inputChannels * kernelSize }

    /// Initializes as PyTorch's `nn.Conv1d`: weight and bias uniform in [-1/√(Cin·K), 1/√(Cin·K)).
    public func initialize(weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>?, rng: inout RNG) {
        let bound = 1 / Float(inputChannels * kernelSize).squareRoot()
        for k in 0..<weightCount { weight[k] = rng.uniform(-bound, bound) }
        if let bias { for k in 0..<outputChannels { bias[k] = rng.uniform(-bound, bound) } }
    }

    public func forward(
        output: UnsafeMutablePointer<Float>,  // [T, B, Cout]
        input: UnsafePointer<Float>,          // [T, B, Cin]
        weight: UnsafePointer<Float>,         // [Cout, Cin, K]
        bias: UnsafePointer<Float>?,          // [Cout]
        steps T: Int, batch B: Int
    ) {
        let Ci = inputChannels, Co = outputChannels, K = kernelSize, W = Ci * K
        if columns.count < T * B * W { columns = [Float](repeating: 0, count: T * B * W) }
        lastShape = (T, B)
        columns.withUnsafeMutableBufferPointer { colsBuf in
            let cols = colsBuf.baseAddress!
            for t in 0..<T {
                for b in 0..<B {
                    let row = cols + (t * B + b) * W  // [Cin, K]
                    for k in 0..<K {
                        let s = t - (K - 1) + k
                        for c in 0..<Ci { row[c * K + k] = s >= 0 ? input[(s * B + b) * Ci + c] : 0 }
                    }
                }
            }
            if let bias {
                for r in 0..<T * B { (output + r * Co).update(from: bias, count: Co) }
            }
            sgemm(.none, .transpose, m: T * B, n: Co, k: W, a: cols, lda: W, b: weight, ldb: W,
                  beta: bias == nil ? 0 : 1, c: output, ldc: Co)
        }
    }

    /// Adds the gradients with respect to weight, bias (if non-nil) and input (if non-nil) for
    /// the last forward call.
    public func backward(
        dinput: UnsafeMutablePointer<Float>?,  // [T, B, Cin]
        dweight: UnsafeMutablePointer<Float>,  // [Cout, Cin, K]
        dbias: UnsafeMutablePointer<Float>?,   // [Cout]
        doutput: UnsafePointer<Float>,         // [T, B, Cout]
        weight: UnsafePointer<Float>,          // [Cout, Cin, K]
        steps T: Int, batch B: Int
    ) {
        precondition(lastShape == (T, B), "Conv1d: backward shape differs from the last forward")
        let Ci = inputChannels, Co = outputChannels, K = kernelSize, W = Ci * K
        columns.withUnsafeBufferPointer { colsBuf in
            sgemm(.transpose, .none, m: Co, n: W, k: T * B, a: doutput, lda: Co, b: colsBuf.baseAddress!, ldb: W,
                  beta: 1, c: dweight, ldc: W)
        }
        if let dbias { addColumnSums(dbias, doutput, rows: T * B, columns: Co) }
        guard let dinput else { return }
        if dcolumns.count < T * B * W { dcolumns = [Float](repeating: 0, count: T * B * W) }
        dcolumns.withUnsafeMutableBufferPointer { dcolsBuf in
            let dcols = dcolsBuf.baseAddress!
            sgemm(.none, .none, m: T * B, n: W, k: Co, a: doutput, lda: Co, b: weight, ldb: W,
                  beta: 0, c: dcols, ldc: W)
            for t in 0..<T {
                for b in 0..<B {
                    let row = dcols + (t * B + b) * W
                    for k in 0..<K {
                        let s = t - (K - 1) + k
                        if s < 0 { continue }
                        let d = dinput + (s * B + b) * Ci
                        for c in 0..<Ci { d[c] += row[c * K + k] }
                    }
                }
            }
        }
    }
}
