import NN

/// One batch of context prediction: token windows and the positions to predict from.
///
/// `tokens` is time-major `[T + D, B]`: column b is one window `w_0 … w_{T+D−1}` cut from the
/// token stream. The graph and feature predictors read rows `0 ..< T`; from each position t in
/// `positions[b·P ..< (b+1)·P]` (each in `0 ..< T`) the decoder predicts `w_{t+1} … w_{t+D}`.
///
///     // T = 3, D = 2, B = 2, P = 1:   tokens (rows = time)      positions
///     //                                 5  9                     [1, 0]
///     //                                 6  8      sequence 0 predicts w_2, w_3 = 7, 4 from f^L_1
///     //                                 7  3      sequence 1 predicts w_1, w_2 = 8, 3 from f^L_0
///     //                                 4  2
///     //                                 1  1
public struct ContextPredictionBatch: Equatable, Sendable {
    /// Tokens T the predictors read per sequence.
    public var steps: Int
    /// Sequences B.
    public var batch: Int
    /// `[T + D, B]` time-major ids.
    public var tokens: [Int32]
    /// `[B, P]` positions in `0 ..< T`.
    public var positions: [Int32]

    public init(steps: Int, batch: Int, tokens: [Int32], positions: [Int32]) {
        self.steps = steps; self.batch = batch; self.tokens = tokens; self.positions = positions
    }
}

/// GLoMo's context-prediction network: embeddings → `GraphPredictor` → `FeaturePredictor` →
/// at sampled positions a GRU decoder started from f^L_t predicts the next D tokens.
///
/// With `x = E[w]` the embeddings (`embedding.weight [V, E]`), graphs `G = GP(x[0..<T])` and
/// features `f^L = FP(x[0..<T], G)`, for each sampled (sequence b, position t):
///
///     h_0 = f^L_t
///     h_{d+1} = GRUCell(E[w_{t+d}], h_d)                 d = 0 … D−1 (teacher forcing)
///     logits_{d+1} = E · h_{d+1} + b_out                  output layer tied to the input embedding
///     loss = mean over all (b, t, d) of −log softmax(logits_{d+1})[w_{t+d+1}]
///
/// With `softmax` adaptive (`GLoMoSoftmax.adaptive`), the output layer is instead an untied
/// `NN.AdaptiveLogSoftmax` over h_{d+1} (exact log-probabilities, a fraction of the cost at large
/// V): `loss = mean of −log p_adaptive(w_{t+d+1} | h_{d+1})`, its parameters under
/// `decoder.softmax.` (PyTorch's `AdaptiveLogSoftmaxWithLoss` names, no `decoder.bias`).
///
/// Since f^L_t depends on w_0 … w_t only (the graphs look strictly left), the targets are never
/// seen by the encoder. Parameters (one `ParameterStore`): `embedding.weight [V, E]`, the graph
/// predictor under `graph.`, the feature predictor under `features.`, `decoder.gru.weight_ih
/// [3E, E]`, `decoder.gru.weight_hh [3E, E]`, `decoder.gru.bias_ih [3E]`, `decoder.gru.bias_hh
/// [3E]` (PyTorch `nn.GRUCell(E, E)`), `decoder.bias [V]` (full softmax) or `decoder.softmax.*`
/// (adaptive).
///
///     let model = ContextPredictionModel(vocabularySize: V, graph: graphConfig, maxSteps: 64,
///                                        maxBatch: 16, predictTokens: 3, maxPositions: 16)
///     var rng = RNG(seed: 1); model.initialize(rng: &rng)
///     store.zeroGradients()
///     let loss = model.forward(batch)   // mean nats per predicted token
///     model.backward()                  // adds into model.store.gradients
public final class ContextPredictionModel {
    public let vocabularySize: Int
    public let embeddingSize: Int
    /// Tokens D predicted after each position.
    public let predictTokens: Int
    /// Largest positions per sequence P.
    public let maxPositions: Int
    public let store = ParameterStore()
    public let embedding: ParameterView
    public let graphPredictor: GraphPredictor
    public let featurePredictor: FeaturePredictor
    /// The output layer: `.full` (tied to the embedding) or `.adaptive`.
    public let softmax: GLoMoSoftmax
    private let decoderGRU: ParameterView
    private let outputBias: ParameterView?     // full softmax
    private let adaptiveView: ParameterView?   // adaptive: the first of its consecutive views
    /// Adaptive softmax: one per predicted token d (each keeps its own forward for backward),
    /// all over the same parameters.
    private let adaptive: [AdaptiveLogSoftmax]
    private let cell: GRUCell
    private let workspace = BufferArena()
    private let ce: SoftmaxCrossEntropy
    // Activations of the last forward (N = B·P decoder rows, row r = b·P + p):
    private let x: UnsafeMutablePointer<Float>         // [T, B, E] embeddings
    private let graphs: UnsafeMutablePointer<Float>    // [L, K, B, T, T]
    private let features: UnsafeMutablePointer<Float>  // [T, B, E] f^L
    private let h: [UnsafeMutablePointer<Float>]       // D+1 × [N, E] decoder states h_0 … h_D
    private let input: [UnsafeMutablePointer<Float>]   // D × [N, E] decoder inputs E[w_{t+d}]
    private let cache: [UnsafeMutablePointer<Float>]   // D × [N, 6E]
    private let logits: [UnsafeMutablePointer<Float>]  // D × [N, V] (full softmax only)
    private let lse: [UnsafeMutablePointer<Float>]     // D × [N]
    private let logProbs: UnsafeMutablePointer<Float>  // [N] (adaptive softmax's per-row output)
    private var inputIDs: [[Int32]], targetIDs: [[Int32]]  // D × [N]
    // Backward scratch:
    private let dlogits: UnsafeMutablePointer<Float>   // [N, V] (full softmax only)
    private let dh: UnsafeMutablePointer<Float>        // [N, E] gradient of h_{d+1}
    private let dhPrev: UnsafeMutablePointer<Float>    // [N, E] gradient of h_d
    private let dinput: UnsafeMutablePointer<Float>    // [N, E]
    private let dfeatures: UnsafeMutablePointer<Float> // [T, B, E]
    private let dx: UnsafeMutablePointer<Float>        // [T, B, E]
    private let dgraphs: UnsafeMutablePointer<Float>   // [L, K, B, T, T]
    private var last: ContextPredictionBatch?

    /// Registers every parameter and preallocates the buffers for `maxSteps × maxBatch` tokens
    /// and `maxPositions` positions per sequence. `graph` must be valid, and so must `softmax`'s
    /// cutoffs for V (`GLoMoModelConfig.validate` checks both).
    public init(vocabularySize V: Int, graph: GraphPredictorConfig, maxSteps: Int, maxBatch: Int,
                predictTokens D: Int, maxPositions P: Int, softmax: GLoMoSoftmax = .full) {
        precondition(V > 0 && D > 0 && P > 0 && P <= maxSteps, "ContextPredictionModel: bad sizes")
        let E = graph.embeddingSize
        vocabularySize = V; embeddingSize = E; predictTokens = D; maxPositions = P
        self.softmax = softmax
        embedding = store.register("embedding.weight", shape: [V, E])
        graphPredictor = GraphPredictor(graph, store: store, prefix: "graph.", maxSteps: maxSteps, maxBatch: maxBatch)
        featurePredictor = FeaturePredictor(matching: graphPredictor, store: store, prefix: "features.")
        decoderGRU = store.register("decoder.gru.weight_ih", shape: [3 * E, E])
        store.register("decoder.gru.weight_hh", shape: [3 * E, E])
        store.register("decoder.gru.bias_ih", shape: [3 * E])
        store.register("decoder.gru.bias_hh", shape: [3 * E])
        switch softmax {
        case .full:
            outputBias = store.register("decoder.bias", shape: [V])
            adaptive = []
            adaptiveView = nil
        case .adaptive(let cutoffs, let divValue):
            do {
                adaptive = try (0..<D).map { _ in try AdaptiveLogSoftmax(inputSize: E, classCount: V, cutoffs: cutoffs, divValue: divValue) }
            } catch {
                preconditionFailure("ContextPredictionModel: \(error)")
            }
            adaptiveView = adaptive[0].register(in: store, prefix: "decoder.softmax.")
            outputBias = nil
        }
        let N = maxBatch * P, rows = maxSteps * maxBatch
        let cell = GRUCell(inputSize: E, hiddenSize: E, maxBatch: N)
        self.cell = cell
        ce = SoftmaxCrossEntropy(classCount: V)
        let ws = workspace, graphCount = graphPredictor.graphCount(steps: maxSteps, batch: maxBatch)
        x = ws.floats(rows * E)
        graphs = ws.floats(graphCount)
        features = ws.floats(rows * E)
        h = (0...D).map { _ in ws.floats(N * E) }
        input = (0..<D).map { _ in ws.floats(N * E) }
        cache = (0..<D).map { _ in ws.floats(cell.cacheSize(batch: N)) }
        let full = softmax == .full
        logits = (0..<D).map { _ in ws.floats(full ? N * V : 1) }
        lse = (0..<D).map { _ in ws.floats(N) }
        logProbs = ws.floats(N)
        inputIDs = Array(repeating: [], count: D)
        targetIDs = Array(repeating: [], count: D)
        dlogits = ws.floats(full ? N * V : 1)
        dh = ws.floats(N * E)
        dhPrev = ws.floats(N * E)
        dinput = ws.floats(N * E)
        dfeatures = ws.floats(rows * E)
        dx = ws.floats(rows * E)
        dgraphs = ws.floats(graphCount)
    }

    /// Initialises every parameter: embeddings uniform in ±0.1, the graph and feature predictors
    /// as their `initialize`, the decoder GRU as PyTorch (±1/√E), the output bias 0 (full
    /// softmax) or the adaptive softmax as PyTorch (`AdaptiveLogSoftmax.initialize`).
    public func initialize(rng: inout RNG) {
        let w = store.values(embedding)
        for i in 0..<w.count { w[i] = rng.uniform(-0.1, 0.1) }
        graphPredictor.initialize(rng: &rng)
        featurePredictor.initialize(rng: &rng)
        cell.initialize(parameters: store.values.baseAddress! + decoderGRU.offset, rng: &rng)
        if let outputBias {
            let b = store.values(outputBias)
            for i in 0..<b.count { b[i] = 0 }
        }
        if let adaptiveView {
            adaptive[0].initialize(parameters: store.values.baseAddress! + adaptiveView.offset, rng: &rng)
        }
    }

    /// The mean cross-entropy (nats per predicted token) of `batch`; keeps what backward needs.
    @discardableResult
    public func forward(_ batch: ContextPredictionBatch) -> Double {
        let T = batch.steps, B = batch.batch, D = predictTokens, E = embeddingSize, V = vocabularySize
        let P = batch.positions.count / max(B, 1), N = B * P
        precondition(batch.tokens.count == (T + D) * B && P > 0 && P <= maxPositions && P * B == batch.positions.count,
                     "ContextPredictionModel: batch shapes do not fit")
        last = batch
        let p = store.values.baseAddress!, table = p + embedding.offset
        let emb = Embedding(vocabularySize: V, embeddingSize: E)
        batch.tokens.withUnsafeBufferPointer { ids in
            emb.forward(output: x, ids: ids.baseAddress!, weight: table, n: T * B)  // rows 0..<T
        }
        graphPredictor.forward(graphs: graphs, embeddings: x, steps: T, batch: B)
        featurePredictor.forward(output: features, features: x, graphs: graphs, steps: T, batch: B)
        // Gather h_0 = f^L_t and the decoder's input and target ids.
        for d in 0..<D {
            inputIDs[d] = [Int32](repeating: 0, count: N)
            targetIDs[d] = [Int32](repeating: 0, count: N)
        }
        for b in 0..<B {
            for k in 0..<P {
                let r = b * P + k, t = Int(batch.positions[r])
                precondition(t >= 0 && t < T, "ContextPredictionModel: position \(t) outside 0..<\(T)")
                (h[0] + r * E).update(from: features + (t * B + b) * E, count: E)
                for d in 0..<D {
                    inputIDs[d][r] = batch.tokens[(t + d) * B + b]
                    targetIDs[d][r] = batch.tokens[(t + d + 1) * B + b]
                }
            }
        }
        var loss: Double = 0
        let gru = p + decoderGRU.offset
        for d in 0..<D {
            inputIDs[d].withUnsafeBufferPointer { emb.forward(output: input[d], ids: $0.baseAddress!, weight: table, n: N) }
            cell.forward(hNext: h[d + 1], cache: cache[d], input: input[d], h: h[d], parameters: gru, batch: N)
            if let adaptiveView {
                loss += targetIDs[d].withUnsafeBufferPointer {
                    adaptive[d].forward(logProbs: logProbs, input: h[d + 1], parameters: p + adaptiveView.offset,
                                        targets: $0.baseAddress!, mask: nil, n: N).loss
                }
                continue
            }
            let bias = p + outputBias!.offset
            // logits = h_{d+1} · Eᵀ + b   [N, V]
            for r in 0..<N { (logits[d] + r * V).update(from: bias, count: V) }
            sgemm(.none, .transpose, m: N, n: V, k: E, a: h[d + 1], lda: E, b: table, ldb: E, beta: 1, c: logits[d], ldc: V)
            loss += targetIDs[d].withUnsafeBufferPointer {
                ce.forward(logSumExp: lse[d], logits: logits[d], targets: $0.baseAddress!, mask: nil, n: N).loss
            }
        }
        return loss / Double(N * D)
    }

    /// The full (tied) softmax's part of step d's backward: dh += dlogits · E, dE += dlogitsᵀ · h,
    /// db += Σ_rows dlogits, with dlogits the scaled softmax gradient of step d's logits.
    private func backwardFullSoftmax(d: Int, n N: Int, scale: Float) {
        let E = embeddingSize, V = vocabularySize
        let p = store.values.baseAddress!, g = store.gradients.baseAddress!
        let table = p + embedding.offset, dtable = g + embedding.offset, dbias = g + outputBias!.offset
        dlogits.update(repeating: 0, count: N * V)
        targetIDs[d].withUnsafeBufferPointer {
            ce.backward(dlogits: dlogits, logits: logits[d], logSumExp: lse[d], targets: $0.baseAddress!, mask: nil, n: N, scale: scale)
        }
        sgemm(.none, .none, m: N, n: E, k: V, a: dlogits, lda: V, b: table, ldb: E, beta: 1, c: dh, ldc: E)
        sgemm(.transpose, .none, m: V, n: E, k: N, a: dlogits, lda: V, b: h[d + 1], ldb: E, beta: 1, c: dtable, ldc: E)
        for r in 0..<N {
            let row = dlogits + r * V
            for j in 0..<V { dbias[j] += row[j] }
        }
    }

    /// Adds the gradient of the last forward's mean loss with respect to every parameter.
    public func backward() {
        guard let batch = last else { preconditionFailure("ContextPredictionModel: backward before forward") }
        let T = batch.steps, B = batch.batch, D = predictTokens, E = embeddingSize, V = vocabularySize
        let P = batch.positions.count / B, N = B * P
        let p = store.values.baseAddress!, g = store.gradients.baseAddress!
        let dtable = g + embedding.offset
        let gru = p + decoderGRU.offset, dgru = g + decoderGRU.offset
        let emb = Embedding(vocabularySize: V, embeddingSize: E)
        let scale = Float(1 / Double(N * D))
        dh.update(repeating: 0, count: N * E)  // gradient of h_D from later steps: none
        for d in stride(from: D - 1, through: 0, by: -1) {
            if let adaptiveView {
                // dh += ∂loss/∂h_{d+1}; the adaptive softmax's parameters get theirs.
                targetIDs[d].withUnsafeBufferPointer {
                    adaptive[d].backward(dinput: dh, dparameters: g + adaptiveView.offset, input: h[d + 1],
                                         parameters: p + adaptiveView.offset, targets: $0.baseAddress!, mask: nil, n: N, scale: scale)
                }
            } else {
                backwardFullSoftmax(d: d, n: N, scale: scale)
            }
            dhPrev.update(repeating: 0, count: N * E)
            dinput.update(repeating: 0, count: N * E)
            cell.backward(dinput: dinput, dh: dhPrev, dparameters: dgru, dhNext: dh, cache: cache[d], input: input[d],
                          h: h[d], parameters: gru, batch: N)
            inputIDs[d].withUnsafeBufferPointer { emb.backward(dweight: dtable, doutput: dinput, ids: $0.baseAddress!, n: N) }
            dh.update(from: dhPrev, count: N * E)
        }
        // h_0 = f^L_t: scatter into dfeatures.
        dfeatures.update(repeating: 0, count: T * B * E)
        for b in 0..<B {
            for k in 0..<P {
                let r = b * P + k, t = Int(batch.positions[r])
                let dst = dfeatures + (t * B + b) * E, src = dh + r * E
                for e in 0..<E { dst[e] += src[e] }
            }
        }
        dx.update(repeating: 0, count: T * B * E)
        dgraphs.update(repeating: 0, count: graphPredictor.graphCount(steps: T, batch: B))
        featurePredictor.backward(dfeatures: dx, dgraphs: dgraphs, doutput: dfeatures, graphs: graphs, steps: T, batch: B)
        graphPredictor.backward(dembeddings: dx, dgraphs: dgraphs, steps: T, batch: B)
        batch.tokens.withUnsafeBufferPointer { emb.backward(dweight: dtable, doutput: dx, ids: $0.baseAddress!, n: T * B) }
    }
}
