import NN

/// How a `GraphMixer` weighs its candidate graphs.
///
/// Encoded as `"global"` or `"per-token"`.
public enum GraphMixWeighting: String, CaseIterable, Sendable, Codable {
    /// One softmax over learned logits `mix.logits [M]`, shared by every position.
    case global
    /// Predicted per position from the features there: `w_i = softmax(U · h_i + c)`,
    /// `mix.weight [M, D]`, `mix.bias [M]`.
    case perToken = "per-token"
}

/// Sizes and options of a `GraphMixer`.
public struct GraphMixerConfig: Sendable, Codable, Equatable {
    /// Graph layers L of the predictor whose graphs are mixed.
    public var graphLayers: Int
    /// Heads K per graph layer.
    public var heads: Int
    /// Size D of the features the graphs mix.
    public var featureSize: Int
    /// Global or per-token mixture weights.
    public var weighting: GraphMixWeighting

    public init(graphLayers: Int, heads: Int, featureSize: Int, weighting: GraphMixWeighting = .global) {
        self.graphLayers = graphLayers
        self.heads = heads
        self.featureSize = featureSize
        self.weighting = weighting
    }

    /// Number of candidate graphs M = (2L − 1)·K.
    public var candidates: Int { GraphProducts.candidatesPerHead(layers: graphLayers) * heads }
}

/// GLoMo transfer: mixes pretrained graphs into a downstream model's features.
///
/// Given features `h [W, B, D]` over a window of W positions and the graphs of the same window
/// `[L, K, B, W, W]` (from a frozen `GraphPredictor`), for the output rows `i = c ..< W` (the
/// first `c` positions are context only):
///
///     Γ_m            the M = (2L−1)·K candidates: G^{l,h} and P^{l,h} = G^{l,h}·…·G^{0,h}  (GraphProducts)
///     w_i            = softmax(θ)              (.global)   or softmax(U·h_i + c)  (.perToken)
///     M_ij           = Σ_m w_im Γ_m,ij         (j < i: strictly earlier positions)
///     y_i            = Σ_j M_ij h_j
///     out_i          = g_i ⊙ h_i + (1 − g_i) ⊙ y_i,  g_i = σ(W_g·[h_i ; y_i] + b_g)  (GraphGate)
///
/// Output `out [T, B, D]`, T = W − c (time-major, row `r·B + b` is position c + r). Row i of
/// the output depends on features 0 … i and graph rows ≤ i only. The GLoMo paper mixes
/// {G^l} ∪ {products} with softmax weights (learned or predicted by the downstream input) and
/// feeds `[h ; M h]` on; the gate is this project's choice to keep the feature size D (the LM's
/// input and decoder sizes stay as they are) and to let the model ignore the graphs.
///
/// Parameters (names under `prefix`): `mix.logits [M]` (.global) or `mix.weight [M, D]` and
/// `mix.bias [M]` (.perToken); `gate.weight [D, 2D]`, `gate.bias [D]`. Candidate m = c·K + h
/// (c as in `GraphProducts`).
///
///     let mixer = GraphMixer(GraphMixerConfig(graphLayers: 3, heads: 4, featureSize: 200),
///                            store: store, prefix: "glomo.", maxWindow: 70, maxBatch: 20)
///     mixer.initialize(rng: &rng)
///     mixer.forward(output: out, features: h, graphs: g, window: 70, context: 35, batch: 20)
///     mixer.backward(dfeatures: dh, dgraphs: nil, doutput: dout)     // once per forward
public final class GraphMixer {
    public let config: GraphMixerConfig
    public let maxWindow: Int
    public let maxBatch: Int
    private let store: ParameterStore
    /// The registered parameters.
    public let logits: ParameterView?, mixWeight: ParameterView?, mixBias: ParameterView?
    public let gateWeight: ParameterView, gateBias: ParameterView
    private let workspace = BufferArena()
    // Activations of the last forward (W window, T output rows, M candidates):
    private let candidates: UnsafeMutablePointer<Float> // [M/K, K, B, W, W]
    private let weights: UnsafeMutablePointer<Float>    // [T, B, M] softmax weights per output row
    private let mixed: UnsafeMutablePointer<Float>      // [B, T, W] the mixed graph rows
    private let y: UnsafeMutablePointer<Float>          // [T, B, D] M·h
    private let concat: UnsafeMutablePointer<Float>     // [T, B, 2D]
    private let gate: UnsafeMutablePointer<Float>       // [T, B, D]
    private var features: UnsafePointer<Float>?         // [W, B, D] the caller's, kept for backward
    // Backward scratch:
    private let dy: UnsafeMutablePointer<Float>         // [T, B, D]
    private let dconcat: UnsafeMutablePointer<Float>    // [T, B, 2D]
    private let dmixed: UnsafeMutablePointer<Float>     // [B, T, W]
    private let dweights: UnsafeMutablePointer<Float>   // [T, B, M]
    private let dcandidates: UnsafeMutablePointer<Float> // [M/K, K, B, W, W]
    private var last = (window: 0, context: 0, batch: 0)
    private var pendingBackward = false

    /// Registers the parameters in `store` (under `prefix`) and preallocates every buffer for
    /// windows of up to `maxWindow` positions and `maxBatch` sequences.
    public init(_ config: GraphMixerConfig, store: ParameterStore, prefix: String = "glomo.",
                maxWindow: Int, maxBatch: Int) {
        precondition(config.graphLayers > 0 && config.heads > 0 && config.featureSize > 0,
                     "GraphMixer: sizes must be positive, got \(config)")
        precondition(maxWindow > 0 && maxBatch > 0, "GraphMixer: maxWindow and maxBatch must be positive")
        self.config = config
        self.maxWindow = maxWindow
        self.maxBatch = maxBatch
        self.store = store
        let M = config.candidates, D = config.featureSize
        switch config.weighting {
        case .global:
            logits = store.register(prefix + "mix.logits", shape: [M])
            mixWeight = nil
            mixBias = nil
        case .perToken:
            logits = nil
            mixWeight = store.register(prefix + "mix.weight", shape: [M, D])
            mixBias = store.register(prefix + "mix.bias", shape: [M])
        }
        gateWeight = store.register(prefix + "gate.weight", shape: [D, 2 * D])
        gateBias = store.register(prefix + "gate.bias", shape: [D])
        let ws = workspace, W = maxWindow, B = maxBatch, rows = W * B
        candidates = ws.floats(M * B * W * W)
        weights = ws.floats(rows * M)
        mixed = ws.floats(B * W * W)
        y = ws.floats(rows * D)
        concat = ws.floats(rows * 2 * D)
        gate = ws.floats(rows * D)
        dy = ws.floats(rows * D)
        dconcat = ws.floats(rows * 2 * D)
        dmixed = ws.floats(B * W * W)
        dweights = ws.floats(rows * M)
        dcandidates = ws.floats(M * B * W * W)
    }

    /// Initialises the parameters: mixture logits 0 (a uniform mixture), per-token weights
    /// uniform in ±1/√D and biases 0, the gate as PyTorch's `nn.Linear(2D, D)`.
    public func initialize(rng: inout RNG) {
        let D = config.featureSize
        if let logits { store.values(logits).update(repeating: 0) }
        if let mixWeight, let mixBias {
            let w = store.values(mixWeight), bound = 1 / Float(D).squareRoot()
            for i in 0..<w.count { w[i] = rng.uniform(-bound, bound) }
            store.values(mixBias).update(repeating: 0)
        }
        let p = store.values.baseAddress!
        Linear(inputSize: 2 * D, outputSize: D).initialize(weight: p + gateWeight.offset, bias: p + gateBias.offset, rng: &rng)
    }

    /// Mixes the graphs into the features of positions `context ..< window` and keeps what
    /// backward needs (including the `features` pointer: keep that buffer unchanged until backward).
    public func forward(
        output: UnsafeMutablePointer<Float>,  // [T, B, D], T = window − context
        features h: UnsafePointer<Float>,     // [W, B, D]
        graphs: UnsafePointer<Float>,         // [L, K, B, W, W]
        window W: Int, context c: Int, batch B: Int
    ) {
        precondition(W > 0 && W <= maxWindow && B > 0 && B <= maxBatch && c >= 0 && c < W,
                     "GraphMixer: window \(W), context \(c), batch \(B) outside \(maxWindow) × \(maxBatch)")
        last = (W, c, B)
        pendingBackward = true
        features = h
        let L = config.graphLayers, K = config.heads, M = config.candidates, D = config.featureSize
        let T = W - c, N = T * B, p = store.values.baseAddress!
        GraphProducts.forward(candidates: candidates, graphs: graphs, layers: L, heads: K, batch: B, steps: W)
        // Mixture weights w [T, B, M].
        if let logits {
            var w = [Float](repeating: 0, count: M)
            softmax(&w, p + logits.offset, count: M)
            for r in 0..<N { (weights + r * M).update(from: w, count: M) }
        } else if let mixWeight, let mixBias {
            Linear(inputSize: D, outputSize: M).forward(output: weights, input: h + c * B * D,
                                                        weight: p + mixWeight.offset, bias: p + mixBias.offset, n: N)
            for r in 0..<N { softmaxInPlace(weights + r * M, count: M) }
        }
        // Mixed graph rows: mixed[b, r, j] = Σ_m w[r, b, m] Γ_m[b, c + r, j], j < c + r.
        for b in 0..<B {
            let mb = mixed + b * T * W
            mb.update(repeating: 0, count: T * W)
            for r in 0..<T {
                let i = c + r, row = mb + r * W, wr = weights + (r * B + b) * M
                for m in 0..<M {
                    let wm = wr[m], gamma = candidates + (m * B + b) * W * W + i * W
                    for j in 0..<i { row[j] += wm * gamma[j] }
                }
            }
            // y_b [T, D] = mixed_b [T, W] · h_b [W, D]   (rows of h_b and y_b are B·D apart).
            sgemm(.none, .none, m: T, n: D, k: W, a: mb, lda: W, b: h + b * D, ldb: B * D,
                  beta: 0, c: y + b * D, ldc: B * D)
        }
        GraphGate.forward(output: output, gate: gate, concat: concat, features: h + c * B * D, mixed: y,
                          weight: p + gateWeight.offset, bias: p + gateBias.offset, rows: N, size: D)
    }

    /// Adds the gradients of the parameters (into `store.gradients`), of the features (all W
    /// positions, into `dfeatures`) and of the graphs (into `dgraphs` if non-nil),
    /// given the gradient of the last forward's output. At most once per forward.
    public func backward(
        dfeatures: UnsafeMutablePointer<Float>,  // [W, B, D]
        dgraphs: UnsafeMutablePointer<Float>?,   // [L, K, B, W, W]
        doutput: UnsafePointer<Float>            // [T, B, D]
    ) {
        let (W, c, B) = last
        guard pendingBackward, let h = features else { preconditionFailure("GraphMixer: backward without a preceding forward") }
        let L = config.graphLayers, K = config.heads, M = config.candidates, D = config.featureSize
        let T = W - c, N = T * B, p = store.values.baseAddress!, g = store.gradients.baseAddress!
        // Gate: into dfeatures (rows c ..< W) and dy.
        dy.update(repeating: 0, count: N * D)
        let dhCurrent = dfeatures + c * B * D
        GraphGate.backward(dfeatures: dhCurrent, dmixed: dy, dweight: g + gateWeight.offset,
                           dbias: g + gateBias.offset, dconcat: dconcat,
                           doutput: doutput, gate: gate, concat: concat, weight: p + gateWeight.offset, rows: N, size: D)
        // y_b = mixed_b · h_b: dmixed_b = dy_b · h_bᵀ (kept for j < i), dh_b += mixed_bᵀ · dy_b.
        for b in 0..<B {
            let dmb = dmixed + b * T * W
            sgemm(.none, .transpose, m: T, n: W, k: D, a: dy + b * D, lda: B * D, b: h + b * D, ldb: B * D,
                  beta: 0, c: dmb, ldc: W)
            for r in 0..<T { (dmb + r * W + c + r).update(repeating: 0, count: W - c - r) }
            sgemm(.transpose, .none, m: W, n: D, k: T, a: mixed + b * T * W, lda: W, b: dy + b * D, ldb: B * D,
                  beta: 1, c: dfeatures + b * D, ldc: B * D)
        }
        // Weights: dw[r, b, m] = Σ_j dmixed[b, r, j] Γ_m[b, i, j]; candidates: dΓ_m = w_m · dmixed.
        if dgraphs != nil { dcandidates.update(repeating: 0, count: M * B * W * W) }
        for b in 0..<B {
            for r in 0..<T {
                let i = c + r, drow = dmixed + (b * T + r) * W
                let wr = weights + (r * B + b) * M, dwr = dweights + (r * B + b) * M
                for m in 0..<M {
                    let o = (m * B + b) * W * W + i * W, gamma = candidates + o
                    var s: Float = 0
                    for j in 0..<i { s += drow[j] * gamma[j] }
                    dwr[m] = s
                    if dgraphs != nil {
                        let wm = wr[m], dgamma = dcandidates + o
                        for j in 0..<i { dgamma[j] = wm * drow[j] }
                    }
                }
            }
        }
        if let dgraphs {
            GraphProducts.backward(dgraphs: dgraphs, dcandidates: dcandidates, candidates: candidates,
                                   layers: L, heads: K, batch: B, steps: W)
        }
        // Softmax: du = w ⊙ (dw − w · dw), per row.
        for r in 0..<N {
            let wr = weights + r * M, dwr = dweights + r * M
            var dot: Float = 0
            for m in 0..<M { dot += wr[m] * dwr[m] }
            for m in 0..<M { dwr[m] = wr[m] * (dwr[m] - dot) }
        }
        if let logits {
            let dl = g + logits.offset
            for r in 0..<N { for m in 0..<M { dl[m] += dweights[r * M + m] } }
        } else if let mixWeight, let mixBias {
            Linear(inputSize: D, outputSize: M).backward(dinput: dhCurrent, dweight: g + mixWeight.offset,
                                                         dbias: g + mixBias.offset, doutput: dweights,
                                                         input: h + c * B * D, weight: p + mixWeight.offset, n: N)
        }
        pendingBackward = false
    }

    /// The mixture weights of the last forward for output row r (position context + r) of
    /// sequence b, M values summing to 1 (candidate m = c·K + h).
    public func mixtureWeights(row r: Int, sequence b: Int) -> [Float] {
        let M = config.candidates
        return Array(UnsafeBufferPointer(start: weights + (r * last.batch + b) * M, count: M))
    }
}

/// `out = softmax(x)` over `count` values (max-shifted).
private func softmax(_ out: inout [Float], _ x: UnsafePointer<Float>, count: Int) {
    out.withUnsafeMutableBufferPointer { o in
        o.baseAddress!.update(from: x, count: count)
        softmaxInPlace(o.baseAddress!, count: count)
    }
}

/// Replaces `x[0 ..< count]` by its softmax (max-shifted, libm exp: M is small).
private func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, count: Int) {
    var mx = -Float.infinity
    for m in 0..<count { mx = max(mx, x[m]) }
    var s: Float = 0
    for m in 0..<count { x[m] = FastMath.exp(x[m] - mx); s += x[m] }
    let inv = 1 / s
    for m in 0..<count { x[m] *= inv }
}
