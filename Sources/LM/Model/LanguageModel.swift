import Glibc
import GLoMoGraph
import NN

/// An LSTM language model: input representation → dropout → LSTM layers (dropout after each) →
/// optional projection → linear decoder over the vocabulary → softmax cross-entropy.
///
/// This is pytorch/examples word_language_model's `RNNModel` (LSTM flavour): `encoder`
/// (`nn.Embedding`), `drop`, `rnn` (`nn.LSTM(E, H, L, dropout: p)`), `drop`, `decoder`
/// (`nn.Linear(H, V)`). All parameters live in one `ParameterStore` under PyTorch's names, in
/// this order (`in` is E for layer 0 and H above):
///
///     encoder.weight        [V, E]    (registered by the default `TrainableEmbedding`)
///     rnn.weight_ih_l{k}    [4H, in]  gate rows i, f, g, o
///     rnn.weight_hh_l{k}    [4H, H]
///     rnn.bias_ih_l{k}      [4H]
///     rnn.bias_hh_l{k}      [4H]
///     projection.weight     [E, H]    only when tied and H != E (no PyTorch counterpart)
///     decoder.weight        [V, H]    absent when tied: the decoder reads encoder.weight
///     decoder.bias          [V]
///     glomo.*                         only with GLoMo graphs (`GLoMoTransfer`, docs/glomo.md)
///
/// **Adaptive softmax** (`config.softmax` adaptive): `decoder` is PyTorch's
/// `nn.AdaptiveLogSoftmaxWithLoss(H, V, cutoffs, div_value, head_bias=False)`
/// (`NN.AdaptiveLogSoftmax`) in place of `decoder.weight` and `decoder.bias`:
///
///     decoder.head.weight      [c_0 + C, H]
///     decoder.tail.{i}.0.weight [h_i, H]          h_i = ⌊H / div^(i+1)⌋
///     decoder.tail.{i}.1.weight [c_{i+1} − c_i, h_i]
///
/// Training, `evaluate` and `targetLogProbabilities` use its loss (the head for every position,
/// a cluster only for the positions whose target is in it); `nextTokenLogProbabilities` its
/// exact log-probabilities of all V words. It cannot be tied (PyTorch's module has no tying).
///
/// **Weight tying** (`config.tieWeights`): the decoder uses the input representation's table
/// (`encoder.weight`) as its weight, and its gradient adds into that table's gradient. When
/// `hiddenSize != embeddingSize`, the top LSTM output (after dropout) first goes through a
/// learned bias-free projection `projection.weight [E, H]` to the embedding size, then to the
/// decoder. `pytorchTensorNames` lists the names PyTorch's `state_dict` expects, with
/// `decoder.weight` mapped onto `encoder.weight` when tied.
///
/// **Initialisation**: every parameter uniform in ±`initRange`, except `decoder.bias` = 0 (as
/// `RNNModel.init_weights`; PyTorch leaves the LSTM at its own default init).
///
/// **State**: the LSTM state is carried from one `forward` to the next (discourse mode,
/// truncated BPTT: gradients do not flow into the previous window); `resetState()` zeroes it
/// (sentence mode, start of an evaluation).
///
/// **Buffers**: everything is preallocated for `batchSize × maxSteps` tokens at init, except the
/// `[N, V]` logits, allocated at the first `forward` (`evaluate` never needs them); after that a
/// forward/backward pair allocates nothing. Inputs are time-major: element `t·B + b` is step t
/// of batch column b.
///
///     var rng = RNG(seed: 1)
///     let model = LanguageModel(config: Preset.small.model(vocabularySize: 10_000),
///                               batchSize: 20, maxSteps: 20, rng: &rng)
///     model.store.zeroGradients()
///     let (lossSum, count) = model.forward(inputs: x, targets: y, mask: nil, steps: 20,
///                                          training: true, rng: &rng)   // x, y: [20·20] ids
///     model.backward()                           // gradient of lossSum / count
///     model.store.clipGradientNorm(maxNorm: 0.25)
///     SGD().step(model.store, learningRate: 20)
public final class LanguageModel {
    public let config: ModelConfig
    public let batchSize: Int
    public let maxSteps: Int
    /// All parameters and their gradients.
    public let store: ParameterStore
    /// The first stage (ids → vectors).
    public let input: InputRepresentation
    /// The trainable embedding table whose gradient rows the store tracks (untied
    /// `TrainableEmbedding` only): backward notes the rows of the window's ids, so clipping and
    /// a plain SGD step skip the rows no id touched (`ParameterStore.trackGradientRows`).
    private var trackedEmbedding: ParameterView?
    /// GLoMo graphs mixed into the input vectors or the top LSTM outputs (nil = off).
    public let glomo: GLoMoTransfer?

    /// One single-layer LSTM per layer (so that dropout can sit between layers).
    public let lstms: [LSTM]
    /// The output layer: a full softmax (`Linear` decoder and `SoftmaxCrossEntropy` for
    /// training, the two fused in `LinearCrossEntropy` for `evaluate`) or an adaptive softmax
    /// whose parameters start at `parameters`.
    enum Output {
        case full(decoder: Linear, loss: SoftmaxCrossEntropy, fusedLoss: LinearCrossEntropy)
        case adaptive(AdaptiveLogSoftmax, parameters: ParameterView)
    }
    let output: Output
    let projection: Linear?
    let dropout: Dropout

    /// Views of the full softmax's decoder weight (the input's table when tied) and bias (nil
    /// with an adaptive softmax), and of the projection.
    public let decoderWeight: ParameterView?
    public let decoderBias: ParameterView?
    public let projectionWeight: ParameterView?
    /// The adaptive softmax (nil with a full softmax).
    public var adaptiveSoftmax: AdaptiveLogSoftmax? {
        if case .adaptive(let asm, _) = output { return asm }
        return nil
    }
    /// Views of `rnn.weight_ih_l{k}` (start of each layer's parameter block).
    let lstmOffsets: [Int]

    /// Steps of the last forward pass (what backward differentiates).
    public private(set) var lastSteps = 0
    /// Steps of the last `forward` or `evaluate` (what `targetLogProbabilities` covers).
    private var scoredSteps = 0
    private var lastCount: Double = 0
    private var lastHasMask = false
    private var lastTraining = false

    // Buffers (N = maxSteps · batchSize). Dropped copies alias the undropped ones when p = 0.
    private let ids: UnsafeMutablePointer<Int32>        // [N]
    private let targetIds: UnsafeMutablePointer<Int32>  // [N]
    private let weights: UnsafeMutablePointer<Float>    // [N] 0/1 target mask
    private let emb: UnsafeMutablePointer<Float>        // [N, E]
    private let embDrop: UnsafeMutablePointer<Float>    // [N, E] after dropout
    private let embSource: UnsafeMutablePointer<Float>  // [N, E] what dropout reads: emb, or GLoMo's output
    private let topSource: UnsafeMutablePointer<Float>  // [N, H] what the top dropout reads: outs[L−1], or GLoMo's output
    private let glomoGrad: UnsafeMutablePointer<Float>? // [N, E or H] gradient w.r.t. GLoMo's input
    private let embMask: UnsafeMutablePointer<Float>?   // [N, E]
    private let outs: [UnsafeMutablePointer<Float>]     // L × [N, H]
    private let outDrops: [UnsafeMutablePointer<Float>] // L × [N, H] after dropout
    private let outMasks: [UnsafeMutablePointer<Float>] // L × [N, H] (empty when p = 0)
    private let proj: UnsafeMutablePointer<Float>?      // [N, E]
    /// `[N, V]`; backward turns it into dlogits. Allocated at the first `forward` or
    /// `nextTokenLogProbabilities`: a model that only `evaluate`s never holds them.
    private var logits: UnsafeMutablePointer<Float> {
        if let logitsBuffer { return logitsBuffer }
        let buffer = arena.floats(maxSteps * batchSize * config.vocabularySize)
        logitsBuffer = buffer
        return buffer
    }
    private var logitsBuffer: UnsafeMutablePointer<Float>?
    /// `projection.weight` packed for `evaluate`'s row-independent product (allocated at the first
    /// `evaluate` of a model with a projection).
    private lazy var projectionPacked = arena.floats(PackedGEMM.packedCount(n: config.embeddingSize, k: config.hiddenSize))
    /// Whether the `[N, V]` logits are allocated (see `logits`).
    var holdsLogits: Bool { logitsBuffer != nil }
    private let logSumExp: UnsafeMutablePointer<Float>  // [N] per row, 0 where masked
    private let inverseSums: UnsafeMutablePointer<Float> // [N] 1 / Σ_j exp(logit − max) per row
    /// Whether the last forward left exp(logit − max) in `logits` (training), so that backward
    /// needs no second pass of exponentials.
    private var logitsHoldExponentials = false
    private let logProbs: UnsafeMutablePointer<Float>   // [N] log p(target), 0 where masked
    private let dEmb: UnsafeMutablePointer<Float>       // [N, E]
    private let dOuts: [UnsafeMutablePointer<Float>]    // L × [N, H]
    private let dProj: UnsafeMutablePointer<Float>?     // [N, E]
    /// Owns every buffer below.
    private let arena: BufferArena

    /// A model with the default trainable embedding, initialised uniform in ±`config.initRange`.
    public convenience init(config: ModelConfig, batchSize: Int, maxSteps: Int, rng: inout RNG) {
        self.init(config: config,
                  input: TrainableEmbedding(vocabularySize: config.vocabularySize, embeddingSize: config.embeddingSize),
                  batchSize: batchSize, maxSteps: maxSteps, rng: &rng)
    }

    /// A model reading its input vectors from `input` (whose `outputSize` must be
    /// `config.embeddingSize`). Tying requires `input.tiedWeight` (a `[V, E]` table).
    ///
    /// With `glomo`, its graphs are mixed into the input vectors or the top LSTM outputs
    /// (`glomo.site`, see `GLoMoTransfer`); its parameters are registered after the model's own.
    public init(config: ModelConfig, input: InputRepresentation, glomo: GLoMoTransfer? = nil,
                batchSize: Int, maxSteps: Int, rng: inout RNG) {
        precondition(config.vocabularySize > 0 && config.embeddingSize > 0 && config.hiddenSize > 0 && config.layers > 0,
                     "LanguageModel: sizes must be positive, got \(config)")
        precondition(batchSize > 0 && maxSteps > 0, "LanguageModel: batchSize and maxSteps must be positive")
        precondition(input.outputSize == config.embeddingSize,
                     "LanguageModel: input representation gives \(input.outputSize) values, config says \(config.embeddingSize)")
        self.config = config
        self.batchSize = batchSize
        self.maxSteps = maxSteps
        self.input = input
        self.glomo = glomo
        let V = config.vocabularySize, E = config.embeddingSize, H = config.hiddenSize, L = config.layers
        let store = ParameterStore()
        self.store = store

        input.register(in: store)
        var offsets: [Int] = []
        var lstms: [LSTM] = []
        for l in 0..<L {
            let inSize = l == 0 ? E : H
            let wih = store.register("rnn.weight_ih_l\(l)", shape: [4 * H, inSize])
            store.register("rnn.weight_hh_l\(l)", shape: [4 * H, H])
            store.register("rnn.bias_ih_l\(l)", shape: [4 * H])
            store.register("rnn.bias_hh_l\(l)", shape: [4 * H])
            offsets.append(wih.offset)
            lstms.append(LSTM(inputSize: inSize, hiddenSize: H, batchSize: batchSize, maxSteps: maxSteps))
        }
        lstmOffsets = offsets
        self.lstms = lstms
        if let softmax = config.softmax, softmax.kind == .adaptive {
            precondition(!config.tieWeights, "LanguageModel: an adaptive softmax cannot be tied")
            let asm: AdaptiveLogSoftmax
            do {
                asm = try AdaptiveLogSoftmax(inputSize: H, classCount: V, cutoffs: softmax.cutoffs, divValue: softmax.divValue)
            } catch {
                preconditionFailure("LanguageModel: \(error) (check the configuration first: RunConfig.checkSizes)")
            }
            output = .adaptive(asm, parameters: asm.register(in: store, prefix: "decoder."))
            projectionWeight = nil
            projection = nil
            decoderWeight = nil
            decoderBias = nil
        } else {
            let decoderIn: Int
            if config.tieWeights {
                guard let tied = input.tiedWeight, tied.shape == [V, E] else {
                    preconditionFailure("LanguageModel: weight tying needs an input representation with a [V, E] table")
                }
                if H != E {
                    projectionWeight = store.register("projection.weight", shape: [E, H])
                    projection = Linear(inputSize: H, outputSize: E)
                } else {
                    projectionWeight = nil
                    projection = nil
                }
                decoderWeight = tied
                decoderIn = E
            } else {
                projectionWeight = nil
                projection = nil
                decoderWeight = store.register("decoder.weight", shape: [V, H])
                decoderIn = H
            }
            decoderBias = store.register("decoder.bias", shape: [V])
            output = .full(decoder: Linear(inputSize: decoderIn, outputSize: V), loss: SoftmaxCrossEntropy(classCount: V),
                           fusedLoss: LinearCrossEntropy(inputSize: decoderIn, classCount: V))
        }
        dropout = Dropout(probability: config.dropout)
        // A tied table is written in full by the decoder: tracked only when untied.
        if !config.tieWeights, let table = input as? TrainableEmbedding, let weight = table.weight {
            store.trackGradientRows(weight, rowLength: E)
            trackedEmbedding = weight
        }
        if let glomo {
            precondition(glomo.vocabularySize == V && glomo.featureSize == (glomo.site == .embeddings ? E : H),
                         "LanguageModel: the GLoMo transfer does not fit the model's vocabulary or feature size")
            glomo.register(in: store, batchSize: batchSize, maxSteps: maxSteps)
        }

        // Buffers.
        let N = maxSteps * batchSize
        let arena = BufferArena()
        let floats = arena.floats, int32s = arena.int32s
        let drops = config.dropout > 0
        ids = int32s(N)
        targetIds = int32s(N)
        weights = floats(N)
        emb = floats(N * E)
        embSource = glomo?.site == .embeddings ? floats(N * E) : emb
        embMask = drops ? floats(N * E) : nil
        embDrop = drops ? floats(N * E) : embSource
        let outs = (0..<L).map { _ in floats(N * H) }
        self.outs = outs
        let topSource = glomo?.site == .hidden ? floats(N * H) : outs[L - 1]
        self.topSource = topSource
        outMasks = drops ? (0..<L).map { _ in floats(N * H) } : []
        outDrops = drops ? (0..<L).map { _ in floats(N * H) } : outs.indices.map { $0 == L - 1 ? topSource : outs[$0] }
        glomoGrad = glomo.map { floats(N * $0.featureSize) }
        proj = projection != nil ? floats(N * E) : nil
        logSumExp = floats(N)
        inverseSums = floats(N)
        logProbs = floats(N)
        dEmb = floats(N * E)
        dOuts = (0..<L).map { _ in floats(N * H) }
        dProj = projection != nil ? floats(N * E) : nil
        self.arena = arena

        // Initialisation: uniform ±initRange (the adaptive softmax's too), decoder bias zero.
        let r = config.initRange
        for view in store.views where view != decoderBias {
            let values = store.values(view)
            for i in 0..<values.count { values[i] = rng.uniform(-r, r) }
        }
        glomo?.initialize(rng: &rng)
    }

    /// The names PyTorch's `RNNModel.state_dict()` uses, each with the view holding its values
    /// (`decoder.weight` is the `encoder.weight` view when tied; `projection.weight`, which
    /// `RNNModel` lacks, is listed under its own name).
    public var pytorchTensorNames: [(name: String, view: ParameterView)] {
        var list = store.views.map { ($0.name, $0) }
        if config.tieWeights, let decoderWeight {
            let at = list.firstIndex { $0.0 == "decoder.bias" }!
            list.insert(("decoder.weight", decoderWeight), at: at)
        }
        return list
    }

    // MARK: State

    /// Zeroes the carried LSTM state of every layer and batch column.
    public func resetState() {
        for lstm in lstms { lstm.resetState() }
        glomo?.resetState()
    }

    // MARK: Forward

    /// Runs `steps` time steps from the carried state and returns the summed cross-entropy
    /// (natural log) over the counted targets and their number; mean loss = `lossSum / count`.
    ///
    /// `inputs`, `targets` and `mask` are time-major `[steps · batchSize]`; `mask` (0 or 1 per
    /// target, nil = all count) excludes padding. With `training`, dropout is sampled from `rng`;
    /// otherwise it is the identity and `rng` is untouched. Afterwards
    /// `targetLogProbabilities` holds log p(target) per position (0 where masked), and
    /// `backward()` differentiates this call.
    @discardableResult
    public func forward(inputs: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>,
                        mask: UnsafeBufferPointer<Float>?, steps T: Int, training: Bool,
                        rng: inout RNG) -> (lossSum: Double, count: Int) {
        let N = T * batchSize
        precondition(inputs.count == N && targets.count == N && (mask?.count ?? N) == N,
                     "LanguageModel: inputs, targets and mask must hold steps × batchSize = \(N) ids")
        let top = runNetwork(inputs: inputs.baseAddress!, steps: T, training: training, rng: &rng)
        targetIds.update(from: targets.baseAddress!, count: N)
        if let mask { weights.update(from: mask.baseAddress!, count: N) }
        lastHasMask = mask != nil
        let loss: Double, count: Double
        switch output {
        case .full(_, let softmax, _):
            let mask = lastHasMask ? UnsafePointer(weights) : nil
            if training {
                (loss, count) = softmax.forward(exponentiating: logits, inverseSums: inverseSums, logSumExp: logSumExp,
                                                logProbs: logProbs, targets: targetIds, mask: mask, n: N)
            } else {
                (loss, count) = softmax.forward(logSumExp: logSumExp, logProbs: logProbs, logits: logits,
                                                targets: targetIds, mask: mask, n: N)
            }
            logitsHoldExponentials = training
        case .adaptive(let asm, let view):
            (loss, count) = asm.forward(logProbs: logProbs, input: top, parameters: store.values.baseAddress! + view.offset,
                                        targets: targetIds, mask: lastHasMask ? UnsafePointer(weights) : nil, n: N)
        }
        scoredSteps = T
        lastCount = count
        return (loss, Int(count.rounded()))
    }

    /// Forward only, for evaluation: the same loss, count and `targetLogProbabilities` as
    /// `forward(training: false)` (equal up to rounding; bitwise with an adaptive softmax), faster
    /// and without the `[N, V]` logits: the decoder and the softmax cross-entropy run fused, block
    /// by block (`NN.LinearCrossEntropy`); an adaptive softmax runs its own loss, as in `forward`.
    /// `backward()` cannot follow this call.
    ///
    /// With `rowIndependent`, every product goes through `PackedGEMM.rowIndependentMultiplyAdd`: a
    /// batch column's scores then depend on that column alone, bitwise, whatever the batch, the
    /// window or the thread count (what scoring documents needs: `Evaluator`). Otherwise the
    /// products go through OpenBLAS, faster on tall products (training's validation; `bench lm`),
    /// whose Haswell/Zen kernels round a row by its place in their tiles.
    @discardableResult
    public func evaluate(inputs: UnsafeBufferPointer<Int32>, targets: UnsafeBufferPointer<Int32>,
                         mask: UnsafeBufferPointer<Float>?, steps T: Int, rowIndependent: Bool = false) -> (lossSum: Double, count: Int) {
        let N = T * batchSize
        precondition(inputs.count == N && targets.count == N && (mask?.count ?? N) == N,
                     "LanguageModel: inputs, targets and mask must hold steps × batchSize = \(N) ids")
        var unused = RNG(seed: 0)
        let top = runNetwork(inputs: inputs.baseAddress!, steps: T, training: false, withDecoder: false,
                             rowIndependent: rowIndependent, rng: &unused)
        let p = store.values.baseAddress!
        let loss: Double, count: Double
        switch output {
        case .full(_, _, let decoderLoss):
            (loss, count) = decoderLoss.forward(logProbs: logProbs, input: top, weight: p + decoderWeight!.offset,
                                                bias: p + decoderBias!.offset, targets: targets.baseAddress!,
                                                mask: mask?.baseAddress, n: N, rowIndependent: rowIndependent)
        case .adaptive(let asm, let view):
            (loss, count) = asm.forward(logProbs: logProbs, input: top, parameters: p + view.offset,
                                        targets: targets.baseAddress!, mask: mask?.baseAddress, n: N, rowIndependent: rowIndependent)
        }
        lastSteps = 0  // no backward through this call
        logitsHoldExponentials = false
        scoredSteps = T
        return (loss, Int(count.rounded()))
    }

    /// `evaluate` over Swift arrays.
    @discardableResult
    public func evaluate(inputs: [Int32], targets: [Int32], mask: [Float]? = nil, steps: Int,
                         rowIndependent: Bool = false) -> (lossSum: Double, count: Int) {
        borrowing(inputs, targets, mask) { x, y, m in evaluate(inputs: x, targets: y, mask: m, steps: steps, rowIndependent: rowIndependent) }
    }

    /// `forward` over Swift arrays (no copies: the arrays are borrowed).
    @discardableResult
    public func forward(inputs: [Int32], targets: [Int32], mask: [Float]? = nil, steps: Int,
                        training: Bool, rng: inout RNG) -> (lossSum: Double, count: Int) {
        borrowing(inputs, targets, mask) { x, y, m in
            forward(inputs: x, targets: y, mask: m, steps: steps, training: training, rng: &rng)
        }
    }

    /// Calls `body` with the arrays' storage (borrowed, not copied).
    private func borrowing<R>(_ inputs: [Int32], _ targets: [Int32], _ mask: [Float]?,
                              _ body: (UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Float>?) -> R) -> R {
        inputs.withUnsafeBufferPointer { x in
            targets.withUnsafeBufferPointer { y in
                guard let mask else { return body(x, y, nil) }
                return mask.withUnsafeBufferPointer { m in body(x, y, m) }
            }
        }
    }

    /// log p(target) of each position of the last `forward`, `[steps · batchSize]` time-major,
    /// natural log, 0 where masked. Valid until the next `forward` or `evaluate`.
    public var targetLogProbabilities: UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(start: logProbs, count: scoredSteps * batchSize)
    }

    /// Feeds one token per batch column (one step, no dropout) and returns the log-probabilities
    /// of the next token, `[batchSize, V]` row-major (natural log), normalized over all V words
    /// (with an adaptive softmax too). The state moves on by one step, so calling it repeatedly
    /// generates text.
    ///
    ///     model.resetState()
    ///     var logp = model.nextTokenLogProbabilities(inputs: [eosId])   // batchSize 1
    public func nextTokenLogProbabilities(inputs: [Int32]) -> [Float] {
        precondition(inputs.count == batchSize, "LanguageModel: one input id per batch column (\(batchSize))")
        var unused = RNG(seed: 0)
        let top = inputs.withUnsafeBufferPointer { runNetwork(inputs: $0.baseAddress!, steps: 1, training: false, rng: &unused) }
        let V = config.vocabularySize
        var out = [Float](repeating: 0, count: batchSize * V)
        out.withUnsafeMutableBufferPointer { o in
            switch output {
            case .full:
                SoftmaxCrossEntropy.logSoftmax(output: o.baseAddress!, logits: logits, rows: batchSize, count: V)
            case .adaptive(let asm, let view):
                asm.logProb(output: o.baseAddress!, input: top, parameters: store.values.baseAddress! + view.offset, n: batchSize)
            }
        }
        lastSteps = 0  // no backward through this call
        scoredSteps = 0
        logitsHoldExponentials = false
        return out
    }

    /// ids → logits for `T` steps; keeps what backward needs. (`Linear` starts the logits as
    /// the bias and accumulates the GEMM into them: OpenBLAS's own zeroing pass was slower.)
    /// Returns the decoder's input `[N, decoder input size]`; with `withDecoder: false`, or with an
    /// adaptive softmax, stops there (`evaluate` and the adaptive softmax compute the decoder
    /// inside their loss). With `rowIndependent` (evaluation) every product gives each batch
    /// column the same arithmetic whatever the batch (`LSTM.forward`), so a document scored as one
    /// column of several gets bitwise what it gets alone.
    @discardableResult
    private func runNetwork(inputs: UnsafePointer<Int32>, steps T: Int, training: Bool,
                            withDecoder: Bool = true, rowIndependent: Bool = false, rng: inout RNG) -> UnsafePointer<Float> {
        precondition(T > 0 && T <= maxSteps, "LanguageModel: \(T) steps, but 1...\(maxSteps) allowed")
        let N = T * batchSize, E = config.embeddingSize, H = config.hiddenSize
        lastSteps = T
        lastTraining = training
        ids.update(from: inputs, count: N)
        let p = store.values.baseAddress!
        input.forward(output: emb, ids: ids, count: N, store: store)
        if let glomo, glomo.site == .embeddings { glomo.forward(output: embSource, features: emb, ids: ids, steps: T) }
        if let embMask { dropout.forward(output: embDrop, mask: embMask, input: embSource, count: N * E, rng: &rng, training: training) }
        let topLayer = lstms.count - 1
        for l in 0..<lstms.count {
            lstms[l].forward(output: outs[l], input: l == 0 ? embDrop : outDrops[l - 1],
                             parameters: p + lstmOffsets[l], steps: T, rowIndependent: rowIndependent)
            if l == topLayer, let glomo, glomo.site == .hidden { glomo.forward(output: topSource, features: outs[l], ids: ids, steps: T) }
            if !outMasks.isEmpty {
                dropout.forward(output: outDrops[l], mask: outMasks[l], input: l == topLayer ? topSource : outs[l],
                                count: N * H, rng: &rng, training: training)
            }
        }
        var top = UnsafePointer(outDrops[lstms.count - 1])
        if let projection, let proj, let projectionWeight {
            projection.forward(output: proj, input: top, weight: p + projectionWeight.offset, bias: nil, n: N,
                               rowIndependentScratch: rowIndependent ? projectionPacked : nil)
            top = UnsafePointer(proj)
        }
        guard withDecoder, case .full(let decoder, _, _) = output else { return top }
        decoder.forward(output: logits, input: top, weight: p + decoderWeight!.offset,
                        bias: p + decoderBias!.offset, n: N)
        return top
    }

    // MARK: Backward

    /// Adds the gradient of the last forward's mean loss (`lossSum / count`) with respect to every
    /// parameter into `store.gradients`. The gradient stops at the window's initial state
    /// (truncated BPTT). Call at most once per forward: it consumes the logits.
    public func backward() {
        let T = lastSteps
        precondition(T > 0, "LanguageModel: backward without a preceding forward")
        let N = T * batchSize, E = config.embeddingSize, H = config.hiddenSize
        let L = lstms.count
        let p = store.values.baseAddress!, g = store.gradients.baseAddress!
        let scale: Float = lastCount > 0 ? Float(1 / lastCount) : 0
        let top = UnsafePointer(outDrops[L - 1])
        switch output {
        case .adaptive(let asm, let view):
            dOuts[L - 1].update(repeating: 0, count: N * H)
            asm.backward(dinput: dOuts[L - 1], dparameters: g + view.offset, input: top, parameters: p + view.offset,
                         targets: targetIds, mask: lastHasMask ? UnsafePointer(weights) : nil, n: N, scale: scale)
        case .full(let decoder, let softmax, _):
            let decoderWeight = decoderWeight!, decoderBias = decoderBias!
            // logits → dlogits in place: scale · mask · (softmax − onehot).
            softmax.backwardInPlace(logits: logits, logSumExp: logSumExp,
                                    inverseSums: logitsHoldExponentials ? UnsafePointer(inverseSums) : nil,
                                    targets: targetIds, mask: lastHasMask ? UnsafePointer(weights) : nil, n: N, scale: scale)
            // Decoder (and projection).
            if let projection, let proj, let dProj, let projectionWeight {
                dProj.update(repeating: 0, count: N * E)
                decoder.backward(dinput: dProj, dweight: g + decoderWeight.offset, dbias: g + decoderBias.offset,
                                 doutput: logits, input: proj, weight: p + decoderWeight.offset, n: N)
                dOuts[L - 1].update(repeating: 0, count: N * H)
                projection.backward(dinput: dOuts[L - 1], dweight: g + projectionWeight.offset, dbias: nil,
                                    doutput: dProj, input: top, weight: p + projectionWeight.offset, n: N)
            } else {
                dOuts[L - 1].update(repeating: 0, count: N * H)
                decoder.backward(dinput: dOuts[L - 1], dweight: g + decoderWeight.offset, dbias: g + decoderBias.offset,
                                 doutput: logits, input: top, weight: p + decoderWeight.offset, n: N)
            }
        }
        // LSTM layers, top down; dOuts[l] holds the gradient w.r.t. the dropped output of layer l.
        for l in stride(from: L - 1, through: 0, by: -1) {
            if !outMasks.isEmpty { dropout.backwardInPlace(dOuts[l], mask: outMasks[l], count: N * H) }
            var doutput = UnsafePointer(dOuts[l])
            if l == L - 1, let glomo, glomo.site == .hidden, let glomoGrad {
                glomoGrad.update(repeating: 0, count: N * H)
                glomo.backward(dfeatures: glomoGrad, doutput: doutput)
                doutput = UnsafePointer(glomoGrad)
            }
            let dinput = l == 0 ? dEmb : dOuts[l - 1]
            dinput.update(repeating: 0, count: N * (l == 0 ? E : H))
            lstms[l].backward(dinput: dinput, dparameters: g + lstmOffsets[l], doutput: doutput,
                              input: l == 0 ? embDrop : outDrops[l - 1], parameters: p + lstmOffsets[l])
        }
        if let embMask { dropout.backwardInPlace(dEmb, mask: embMask, count: N * E) }
        var dembedding = UnsafePointer(dEmb)
        if let glomo, glomo.site == .embeddings, let glomoGrad {
            glomoGrad.update(repeating: 0, count: N * E)
            glomo.backward(dfeatures: glomoGrad, doutput: dembedding)
            dembedding = UnsafePointer(glomoGrad)
        }
        input.backward(doutput: dembedding, ids: ids, count: N, store: store)
        if let trackedEmbedding { store.noteGradientRows(trackedEmbedding, ids: ids, count: N) }
        lastSteps = 0
    }
}
