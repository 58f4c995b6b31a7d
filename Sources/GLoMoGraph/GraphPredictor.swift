import NN

/// How a graph head turns an affinity `q_i · k_j` into an unnormalised edge weight.
///
/// Encoded as `"learned"` or `"bias"`.
public enum GraphThreshold: String, Sendable, Codable {
    /// `ReLU(q_i · k_j − τ_i)²` with a learned per-query threshold `τ_i = w · q_i + b` (the paper's).
    case learned
    /// `ReLU(q_i · k_j + b)²` with one learned bias per head.
    case bias
}

/// Sizes and options of a `GraphPredictor`.
public struct GraphPredictorConfig: Sendable, Codable, Equatable {
    /// Input embedding size E.
    public var embeddingSize: Int
    /// Channels C of the key and query convolution stacks.
    public var channels: Int
    /// Convolution blocks per stack (Conv1d → LayerNorm → ReLU).
    public var convLayers: Int = 2
    /// Convolution kernel size (causal: left padding of kernelSize − 1).
    public var kernelSize: Int = 3
    /// Graph layers L.
    public var graphLayers: Int = 3
    /// Heads K per graph layer.
    public var heads: Int = 4
    /// Size d of each head's query and key vectors.
    public var headSize: Int
    /// Threshold form.
    public var threshold: GraphThreshold = .learned
    /// ε in the row normalisation `G_ij = a_ij / (Σ_j a_ij + ε)`.
    public var epsilon: Float = 1e-6

    /// Creates a configuration; see the properties for the meaning and defaults.
    public init(embeddingSize: Int, channels: Int, convLayers: Int = 2, kernelSize: Int = 3,
                graphLayers: Int = 3, heads: Int = 4, headSize: Int, threshold: GraphThreshold = .learned,
                epsilon: Float = 1e-6) {
        self.embeddingSize = embeddingSize
        self.channels = channels
        self.convLayers = convLayers
        self.kernelSize = kernelSize
        self.graphLayers = graphLayers
        self.heads = heads
        self.headSize = headSize
        self.threshold = threshold
        self.epsilon = epsilon
    }

    /// Throws a `GraphPredictorConfigError` naming the first invalid field (e.g. a zero size read
    /// from a configuration file); `GraphPredictor.init` requires a valid configuration.
    public func validate() throws {
        let sizes: [(String, Int)] = [("embeddingSize", embeddingSize), ("channels", channels),
                                      ("convLayers", convLayers), ("kernelSize", kernelSize),
                                      ("graphLayers", graphLayers), ("heads", heads), ("headSize", headSize)]
        for (name, value) in sizes where value <= 0 {
            throw GraphPredictorConfigError(message: "graph predictor: \(name) must be positive, got \(value)")
        }
        if !(epsilon > 0 && epsilon.isFinite) {
            throw GraphPredictorConfigError(message: "graph predictor: epsilon must be positive and finite, got \(epsilon)")
        }
    }
}

/// An invalid `GraphPredictorConfig`; the description is one line naming the field.
public struct GraphPredictorConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// GLoMo's graph predictor: from input embeddings `[T, B, E]` to L×K causal, row-normalised
/// affinity graphs `[L, K, B, T, T]`.
///
/// Key and query stacks of causal convolution blocks (`ConvStack`) turn the embeddings into
/// `key [T, B, C]` and `query [T, B, C]`. For each graph layer l and head k:
///
///     q_i = W_q^{l,k} · query_i,   k_j = W_k^{l,k} · key_j          (d-vectors)
///     τ_i = w^{l,k} · q_i + b^{l,k}        (.learned)    or  τ_i = −b^{l,k}  (.bias)
///     a_ij = ReLU(q_i · k_j − τ_i)²  for j < i, 0 otherwise
///     G^{l,k}_ij = a_ij / (Σ_j' a_ij' + ε)
///
/// Output layout: `graphs[((l·K + k)·B + b)·T·T + i·T + j]` = G^{l,k}_ij of sequence b — row i
/// (the dependent position) over column j (the earlier position it attends to). Row 0 is all
/// zeros. The graphs depend only on the embeddings, and row i only on embeddings 0…i.
///
/// Parameters (in `store`, names prefixed by `prefix`): `key.conv{n}.weight`, `key.conv{n}.bias`,
/// `key.norm{n}.weight`, `key.norm{n}.bias` (same under `query.`), and per layer
/// `layer{l}.query.weight [K·d, C]`, `layer{l}.key.weight [K·d, C]` (head k = rows k·d ..< (k+1)·d),
/// `layer{l}.threshold.weight [K, d]` (only for `.learned`), `layer{l}.threshold.bias [K]`.
///
/// All activations are preallocated for `maxSteps × maxBatch`; the affinities are one sgemm
/// `[T, d] × [d, T]` per (layer, head, sequence).
///
///     let store = ParameterStore()
///     let gp = GraphPredictor(GraphPredictorConfig(embeddingSize: 64, channels: 64, headSize: 32),
///                             store: store, maxSteps: 70, maxBatch: 20)
///     var rng = RNG(seed: 1); gp.initialize(rng: &rng)
///     gp.forward(graphs: g, embeddings: x, steps: T, batch: B)      // g [L, K, B, T, T]
///     gp.backward(dembeddings: dx, dgraphs: dg, steps: T, batch: B) // adds into store.gradients, dx
public final class GraphPredictor {
    /// Sizes and options.
    public let config: GraphPredictorConfig
    /// Largest T a forward call accepts (buffers are preallocated for it).
    public let maxSteps: Int
    /// Largest B a forward call accepts.
    public let maxBatch: Int
    private let store: ParameterStore
    private let keyStack: ConvStack, queryStack: ConvStack
    private let projection: Linear
    private let wq: [ParameterView], wk: [ParameterView]
    private let tw: [ParameterView?], tb: [ParameterView]
    private let workspace = BufferArena()
    // Activations of the last forward:
    private let q: [UnsafeMutablePointer<Float>]   // per layer [T, B, K·d]
    private let k: [UnsafeMutablePointer<Float>]   // per layer [T, B, K·d]
    private let scores: UnsafeMutablePointer<Float> // [L, K, B, T, T] q_i · k_j
    private let tau: UnsafeMutablePointer<Float>    // [L, K, B, T]
    private let rowSums: UnsafeMutablePointer<Float> // [L, K, B, T]
    private let graphCopy: UnsafeMutablePointer<Float> // [L, K, B, T, T] the returned graphs
    // Backward scratch:
    private let dscores: UnsafeMutablePointer<Float> // [T, T]
    private let dtau: UnsafeMutablePointer<Float>    // [T]
    private let dq: UnsafeMutablePointer<Float>      // [T, B, K·d]
    private let dk: UnsafeMutablePointer<Float>      // [T, B, K·d]
    private let dquery: UnsafeMutablePointer<Float>  // [T, B, C]
    private let dkey: UnsafeMutablePointer<Float>    // [T, B, C]
    private var lastShape = (steps: 0, batch: 0)

    /// Registers the parameters in `store` (under `prefix`) and preallocates every buffer.
    ///
    /// `config` must be valid (`config.validate()` does not throw).
    public init(_ config: GraphPredictorConfig, store: ParameterStore, prefix: String = "graph.",
                maxSteps: Int, maxBatch: Int) {
        let c = config
        do { try c.validate() } catch { preconditionFailure("GraphPredictor: \(error)") }
        precondition(maxSteps > 0 && maxBatch > 0, "GraphPredictor: maxSteps and maxBatch must be positive")
        self.config = c
        self.maxSteps = maxSteps
        self.maxBatch = maxBatch
        self.store = store
        let rows = maxSteps * maxBatch
        keyStack = ConvStack(store: store, prefix: prefix + "key.", inputSize: c.embeddingSize, channels: c.channels,
                             layers: c.convLayers, kernelSize: c.kernelSize, maxRows: rows)
        queryStack = ConvStack(store: store, prefix: prefix + "query.", inputSize: c.embeddingSize, channels: c.channels,
                               layers: c.convLayers, kernelSize: c.kernelSize, maxRows: rows)
        let D = c.heads * c.headSize
        projection = Linear(inputSize: c.channels, outputSize: D)
        var wq: [ParameterView] = [], wk: [ParameterView] = [], tw: [ParameterView?] = [], tb: [ParameterView] = []
        for l in 0..<c.graphLayers {
            wq.append(store.register("\(prefix)layer\(l).query.weight", shape: [D, c.channels]))
            wk.append(store.register("\(prefix)layer\(l).key.weight", shape: [D, c.channels]))
            tw.append(c.threshold == .learned
                      ? store.register("\(prefix)layer\(l).threshold.weight", shape: [c.heads, c.headSize]) : nil)
            tb.append(store.register("\(prefix)layer\(l).threshold.bias", shape: [c.heads]))
        }
        self.wq = wq; self.wk = wk; self.tw = tw; self.tb = tb
        let ws = workspace, L = c.graphLayers, K = c.heads
        q = (0..<L).map { _ in ws.floats(rows * D) }
        k = (0..<L).map { _ in ws.floats(rows * D) }
        scores = ws.floats(L * K * rows * maxSteps)
        tau = ws.floats(L * K * rows)
        rowSums = ws.floats(L * K * rows)
        graphCopy = ws.floats(L * K * rows * maxSteps)
        dscores = ws.floats(maxSteps * maxSteps)
        dtau = ws.floats(maxSteps)
        dq = ws.floats(rows * D)
        dk = ws.floats(rows * D)
        dquery = ws.floats(rows * c.channels)
        dkey = ws.floats(rows * c.channels)
    }

    /// Floats in the output for `steps` × `batch`: `L · K · B · T · T`.
    public func graphCount(steps T: Int, batch B: Int) -> Int { config.graphLayers * config.heads * B * T * T }

    /// Initialises every parameter: convolutions as PyTorch, projections uniform in ±1/√C,
    /// threshold weights uniform in ±1/√d, threshold biases 0.
    public func initialize(rng: inout RNG) {
        keyStack.initialize(rng: &rng)
        queryStack.initialize(rng: &rng)
        let bound = 1 / Float(config.channels).squareRoot(), tbound = 1 / Float(config.headSize).squareRoot()
        for l in 0..<config.graphLayers {
            for v in [wq[l], wk[l]] {
                let p = store.values(v)
                for i in 0..<p.count { p[i] = rng.uniform(-bound, bound) }
            }
            if let w = tw[l] {
                let p = store.values(w)
                for i in 0..<p.count { p[i] = rng.uniform(-tbound, tbound) }
            }
            let b = store.values(tb[l])
            for i in 0..<b.count { b[i] = 0 }
        }
    }

    /// Computes the graphs of `embeddings` and keeps what backward needs.
    public func forward(
        graphs: UnsafeMutablePointer<Float>,    // [L, K, B, T, T]
        embeddings: UnsafePointer<Float>,       // [T, B, E]
        steps T: Int, batch B: Int
    ) {
        precondition(T > 0 && T <= maxSteps && B > 0 && B <= maxBatch,
                     "GraphPredictor: \(T) steps × \(B) sequences outside \(maxSteps) × \(maxBatch)")
        lastShape = (T, B)
        let L = config.graphLayers, K = config.heads, d = config.headSize, D = K * d, N = T * B
        keyStack.forward(input: embeddings, steps: T, batch: B)
        queryStack.forward(input: embeddings, steps: T, batch: B)
        let p = store.values.baseAddress!
        for l in 0..<L {
            projection.forward(output: q[l], input: queryStack.output, weight: p + wq[l].offset, bias: nil, n: N)
            projection.forward(output: k[l], input: keyStack.output, weight: p + wk[l].offset, bias: nil, n: N)
            for h in 0..<K {
                let bias = p[tb[l].offset + h]
                let w = tw[l].map { p + $0.offset + h * d }
                for b in 0..<B {
                    let block = (l * K + h) * B + b
                    let s = scores + block * T * T, t = tau + block * T
                    let qb = q[l] + b * D + h * d, kb = k[l] + b * D + h * d  // row stride B·D
                    // s[i, j] = q_i · k_j for one (layer, head, sequence).
                    sgemm(.none, .transpose, m: T, n: T, k: d, a: qb, lda: B * D, b: kb, ldb: B * D,
                          beta: 0, c: s, ldc: T)
                    for i in 0..<T {
                        if let w {
                            let qi = qb + i * B * D
                            var dot: Float = 0
                            for e in 0..<d { dot += w[e] * qi[e] }
                            t[i] = dot + bias
                        } else {
                            t[i] = -bias
                        }
                    }
                    GraphKernels.forward(graph: graphCopy + block * T * T, rowSums: rowSums + block * T,
                                         scores: s, thresholds: t, steps: T, epsilon: config.epsilon)
                }
            }
        }
        graphs.update(from: graphCopy, count: graphCount(steps: T, batch: B))
    }

    /// Adds the gradients of every parameter and (if non-nil) of the embeddings, given the
    /// gradient of the graphs of the last forward call.
    public func backward(
        dembeddings: UnsafeMutablePointer<Float>?, // [T, B, E]
        dgraphs: UnsafePointer<Float>,             // [L, K, B, T, T]
        steps T: Int, batch B: Int
    ) {
        precondition(lastShape == (T, B), "GraphPredictor: backward shape differs from the last forward")
        let L = config.graphLayers, K = config.heads, d = config.headSize, D = K * d, N = T * B, C = config.channels
        let p = store.values.baseAddress!, g = store.gradients.baseAddress!
        dquery.update(repeating: 0, count: N * C)
        dkey.update(repeating: 0, count: N * C)
        for l in 0..<L {
            dq.update(repeating: 0, count: N * D)
            dk.update(repeating: 0, count: N * D)
            for h in 0..<K {
                let w = tw[l].map { p + $0.offset + h * d }
                let dw = tw[l].map { g + $0.offset + h * d }
                var dbias: Float = 0
                for b in 0..<B {
                    let block = (l * K + h) * B + b
                    let s = scores + block * T * T, t = tau + block * T
                    dscores.update(repeating: 0, count: T * T)
                    dtau.update(repeating: 0, count: T)
                    GraphKernels.backward(dscores: dscores, dthresholds: dtau, dgraph: dgraphs + block * T * T,
                                          graph: graphCopy + block * T * T, scores: s, thresholds: t,
                                          rowSums: rowSums + block * T, steps: T, epsilon: config.epsilon)
                    let qb = q[l] + b * D + h * d, kb = k[l] + b * D + h * d
                    let dqb = dq + b * D + h * d, dkb = dk + b * D + h * d
                    // s = Q Kᵀ: dQ += dS · K, dK += dSᵀ · Q.
                    sgemm(.none, .none, m: T, n: d, k: T, a: dscores, lda: T, b: kb, ldb: B * D,
                          beta: 1, c: dqb, ldc: B * D)
                    sgemm(.transpose, .none, m: T, n: d, k: T, a: dscores, lda: T, b: qb, ldb: B * D,
                          beta: 1, c: dkb, ldc: B * D)
                    if let w, let dw {
                        // τ_i = w · q_i + b.
                        for i in 0..<T {
                            let dt = dtau[i], qi = qb + i * B * D, dqi = dqb + i * B * D
                            for e in 0..<d { dqi[e] += dt * w[e]; dw[e] += dt * qi[e] }
                            dbias += dt
                        }
                    } else {
                        // τ_i = −b.
                        for i in 0..<T { dbias -= dtau[i] }
                    }
                }
                g[tb[l].offset + h] += dbias
            }
            projection.backward(dinput: dquery, dweight: g + wq[l].offset, dbias: nil, doutput: dq,
                                input: queryStack.output, weight: p + wq[l].offset, n: N)
            projection.backward(dinput: dkey, dweight: g + wk[l].offset, dbias: nil, doutput: dk,
                                input: keyStack.output, weight: p + wk[l].offset, n: N)
        }
        queryStack.backward(dinput: dembeddings, doutput: dquery, steps: T, batch: B)
        keyStack.backward(dinput: dembeddings, doutput: dkey, steps: T, batch: B)
    }
}
