import NN

/// GLoMo's feature predictor: L layers that mix features along the predicted graphs and update
/// them with a GRU cell.
///
/// With `f⁰ [T, B, D]` the input features (the word embeddings in pretraining) and the graphs
/// `G [L, K, B, T, T]` of a `GraphPredictor`, layer l = 1 … L computes, per sequence:
///
///     c^{l,k}_i = Σ_j G^{l,k}_ij f^{l−1}_j                   (one per head k; j < i only, as G is)
///     c^l_i     = W_c^l · [c^{l,1}_i ; … ; c^{l,K}_i] + b_c^l  (heads concatenated, then projected to D)
///     f^l_i     = GRUCell([c^l_i ⊙ f^{l−1}_i ; c^l_i], f^{l−1}_i)
///
/// Heads are combined as in multi-head attention (Vaswani et al.): concatenated, then one linear
/// projection back to D. Since row i of every graph only looks at j < i, f^l_i depends on
/// f⁰_0 … f⁰_i only.
///
/// Parameters (names prefixed by `prefix`): per layer `layer{l}.combine.weight [D, K·D]`,
/// `layer{l}.combine.bias [D]`, and the GRU cell `layer{l}.gru.weight_ih [3D, 2D]`,
/// `layer{l}.gru.weight_hh [3D, D]`, `layer{l}.gru.bias_ih [3D]`, `layer{l}.gru.bias_hh [3D]`
/// (PyTorch `nn.GRUCell(2D, D)` layout, gates r, z, n).
///
///     let fp = FeaturePredictor(featureSize: 64, layers: 3, heads: 4, store: store, maxSteps: 70, maxBatch: 20)
///     fp.forward(output: fL, features: f0, graphs: g, steps: T, batch: B)           // fL [T, B, D]
///     fp.backward(dfeatures: df0, dgraphs: dg, doutput: dfL, graphs: g, steps: T, batch: B)
public final class FeaturePredictor {
    /// Feature size D (input and output).
    public let featureSize: Int
    /// Layers L; the graphs passed in must have L layers.
    public let layers: Int
    /// Heads K per layer; the graphs passed in must have K heads.
    public let heads: Int
    /// Largest T a forward call accepts (buffers are preallocated for it).
    public let maxSteps: Int
    /// Largest B a forward call accepts.
    public let maxBatch: Int
    private let store: ParameterStore
    private let cell: GRUCell
    private let combine: Linear
    private let combineWeight: [ParameterView], combineBias: [ParameterView], gru: [ParameterView]
    private let workspace = BufferArena()
    // Activations of the last forward:
    private let f: [UnsafeMutablePointer<Float>]      // per layer 0…L [T, B, D]
    private let mixed: [UnsafeMutablePointer<Float>]  // per layer [T, B, K·D] heads side by side
    private let c: [UnsafeMutablePointer<Float>]      // per layer [T, B, D]
    private let x: [UnsafeMutablePointer<Float>]      // per layer [T, B, 2D] GRU input [c ⊙ f ; c]
    private let cache: [UnsafeMutablePointer<Float>]  // per layer [T·B, 6D] GRU cache
    // Backward scratch:
    private let df: UnsafeMutablePointer<Float>       // [T, B, D]
    private let dfPrev: UnsafeMutablePointer<Float>   // [T, B, D]
    private let dx: UnsafeMutablePointer<Float>       // [T, B, 2D]
    private let dc: UnsafeMutablePointer<Float>       // [T, B, D]
    private let dmixed: UnsafeMutablePointer<Float>   // [T, B, K·D]
    private var lastShape = (steps: 0, batch: 0)

    /// Registers the parameters in `store` (under `prefix`) and preallocates every buffer.
    public init(featureSize D: Int, layers L: Int, heads K: Int, store: ParameterStore,
                prefix: String = "features.", maxSteps: Int, maxBatch: Int) {
        precondition(D > 0 && L > 0 && K > 0 && maxSteps > 0 && maxBatch > 0, "FeaturePredictor: sizes must be positive")
        featureSize = D; layers = L; heads = K
        self.maxSteps = maxSteps; self.maxBatch = maxBatch
        self.store = store
        let rows = maxSteps * maxBatch
        let cell = GRUCell(inputSize: 2 * D, hiddenSize: D, maxBatch: rows)
        self.cell = cell
        combine = Linear(inputSize: K * D, outputSize: D)
        var cw: [ParameterView] = [], cb: [ParameterView] = [], gru: [ParameterView] = []
        for l in 0..<L {
            cw.append(store.register("\(prefix)layer\(l).combine.weight", shape: [D, K * D]))
            cb.append(store.register("\(prefix)layer\(l).combine.bias", shape: [D]))
            // Registered back to back in GRUCell's flat order, so weight_ih's offset starts the cell's block.
            gru.append(store.register("\(prefix)layer\(l).gru.weight_ih", shape: [3 * D, 2 * D]))
            store.register("\(prefix)layer\(l).gru.weight_hh", shape: [3 * D, D])
            store.register("\(prefix)layer\(l).gru.bias_ih", shape: [3 * D])
            store.register("\(prefix)layer\(l).gru.bias_hh", shape: [3 * D])
        }
        combineWeight = cw; combineBias = cb; self.gru = gru
        let ws = workspace, cacheCount = cell.cacheSize(batch: rows)
        f = (0...L).map { _ in ws.floats(rows * D) }
        mixed = (0..<L).map { _ in ws.floats(rows * K * D) }
        c = (0..<L).map { _ in ws.floats(rows * D) }
        x = (0..<L).map { _ in ws.floats(rows * 2 * D) }
        cache = (0..<L).map { _ in ws.floats(cacheCount) }
        df = ws.floats(rows * D)
        dfPrev = ws.floats(rows * D)
        dx = ws.floats(rows * 2 * D)
        dc = ws.floats(rows * D)
        dmixed = ws.floats(rows * K * D)
    }

    /// A feature predictor over the graphs of `graphPredictor`: D = its embedding size, and its
    /// layers, heads, `maxSteps` and `maxBatch`.
    ///
    ///     let fp = FeaturePredictor(matching: gp, store: store)
    public convenience init(matching graphPredictor: GraphPredictor, store: ParameterStore, prefix: String = "features.") {
        let c = graphPredictor.config
        self.init(featureSize: c.embeddingSize, layers: c.graphLayers, heads: c.heads, store: store, prefix: prefix,
                  maxSteps: graphPredictor.maxSteps, maxBatch: graphPredictor.maxBatch)
    }

    /// Initialises the parameters as PyTorch: combine uniform in ±1/√(K·D), GRU in ±1/√D.
    public func initialize(rng: inout RNG) {
        let D = featureSize
        for l in 0..<layers {
            let bound = 1 / Float(heads * D).squareRoot()
            for v in [combineWeight[l], combineBias[l]] {
                let p = store.values(v)
                for i in 0..<p.count { p[i] = rng.uniform(-bound, bound) }
            }
            let gb = 1 / Float(D).squareRoot()
            let p = store.values.baseAddress! + gru[l].offset
            for i in 0..<cell.parameterCount { p[i] = rng.uniform(-gb, gb) }
        }
    }

    /// The features f^l `[T, B, D]` of layer `l` (0 = the input, `layers` = the output) of the
    /// last forward call.
    public func layerFeatures(_ l: Int) -> UnsafePointer<Float> { UnsafePointer(f[l]) }

    /// Computes f^L from `features` (f⁰) and `graphs`, keeping what backward needs.
    public func forward(
        output: UnsafeMutablePointer<Float>,  // [T, B, D] f^L
        features: UnsafePointer<Float>,       // [T, B, D] f⁰
        graphs: UnsafePointer<Float>,         // [L, K, B, T, T]
        steps T: Int, batch B: Int
    ) {
        precondition(T > 0 && T <= maxSteps && B > 0 && B <= maxBatch,
                     "FeaturePredictor: \(T) steps × \(B) sequences outside \(maxSteps) × \(maxBatch)")
        lastShape = (T, B)
        let D = featureSize, K = heads, N = T * B
        let p = store.values.baseAddress!
        f[0].update(from: features, count: N * D)
        for l in 0..<layers {
            let fin = f[l]
            for h in 0..<K {
                for b in 0..<B {
                    let G = graphs + ((l * K + h) * B + b) * T * T
                    // mixed[:, b, h] = G · f[:, b]  ([T, T] × [T, D]).
                    sgemm(.none, .none, m: T, n: D, k: T, a: G, lda: T, b: fin + b * D, ldb: B * D,
                          beta: 0, c: mixed[l] + b * K * D + h * D, ldc: B * K * D)
                }
            }
            combine.forward(output: c[l], input: mixed[l], weight: p + combineWeight[l].offset,
                            bias: p + combineBias[l].offset, n: N)
            let cl = c[l], xl = x[l]
            for r in 0..<N {
                let cr = cl + r * D, fr = fin + r * D, xr = xl + r * 2 * D
                for e in 0..<D { xr[e] = cr[e] * fr[e]; xr[D + e] = cr[e] }
            }
            cell.forward(hNext: f[l + 1], cache: cache[l], input: xl, h: fin, parameters: p + gru[l].offset, batch: N)
        }
        output.update(from: f[layers], count: N * D)
    }

    /// Adds the parameter gradients and, if non-nil, the gradients of the input features and of
    /// the graphs, given the gradient of f^L. `graphs` must be those of the last forward call.
    public func backward(
        dfeatures: UnsafeMutablePointer<Float>?,  // [T, B, D]
        dgraphs: UnsafeMutablePointer<Float>?,    // [L, K, B, T, T]
        doutput: UnsafePointer<Float>,            // [T, B, D]
        graphs: UnsafePointer<Float>,             // [L, K, B, T, T]
        steps T: Int, batch B: Int
    ) {
        precondition(lastShape == (T, B), "FeaturePredictor: backward shape differs from the last forward")
        let D = featureSize, K = heads, N = T * B
        let p = store.values.baseAddress!, g = store.gradients.baseAddress!
        df.update(from: doutput, count: N * D)
        for l in stride(from: layers - 1, through: 0, by: -1) {
            let fin = f[l], cl = c[l]
            dfPrev.update(repeating: 0, count: N * D)
            dx.update(repeating: 0, count: N * 2 * D)
            cell.backward(dinput: dx, dh: dfPrev, dparameters: g + gru[l].offset, dhNext: df, cache: cache[l],
                          input: x[l], h: fin, parameters: p + gru[l].offset, batch: N)
            // x = [c ⊙ f ; c].
            for r in 0..<N {
                let dxr = dx + r * 2 * D, cr = cl + r * D, fr = fin + r * D, dcr = dc + r * D, dfr = dfPrev + r * D
                for e in 0..<D {
                    dcr[e] = dxr[D + e] + dxr[e] * fr[e]
                    dfr[e] += dxr[e] * cr[e]
                }
            }
            dmixed.update(repeating: 0, count: N * K * D)
            combine.backward(dinput: dmixed, dweight: g + combineWeight[l].offset, dbias: g + combineBias[l].offset,
                             doutput: dc, input: mixed[l], weight: p + combineWeight[l].offset, n: N)
            for h in 0..<K {
                for b in 0..<B {
                    let block = ((l * K + h) * B + b) * T * T
                    let dm = dmixed + b * K * D + h * D  // [T, D], row stride B·K·D
                    // mixed = G · f: dG += dmixed · fᵀ, df += Gᵀ · dmixed.
                    if let dgraphs {
                        sgemm(.none, .transpose, m: T, n: T, k: D, a: dm, lda: B * K * D, b: fin + b * D, ldb: B * D,
                              beta: 1, c: dgraphs + block, ldc: T)
                    }
                    sgemm(.transpose, .none, m: T, n: D, k: T, a: graphs + block, lda: T, b: dm, ldb: B * K * D,
                          beta: 1, c: dfPrev + b * D, ldc: B * D)
                }
            }
            df.update(from: dfPrev, count: N * D)
        }
        if let dfeatures {
            for i in 0..<N * D { dfeatures[i] += df[i] }
        }
    }
}
