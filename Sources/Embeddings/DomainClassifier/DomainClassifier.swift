import NN
import Corpus
import GLoMoGraph

/// How the BiLSTM states of an example are pooled over time into one vector.
public enum ClassifierPooling: String, Codable, CaseIterable, Sendable {
    /// Masked mean over the real (unpadded) steps.
    case mean
    /// Masked element-wise maximum over the real steps.
    case max
}

/// The shape of a `DomainClassifier`.
public struct DomainClassifierConfig: Codable, Equatable, Sendable {
    /// V: rows of the input embedding (the vocabulary size).
    public var vocabularySize: Int
    /// E: width of a word vector.
    public var embeddingSize: Int
    /// H: hidden size of each LSTM direction (the pooled vector is 2H wide).
    public var hiddenSize: Int
    /// K: the number of domains.
    public var classCount: Int
    /// Mean or max pooling over time.
    public var pooling: ClassifierPooling
    /// Dropout probability on the embedded words and on the pooled vector while training.
    public var dropout: Float
    /// If set, the embedding starts uniform in ±this; nil: N(0, 1) (PyTorch's `nn.Embedding`).
    public var embeddingInitRange: Float?
    /// GLoMo graphs mixed into the BiLSTM states before pooling (nil, or absent from a
    /// config.json: none). See `DomainGraphConfig`.
    public var graphs: DomainGraphConfig?

    public init(vocabularySize: Int, embeddingSize: Int, hiddenSize: Int, classCount: Int,
                pooling: ClassifierPooling = .mean, dropout: Float = 0, embeddingInitRange: Float? = nil,
                graphs: DomainGraphConfig? = nil) {
        self.embeddingInitRange = embeddingInitRange
        self.graphs = graphs
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        self.hiddenSize = hiddenSize
        self.classCount = classCount
        self.pooling = pooling
        self.dropout = dropout
    }
}

/// A BiLSTM text classifier: embedding → BiLSTM → masked pooling over time → linear → softmax
/// cross-entropy over domains.
///
/// For a batch of B examples padded to T steps (time-major ids `[T, B]`, mask `[T, B]`, example
/// b being `len_b` ids long):
///
///     x  = E[ids]                                   [T, B, E]   (dropout while training)
///     hf = LSTM_fwd(x)                              [T, B, H]   zero initial state
///     xr[t, b] = x[len_b − 1 − t, b]  (t < len_b)   [T, B, E]   each example reversed in place
///     hr = LSTM_bwd(xr)                             [T, B, H]   starts at the example's real end
///     hb[t, b] = hr[len_b − 1 − t, b]               [T, B, H]   back in reading order
///     h  = [hf ; hb]                                [T, B, 2H]
///     h  ← GLoMo(h, ids)  (with `config.graphs`)    [T, B, 2H]   graph-mixed, `DomainGraphConfig`
///     p  = pool(h, mask)                            [B, 2H]     mean or max (dropout while training)
///     z  = p · Wᵀ + b                               [B, K]
///     loss = mean_b CE(z_b, label_b)
///
/// Reversing each example within its own length (rather than the padded window) is what makes
/// the backward direction start at the last real word, not at padding. Parameter names follow
/// PyTorch's `nn.LSTM(E, H, bidirectional=True)`, so `model.safetensors` loads into
///
///     nn.ModuleDict(embedding=nn.Embedding(V, E), rnn=nn.LSTM(E, H, bidirectional=True),
///                   decoder=nn.Linear(2H, K))
///
/// tensors `embedding.weight [V, E]`, `rnn.weight_ih_l0 [4H, E]`, `rnn.weight_hh_l0 [4H, H]`,
/// `rnn.bias_ih_l0 [4H]`, `rnn.bias_hh_l0 [4H]`, the same with `_reverse`, `decoder.weight [K, 2H]`,
/// `decoder.bias [K]`. With graphs, the `GLoMoTransfer`'s parameters follow (`glomo.*`: the
/// frozen id map, graph embedding and predictor, then the trainable mixer and gate).
///
///     let model = DomainClassifier(config: DomainClassifierConfig(vocabularySize: V, embeddingSize: 64,
///                                  hiddenSize: 64, classCount: K), seed: 1)
///     model.parameters.zeroGradients()
///     let stats = model.forwardBackward(batch, rng: &rng)   // gradients of the mean loss
///     adam.step(model.parameters, learningRate: 2e-3)
public final class DomainClassifier {
    public let config: DomainClassifierConfig
    /// Every parameter and gradient, in one flat buffer each.
    public let parameters: ParameterStore
    let embeddingWeight: ParameterView
    let forwardFirst: ParameterView   // rnn.weight_ih_l0: the forward LSTM's flat block starts here
    let backwardFirst: ParameterView  // rnn.weight_ih_l0_reverse
    let decoderWeight: ParameterView
    let decoderBias: ParameterView
    /// The GLoMo graphs (`config.graphs`), registered for batches of up to `maxBatch` columns.
    public let graphs: GLoMoTransfer?
    /// With graphs: the most columns a batch may have (their buffers are sized once).
    public let maxBatch: Int
    private var workspace: Workspace?

    /// Builds the model with PyTorch's default initialization (embedding N(0, 1) unless
    /// `config.embeddingInitRange`, LSTM and linear uniform ±1/√fan) from `seed`; then the
    /// graphs' parameters, if any, at random (`loadGraphs` puts the pretrained ones in). With
    /// graphs, batches may have at most `maxBatch` columns.
    public init(config: DomainClassifierConfig, seed: UInt64, maxBatch: Int = 32) {
        precondition(config.vocabularySize > 0 && config.embeddingSize > 0 && config.hiddenSize > 0 && config.classCount > 0,
                     "DomainClassifier: sizes must be positive")
        self.config = config
        let V = config.vocabularySize, E = config.embeddingSize, H = config.hiddenSize, K = config.classCount
        let store = ParameterStore()
        embeddingWeight = store.register("embedding.weight", shape: [V, E])
        func lstm(_ suffix: String) -> ParameterView {
            let first = store.register("rnn.weight_ih_l0" + suffix, shape: [4 * H, E])
            _ = store.register("rnn.weight_hh_l0" + suffix, shape: [4 * H, H])
            _ = store.register("rnn.bias_ih_l0" + suffix, shape: [4 * H])
            _ = store.register("rnn.bias_hh_l0" + suffix, shape: [4 * H])
            return first
        }
        forwardFirst = lstm("")
        backwardFirst = lstm("_reverse")
        decoderWeight = store.register("decoder.weight", shape: [K, 2 * H])
        decoderBias = store.register("decoder.bias", shape: [K])
        if let graphConfig = config.graphs {
            let transfer = GLoMoTransfer(config: graphConfig.transfer, vocabularySize: V, featureSize: 2 * H)
            transfer.register(in: store, batchSize: maxBatch, maxSteps: graphConfig.window)
            graphs = transfer
        } else {
            graphs = nil
        }
        self.maxBatch = maxBatch
        parameters = store

        var rng = RNG(seed: seed)
        let base = store.values.baseAddress!
        if let range = config.embeddingInitRange {
            for i in 0..<(V * E) { base[embeddingWeight.offset + i] = rng.uniform(-range, range) }
        } else {
            Embedding(vocabularySize: V, embeddingSize: E).initialize(weight: base + embeddingWeight.offset, rng: &rng)
        }
        let cell = LSTM(inputSize: E, hiddenSize: H, batchSize: 1, maxSteps: 1)
        cell.initialize(parameters: base + forwardFirst.offset, rng: &rng)
        cell.initialize(parameters: base + backwardFirst.offset, rng: &rng)
        Linear(inputSize: 2 * H, outputSize: K).initialize(weight: base + decoderWeight.offset,
                                                           bias: base + decoderBias.offset, rng: &rng)
        graphs?.initialize(rng: &rng)
    }

    /// The input embedding matrix `[V, E]` (a copy).
    public var embeddingMatrix: [Float] { Array(parameters.values(embeddingWeight)) }

    // MARK: Workspace

    /// Activations and their gradients for batches of exactly `batch` columns and up to `steps`
    /// steps; the two LSTMs keep their own caches.
    final class Workspace {
        let batch: Int, steps: Int
        let forwardLSTM: LSTM, backwardLSTM: LSTM
        let ids: UnsafeMutablePointer<Int32>      // [T, B]
        let mask: UnsafeMutablePointer<Float>     // [T, B]
        let labels: UnsafeMutablePointer<Int32>   // [B]
        let rowMask: UnsafeMutablePointer<Float>  // [B] 1 for a real example
        var lengths: [Int]                        // [B]
        let x: UnsafeMutablePointer<Float>        // [T, B, E] embedded (after dropout)
        let xMask: UnsafeMutablePointer<Float>    // [T, B, E] dropout mask
        let xr: UnsafeMutablePointer<Float>       // [T, B, E] reversed within lengths
        let hf: UnsafeMutablePointer<Float>       // [T, B, H]
        let hr: UnsafeMutablePointer<Float>       // [T, B, H] backward LSTM output, reversed time
        let h: UnsafeMutablePointer<Float>        // [T, B, 2H] [hf ; hb] in reading order
        let hm: UnsafeMutablePointer<Float>       // [T, B, 2H] h mixed by the graphs (with graphs)
        let pooled: UnsafeMutablePointer<Float>   // [B, 2H]
        let argmax: UnsafeMutablePointer<Int32>   // [B, 2H]
        let dropped: UnsafeMutablePointer<Float>  // [B, 2H] pooled after dropout
        let pMask: UnsafeMutablePointer<Float>    // [B, 2H]
        let logits: UnsafeMutablePointer<Float>   // [B, K]
        let lse: UnsafeMutablePointer<Float>      // [B]
        let dlogits: UnsafeMutablePointer<Float>  // [B, K]
        let dpooled: UnsafeMutablePointer<Float>  // [B, 2H]
        let dh: UnsafeMutablePointer<Float>       // [T, B, 2H]
        let dhm: UnsafeMutablePointer<Float>      // [T, B, 2H] (with graphs)
        let dhf: UnsafeMutablePointer<Float>      // [T, B, H]
        let dhr: UnsafeMutablePointer<Float>      // [T, B, H]
        let dx: UnsafeMutablePointer<Float>       // [T, B, E]
        let dxr: UnsafeMutablePointer<Float>      // [T, B, E]
        private var allocations: [UnsafeMutableRawPointer] = []

        init(config: DomainClassifierConfig, batch B: Int, steps T: Int) {
            self.batch = B; self.steps = T
            let E = config.embeddingSize, H = config.hiddenSize, K = config.classCount
            forwardLSTM = LSTM(inputSize: E, hiddenSize: H, batchSize: B, maxSteps: T)
            backwardLSTM = LSTM(inputSize: E, hiddenSize: H, batchSize: B, maxSteps: T)
            var all: [UnsafeMutableRawPointer] = []
            func f(_ n: Int) -> UnsafeMutablePointer<Float> {
                let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
                p.initialize(repeating: 0, count: n)
                all.append(UnsafeMutableRawPointer(p))
                return p
            }
            func i(_ n: Int) -> UnsafeMutablePointer<Int32> {
                let p = UnsafeMutablePointer<Int32>.allocate(capacity: n)
                p.initialize(repeating: 0, count: n)
                all.append(UnsafeMutableRawPointer(p))
                return p
            }
            ids = i(T * B); mask = f(T * B); labels = i(B); rowMask = f(B)
            lengths = [Int](repeating: 0, count: B)
            x = f(T * B * E); xMask = f(T * B * E); xr = f(T * B * E)
            let mixed = config.graphs == nil ? 1 : T * B * 2 * H
            hf = f(T * B * H); hr = f(T * B * H); h = f(T * B * 2 * H); hm = f(mixed); dhm = f(mixed)
            pooled = f(B * 2 * H); argmax = i(B * 2 * H); dropped = f(B * 2 * H); pMask = f(B * 2 * H)
            logits = f(B * K); lse = f(B); dlogits = f(B * K); dpooled = f(B * 2 * H)
            dh = f(T * B * 2 * H); dhf = f(T * B * H); dhr = f(T * B * H); dx = f(T * B * E); dxr = f(T * B * E)
            allocations = all
        }

        deinit { for p in allocations { p.deallocate() } }
    }

    /// The state of the last forward pass, for the contextual averaging and for backward.
    struct Pass {
        var steps: Int      // T of the batch
        var count: Int      // real examples
        var training: Bool
        var graphBlocks: Int  // windows the graphs were applied in (0 without graphs)
    }
    private var lastPass: Pass?

    /// A workspace for `batch` columns and at least `steps` steps (reallocated when too small).
    private func workspace(batch: Int, steps: Int) -> Workspace {
        precondition(graphs == nil || batch <= maxBatch, "DomainClassifier: \(batch) columns, the graphs were sized for \(maxBatch)")
        if let w = workspace, w.batch == batch, w.steps >= steps { return w }
        let w = Workspace(config: config, batch: batch, steps: max(steps, workspace?.steps ?? 0))
        workspace = w
        return w
    }

    /// Pre-allocates the activations for batches of `batch` columns and up to `steps` steps.
    public func reserve(batch: Int, steps: Int) { _ = workspace(batch: batch, steps: steps) }

    // MARK: Forward

    /// The outcome of one batch: summed loss, number of examples, correct predictions, the
    /// predicted class and the logits of each example.
    public struct BatchResult: Sendable {
        public var loss: Double
        public var count: Int
        public var correct: Int
        public var predictions: [Int32]
        /// `[count, K]`.
        public var logits: [Float]
    }

    /// Runs the model on `batch` (padded to `columns` ≥ `batch.count` examples, by default the
    /// batch's own count) and returns the summed loss and the predictions. With `training`,
    /// dropout masks are drawn from `rng`. Keeps what `backward` and `states` need.
    @discardableResult
    public func forward(_ batch: DocumentBatcher.Batch, columns: Int? = nil, training: Bool = false,
                        rng: inout RNG) -> BatchResult {
        let B = columns ?? batch.count, T = batch.length, n = batch.count
        precondition(B >= n && T >= 1, "DomainClassifier: batch of \(n) examples does not fit \(B) columns")
        let E = config.embeddingSize, H = config.hiddenSize, K = config.classCount, C = 2 * H
        let w = workspace(batch: B, steps: T)
        let p = UnsafePointer(parameters.values.baseAddress!)

        // Copy the batch into B columns; extra columns are empty (mask 0, padding id 0).
        w.ids.update(repeating: 0, count: T * B)
        w.mask.update(repeating: 0, count: T * B)
        w.labels.update(repeating: 0, count: B)
        w.rowMask.update(repeating: 0, count: B)
        for b in 0..<B { w.lengths[b] = 0 }
        for t in 0..<T {
            for b in 0..<n {
                w.ids[t * B + b] = batch.ids[t * n + b]
                let m = batch.mask[t * n + b]
                w.mask[t * B + b] = m
                if m != 0 { w.lengths[b] = t + 1 }
            }
        }
        for b in 0..<n { w.labels[b] = batch.labels[b]; w.rowMask[b] = 1 }

        // x = E[ids], dropout: [T, B, E]
        Embedding(vocabularySize: config.vocabularySize, embeddingSize: E)
            .forward(output: w.x, ids: w.ids, weight: p + embeddingWeight.offset, n: T * B)
        let drop = Dropout(probability: config.dropout)
        if training && config.dropout > 0 {
            drop.forward(output: w.x, mask: w.xMask, input: w.x, count: T * B * E, rng: &rng, training: true)
        }

        // Forward direction from a zero state: hf [T, B, H].
        w.forwardLSTM.resetState()
        w.forwardLSTM.forward(output: w.hf, input: w.x, parameters: p + forwardFirst.offset, steps: T)
        // Backward direction over each example reversed within its length: hr [T, B, H].
        DomainClassifier.reverse(output: w.xr, input: w.x, lengths: w.lengths, steps: T, batch: B, channels: E, accumulate: false)
        w.backwardLSTM.resetState()
        w.backwardLSTM.forward(output: w.hr, input: w.xr, parameters: p + backwardFirst.offset, steps: T)

        // h = [hf ; hb] in reading order: [T, B, 2H]; padded steps are 0.
        w.h.update(repeating: 0, count: T * B * C)
        for t in 0..<T {
            for b in 0..<B where t < w.lengths[b] {
                let row = w.h + (t * B + b) * C
                row.update(from: w.hf + (t * B + b) * H, count: H)
                (row + H).update(from: w.hr + ((w.lengths[b] - 1 - t) * B + b) * H, count: H)
            }
        }

        // Graphs: hm = GLoMo(h) over windows of at most `window` steps [T, B, 2H]; pooling reads hm.
        var pooledInput = w.h
        var blocks = 0
        if let graphs, let window = config.graphs?.window {
            for start in stride(from: 0, to: T, by: window) {
                let steps = min(window, T - start)
                graphs.resetState()
                graphs.forward(output: w.hm + start * B * C, features: w.h + start * B * C, ids: w.ids + start * B,
                               steps: steps, batch: B)
                blocks += 1
            }
            pooledInput = w.hm
        }

        // Pool over time: [B, 2H].
        switch config.pooling {
        case .mean: MeanPooling.forward(output: w.pooled, input: pooledInput, mask: w.mask, steps: T, batch: B, channels: C)
        case .max: MaxPooling.forward(output: w.pooled, argmax: w.argmax, input: pooledInput, mask: w.mask, steps: T, batch: B, channels: C)
        }
        if training && config.dropout > 0 {
            drop.forward(output: w.dropped, mask: w.pMask, input: w.pooled, count: B * C, rng: &rng, training: true)
        } else {
            w.dropped.update(from: w.pooled, count: B * C)
        }

        // Logits [B, K] and the loss of the real examples.
        Linear(inputSize: C, outputSize: K).forward(output: w.logits, input: w.dropped, weight: p + decoderWeight.offset,
                                                    bias: p + decoderBias.offset, n: B)
        let (loss, _) = SoftmaxCrossEntropy(classCount: K).forward(logSumExp: w.lse, logits: w.logits, targets: w.labels,
                                                                   mask: w.rowMask, n: B)
        var predictions = [Int32](repeating: 0, count: n)
        var correct = 0
        for b in 0..<n {
            let row = w.logits + b * K
            var best = 0
            for k in 1..<K where row[k] > row[best] { best = k }
            predictions[b] = Int32(best)
            if predictions[b] == w.labels[b] { correct += 1 }
        }
        lastPass = Pass(steps: T, count: n, training: training, graphBlocks: blocks)
        return BatchResult(loss: loss, count: n, correct: correct, predictions: predictions,
                           logits: Array(UnsafeBufferPointer(start: w.logits, count: n * K)))
    }

    /// Evaluation forward (no dropout).
    @discardableResult
    public func forward(_ batch: DocumentBatcher.Batch, columns: Int? = nil) -> BatchResult {
        var rng = RNG(seed: 0)
        return forward(batch, columns: columns, training: false, rng: &rng)
    }

    /// Calls `body(t, b, state)` for every real step of the last forward's examples, with the
    /// concatenated `[h_fwd ; h_bwd]` state (2H floats) at that step (before any graph mixing).
    public func forEachState(_ body: (_ step: Int, _ example: Int, _ state: UnsafeBufferPointer<Float>) -> Void) {
        guard let pass = lastPass, let w = workspace else { return }
        let B = w.batch, C = 2 * config.hiddenSize
        for t in 0..<pass.steps {
            for b in 0..<pass.count where t < w.lengths[b] {
                body(t, b, UnsafeBufferPointer(start: w.h + (t * B + b) * C, count: C))
            }
        }
    }

    // MARK: Backward

    /// Adds the gradient of the *mean* loss of the last forward's examples, scaled by `scale`
    /// (1 by default), into `parameters.gradients`.
    public func backward(scale: Float = 1) {
        guard let pass = lastPass, let w = workspace else { preconditionFailure("DomainClassifier: backward before forward") }
        let T = pass.steps, B = w.batch, n = pass.count
        let E = config.embeddingSize, H = config.hiddenSize, K = config.classCount, C = 2 * H
        let p = UnsafePointer(parameters.values.baseAddress!)
        let g = parameters.gradients.baseAddress!
        let dropoutActive = pass.training && config.dropout > 0

        // dlogits [B, K] for the mean over real examples.
        w.dlogits.update(repeating: 0, count: B * K)
        SoftmaxCrossEntropy(classCount: K).backward(dlogits: w.dlogits, logits: w.logits, logSumExp: w.lse, targets: w.labels,
                                                    mask: w.rowMask, n: B, scale: scale / Float(max(n, 1)))
        // Through the decoder: dpooled [B, 2H].
        w.dpooled.update(repeating: 0, count: B * C)
        Linear(inputSize: C, outputSize: K).backward(dinput: w.dpooled, dweight: g + decoderWeight.offset, dbias: g + decoderBias.offset,
                                                     doutput: w.dlogits, input: w.dropped, weight: p + decoderWeight.offset, n: B)
        if dropoutActive { for i in 0..<B * C { w.dpooled[i] *= w.pMask[i] } }

        // Through the pooling: dh [T, B, 2H] (dhm, then through the graphs' mixer, with graphs).
        precondition(pass.graphBlocks <= 1, "DomainClassifier: backward through graphs applied in \(pass.graphBlocks) windows (training examples must fit one)")
        let dpoolInput = graphs == nil ? w.dh : w.dhm
        w.dh.update(repeating: 0, count: T * B * C)
        dpoolInput.update(repeating: 0, count: T * B * C)
        switch config.pooling {
        case .mean: MeanPooling.backward(dinput: dpoolInput, doutput: w.dpooled, mask: w.mask, steps: T, batch: B, channels: C)
        case .max: MaxPooling.backward(dinput: dpoolInput, doutput: w.dpooled, argmax: w.argmax, batch: B, channels: C)
        }
        graphs?.backward(dfeatures: w.dh, doutput: w.dhm)

        // Split into dhf [T, B, H] and dhr [T, B, H] (the latter back in the reversed time of hr).
        w.dhf.update(repeating: 0, count: T * B * H)
        w.dhr.update(repeating: 0, count: T * B * H)
        for t in 0..<T {
            for b in 0..<B where t < w.lengths[b] {
                let row = w.dh + (t * B + b) * C
                (w.dhf + (t * B + b) * H).update(from: row, count: H)
                (w.dhr + ((w.lengths[b] - 1 - t) * B + b) * H).update(from: row + H, count: H)
            }
        }

        // Through both LSTMs: dx [T, B, E].
        w.dx.update(repeating: 0, count: T * B * E)
        w.dxr.update(repeating: 0, count: T * B * E)
        w.forwardLSTM.backward(dinput: w.dx, dparameters: g + forwardFirst.offset, doutput: w.dhf,
                               input: w.x, parameters: p + forwardFirst.offset)
        w.backwardLSTM.backward(dinput: w.dxr, dparameters: g + backwardFirst.offset, doutput: w.dhr,
                                input: w.xr, parameters: p + backwardFirst.offset)
        DomainClassifier.reverse(output: w.dx, input: w.dxr, lengths: w.lengths, steps: T, batch: B, channels: E, accumulate: true)
        if dropoutActive { for i in 0..<T * B * E { w.dx[i] *= w.xMask[i] } }

        // Into the embedding rows of the real steps only.
        for t in 0..<T {
            for b in 0..<B where t < w.lengths[b] {
                let id = Int(w.ids[t * B + b]), dst = g + embeddingWeight.offset + id * E, src = w.dx + (t * B + b) * E
                for j in 0..<E { dst[j] += src[j] }
            }
        }
    }

    /// Forward in training mode, then backward: adds the gradient of the batch's mean loss.
    @discardableResult
    public func forwardBackward(_ batch: DocumentBatcher.Batch, columns: Int? = nil, rng: inout RNG) -> BatchResult {
        let r = forward(batch, columns: columns, training: true, rng: &rng)
        backward()
        return r
    }

    // MARK: Helpers

    /// Reverses each example within its own length: `output[t, b] = input[len_b − 1 − t, b]` for
    /// `t < len_b` (written, or added with `accumulate`); without `accumulate`, steps at or past
    /// `len_b` are zeroed. The map is its own inverse.
    ///
    ///     lengths [3, 1]:  input a d | b · | c ·   →   output c d | b · | a ·   (columns are examples)
    static func reverse(output: UnsafeMutablePointer<Float>,  // [T, B, C]
                        input: UnsafePointer<Float>,          // [T, B, C]
                        lengths: [Int], steps T: Int, batch B: Int, channels C: Int, accumulate: Bool) {
        if !accumulate { output.update(repeating: 0, count: T * B * C) }
        for b in 0..<B {
            let len = lengths[b]
            for t in 0..<len {
                let dst = output + (t * B + b) * C, src = input + ((len - 1 - t) * B + b) * C
                if accumulate {
                    for j in 0..<C { dst[j] += src[j] }
                } else {
                    dst.update(from: src, count: C)
                }
            }
        }
    }
}
