/// One step of a GRU, with the semantics and parameter layout of PyTorch's `nn.GRUCell`.
///
/// Parameters live in one flat buffer owned by the caller, in PyTorch's order and layout:
///
///     weight_ih  [3H, in]    gate rows in the order r, z, n
///     weight_hh  [3H, H]
///     bias_ih    [3H]
///     bias_hh    [3H]
///
///     r = σ(W_ir x + b_ir + W_hr h + b_hr)
///     z = σ(W_iz x + b_iz + W_hz h + b_hz)
///     n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
///     h' = (1 - z) ⊙ n + z ⊙ h
///
/// Each forward call writes what its backward needs to a caller-provided `cache`
/// (`cacheSize(batch:)` floats), so a caller unrolling T steps keeps T caches and calls
/// backward for the steps in reverse order. The cell owns only scratch space.
///
///     let cell = GRUCell(inputSize: 8, hiddenSize: 16, maxBatch: 4)
///     cell.forward(hNext: h1, cache: cache, input: x, h: h0, parameters: p, batch: 4)
///     cell.backward(dinput: dx, dh: dh0, dparameters: dp, dhNext: dh1,
///                   cache: cache, input: x, h: h0, parameters: p, batch: 4)
public final class GRUCell {
    public let inputSize: Int
    public let hiddenSize: Int
    public let maxBatch: Int
    private let scratch: UnsafeMutablePointer<Float>  // [maxBatch, 6H]: dgi [B, 3H] then dgh [B, 3H]

    public init(inputSize: Int, hiddenSize: Int, maxBatch: Int) {
        precondition(inputSize > 0 && hiddenSize > 0 && maxBatch > 0, "GRUCell: sizes must be positive")
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.maxBatch = maxBatch
        scratch = .allocate(capacity: maxBatch * 6 * hiddenSize)
    }

    deinit { scratch.deallocate() }

    /// Offsets of `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh` in the flat parameter buffer.
    public var offsets: (weightIH: Int, weightHH: Int, biasIH: Int, biasHH: Int) {
        let G = 3 * hiddenSize
        return (0, G * inputSize, G * (inputSize + hiddenSize), G * (inputSize + hiddenSize + 1))
    }

    /// Total number of parameters: `3H · (in + H + 2)`.
    public var parameterCount: Int { 3 * hiddenSize * (inputSize + hiddenSize + 2) }

    /// Fills `parameters [parameterCount]` as PyTorch initializes `nn.GRUCell`: every entry
    /// uniform in [-1/√H, 1/√H).
    public func initialize(parameters: UnsafeMutablePointer<Float>, rng: inout RNG) {
        let bound = 1 / Float(hiddenSize).squareRoot()
        for k in 0..<parameterCount { parameters[k] = rng.uniform(-bound, bound) }
    }

    /// Floats of cache one forward call writes for `batch` rows: `[B, 6H]`.
    public func cacheSize(batch: Int) -> Int { batch * 6 * hiddenSize }

    public func forward(
        hNext: UnsafeMutablePointer<Float>,  // [B, H]
        cache: UnsafeMutablePointer<Float>,  // [B, 6H]: r, z, n, then W_hh·h + b_hh
        input: UnsafePointer<Float>,         // [B, in]
        h: UnsafePointer<Float>,             // [B, H]
        parameters p: UnsafePointer<Float>,  // [parameterCount]
        batch B: Int
    ) {
        precondition(B > 0 && B <= maxBatch, "GRUCell: batch \(B) outside 1...\(maxBatch)")
        let H = hiddenSize, G = 3 * H, I = inputSize, o = offsets
        // gi = x W_ihᵀ + b_ih → cache[:, 0..<3H]; gh = h W_hhᵀ + b_hh → cache[:, 3H..<6H].
        for b in 0..<B {
            let row = cache + b * 2 * G
            for j in 0..<G { row[j] = p[o.biasIH + j]; row[G + j] = p[o.biasHH + j] }
        }
        sgemm(.none, .transpose, m: B, n: G, k: I, a: input, lda: I, b: p + o.weightIH, ldb: I,
              beta: 1, c: cache, ldc: 2 * G)
        sgemm(.none, .transpose, m: B, n: G, k: H, a: h, lda: H, b: p + o.weightHH, ldb: H,
              beta: 1, c: cache + G, ldc: 2 * G)
        for b in 0..<B {
            let gi = cache + b * 2 * G, gh = gi + G, hb = h + b * H, hn = hNext + b * H
            for j in 0..<H {
                let r = FastMath.sigmoid(gi[j] + gh[j])
                let z = FastMath.sigmoid(gi[H + j] + gh[H + j])
                let n = FastMath.tanh(gi[2 * H + j] + r * gh[2 * H + j])
                gi[j] = r; gi[H + j] = z; gi[2 * H + j] = n
                hn[j] = (1 - z) * n + z * hb[j]
            }
        }
    }

    /// Adds the gradients with respect to the parameters, the previous hidden state (`dh`) and,
    /// if `dinput` is non-nil, the input, given the gradient `dhNext` of this step's output.
    public func backward(
        dinput: UnsafeMutablePointer<Float>?,   // [B, in]
        dh: UnsafeMutablePointer<Float>,        // [B, H]
        dparameters dp: UnsafeMutablePointer<Float>, // [parameterCount]
        dhNext: UnsafePointer<Float>,           // [B, H]
        cache: UnsafePointer<Float>,            // [B, 6H] from this step's forward
        input: UnsafePointer<Float>,            // [B, in]
        h: UnsafePointer<Float>,                // [B, H]
        parameters p: UnsafePointer<Float>,     // [parameterCount]
        batch B: Int
    ) {
        precondition(B > 0 && B <= maxBatch, "GRUCell: batch \(B) outside 1...\(maxBatch)")
        let H = hiddenSize, G = 3 * H, I = inputSize, o = offsets
        let dgi = scratch, dgh = scratch + B * G  // [B, 3H] each
        for b in 0..<B {
            let c = cache + b * 2 * G, hb = h + b * H, dhn = dhNext + b * H, dhb = dh + b * H
            let di = dgi + b * G, dg = dgh + b * G
            for j in 0..<H {
                let r = c[j], z = c[H + j], n = c[2 * H + j], hnPre = c[G + 2 * H + j]
                let d = dhn[j]
                let dn = d * (1 - z) * (1 - n * n)       // w.r.t. n's pre-activation
                let dz = d * (hb[j] - n) * z * (1 - z)   // w.r.t. z's pre-activation
                let dr = dn * hnPre * r * (1 - r)        // w.r.t. r's pre-activation
                di[j] = dr; di[H + j] = dz; di[2 * H + j] = dn
                dg[j] = dr; dg[H + j] = dz; dg[2 * H + j] = dn * r
                dhb[j] += d * z
            }
        }
        sgemm(.transpose, .none, m: G, n: I, k: B, a: dgi, lda: G, b: input, ldb: I, beta: 1, c: dp + o.weightIH, ldc: I)
        sgemm(.transpose, .none, m: G, n: H, k: B, a: dgh, lda: G, b: h, ldb: H, beta: 1, c: dp + o.weightHH, ldc: H)
        addColumnSums(dp + o.biasIH, dgi, rows: B, columns: G)
        addColumnSums(dp + o.biasHH, dgh, rows: B, columns: G)
        sgemm(.none, .none, m: B, n: H, k: G, a: dgh, lda: G, b: p + o.weightHH, ldb: H, beta: 1, c: dh, ldc: H)
        if let dinput {
            sgemm(.none, .none, m: B, n: I, k: G, a: dgi, lda: G, b: p + o.weightIH, ldb: I, beta: 1, c: dinput, ldc: I)
        }
    }
}
