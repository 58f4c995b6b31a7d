import Corpus
import NN

/// Where a consumer applies GLoMo graphs: in a `LanguageModel`, to its input vectors or its top
/// LSTM outputs; in a `DomainClassifier`, `.hidden` (its BiLSTM states before pooling).
public enum GLoMoSite: String, Codable, Sendable, CaseIterable {
    /// To the input vectors, before the first LSTM layer (and before input dropout).
    case embeddings
    /// To the top LSTM layer's outputs, before its dropout and the decoder.
    case hidden
}

/// Sizes and options of the GLoMo graphs inside a consumer model (a language model, a classifier).
public struct GLoMoTransferConfig: Codable, Equatable, Sendable {
    /// The pretrained graph predictor's sizes (from the graph model's `config.json`).
    public var predictor: GraphPredictorConfig
    /// Rows of the graph model's embedding table (its vocabulary size).
    public var graphVocabularySize: Int
    /// What the graphs mix.
    public var site: GLoMoSite
    /// Global or per-token mixture weights.
    public var weighting: GraphMixWeighting
    /// Preceding positions carried from one forward call to the next (discourse batching): the
    /// graphs of a window see up to `context` earlier tokens besides the current segment.
    public var context: Int

    public init(predictor: GraphPredictorConfig, graphVocabularySize: Int, site: GLoMoSite,
                weighting: GraphMixWeighting = .global, context: Int) {
        self.predictor = predictor
        self.graphVocabularySize = graphVocabularySize
        self.site = site
        self.weighting = weighting
        self.context = context
    }
}

/// GLoMo graphs inside a consumer model (the LSTM language model; the domain classifier): a frozen
/// pretrained graph predictor computes graphs over the current window of tokens, and a trainable
/// `GraphMixer` mixes them into the features at `site` (in the LM, the input embeddings or the top
/// LSTM outputs). The names below say "LM" for the consumer; the classifier uses it with
/// `context: 0` (no carried context) and its own vocabulary.
///
/// **Window.** Each forward call sees the current segment of T steps (`[T, B]` time-major ids and
/// features) plus the last `context` positions carried from the previous calls (their LM ids and
/// their *unmixed* features), up to `config.context`: the window is `W = c + T` positions. The
/// graphs are predicted over the whole window and the mixer writes outputs for the T current
/// positions only. The carried context is a constant (no gradient flows into the previous
/// segment, as with the LSTM state in truncated BPTT); `resetState()` empties it (sentence
/// batching, the start of an evaluation). In sentence batching every batch starts empty, so the
/// window is the sentence.
///
/// **Vocabulary.** The predictor reads the graph model's own embedding of each token: LM ids are
/// mapped to the graph model's ids by token (`glomo.vocabulary_map [V]`, stored as floats; words
/// the graph model lacks read its `<unk>`). So the graph model's embedding size is independent of
/// the LM's.
///
/// **Parameters** (registered in the LM's store, after the LM's own, so the default layout is
/// unchanged): frozen — `glomo.vocabulary_map [V]`, `glomo.embedding.weight [Vg, Eg]`,
/// `glomo.graph.*` (the `GraphPredictor`, names as in the graph model under `graph.`); trainable —
/// `glomo.mix.*` and `glomo.gate.*` (`GraphMixer`). The frozen ones are marked frozen in the
/// store (`ParameterStore.setFrozen`: optimizers, weight decay and clipping skip them) and never
/// receive a gradient either (their entries of `store.gradients` stay zero); `frozenViews` lists
/// them. They are saved in `model.safetensors`, so a run reloads without the graph model's weights.
///
///     let transfer = GLoMoTransfer(config: cfg, vocabularySize: V, featureSize: E)
///     let model = LanguageModel(config: mc, input: TrainableEmbedding(...), glomo: transfer,
///                               batchSize: 20, maxSteps: 35, rng: &rng)
///     try transfer.load(graphModel, lmVocabulary: vocab)     // pretrained values and the id map
public final class GLoMoTransfer {
    public let config: GLoMoTransferConfig
    /// The LM's vocabulary size V.
    public let vocabularySize: Int
    /// Size D of the features mixed (E for `.embeddings`, H for `.hidden`).
    public let featureSize: Int
    public var site: GLoMoSite { config.site }

    public private(set) var predictor: GraphPredictor!
    public private(set) var mixer: GraphMixer!
    public private(set) var vocabularyMap: ParameterView!
    public private(set) var embedding: ParameterView!
    /// The views that never receive a gradient (map, graph embedding, graph predictor).
    public private(set) var frozenViews: [ParameterView] = []
    /// The number of frozen parameter values (to leave out of a trainable-parameter count).
    public var frozenParameterCount: Int { frozenViews.reduce(0) { $0 + $1.count } }
    private var store: ParameterStore!
    private var batchSize = 0
    private let workspace = BufferArena()
    // Buffers (W = context + maxSteps):
    private var windowIds: UnsafeMutablePointer<Int32>!      // [W, B] graph-vocabulary ids
    private var windowFeatures: UnsafeMutablePointer<Float>! // [W, B, D]
    private var graphEmbeddings: UnsafeMutablePointer<Float>! // [W, B, Eg]
    private var graphs: UnsafeMutablePointer<Float>!         // [L, K, B, W, W]
    private var dwindow: UnsafeMutablePointer<Float>!        // [W, B, D]
    private var contextIds: UnsafeMutablePointer<Int32>!     // [C, B]
    private var contextFeatures: UnsafeMutablePointer<Float>! // [C, B, D]
    /// Positions currently carried (0 ... config.context).
    public private(set) var contextCount = 0
    private var lastSteps = 0, lastWindow = 0, lastBatch = 0

    /// A transfer for an LM of `vocabularySize` words mixing features of size `featureSize`.
    public init(config: GLoMoTransferConfig, vocabularySize: Int, featureSize: Int) {
        precondition(config.context >= 0 && config.graphVocabularySize > 0 && vocabularySize > 0 && featureSize > 0,
                     "GLoMoTransfer: sizes must be positive, got \(config)")
        self.config = config
        self.vocabularySize = vocabularySize
        self.featureSize = featureSize
    }

    /// Registers the parameters in `store` and preallocates buffers for `batchSize × maxSteps`
    /// (called once by the consumer's `init`, after the model's own parameters). Each forward
    /// then takes at most `batchSize` columns (exactly `batchSize` when `config.context` > 0).
    public func register(in store: ParameterStore, batchSize B: Int, maxSteps: Int) {
        precondition(self.store == nil, "GLoMoTransfer: registered twice")
        self.store = store
        batchSize = B
        let Vg = config.graphVocabularySize, Eg = config.predictor.embeddingSize, D = featureSize
        let C = config.context, W = C + maxSteps
        vocabularyMap = store.register("glomo.vocabulary_map", shape: [vocabularySize])
        embedding = store.register("glomo.embedding.weight", shape: [Vg, Eg])
        let before = store.views.count
        predictor = GraphPredictor(config.predictor, store: store, prefix: "glomo.graph.", maxSteps: W, maxBatch: B)
        frozenViews = [vocabularyMap, embedding] + store.views[before...]
        for view in frozenViews { store.setFrozen(view) }
        mixer = GraphMixer(GraphMixerConfig(graphLayers: config.predictor.graphLayers, heads: config.predictor.heads,
                                            featureSize: D, weighting: config.weighting),
                           store: store, prefix: "glomo.", maxWindow: W, maxBatch: B)
        let ws = workspace
        windowIds = ws.int32s(W * B)
        windowFeatures = ws.floats(W * B * D)
        graphEmbeddings = ws.floats(W * B * Eg)
        graphs = ws.floats(predictor.graphCount(steps: W, batch: B))
        dwindow = ws.floats(W * B * D)
        contextIds = ws.int32s(C * B)
        contextFeatures = ws.floats(C * B * D)
    }

    /// Initialises the registered parameters: the map to the graph model's `<unk>` (0), the graph
    /// embedding and predictor at random (`GraphPredictor.initialize`; `load` replaces them with
    /// pretrained values), the mixer as `GraphMixer.initialize`.
    public func initialize(rng: inout RNG) {
        store.values(vocabularyMap).update(repeating: 0)
        let e = store.values(embedding)
        for i in 0..<e.count { e[i] = rng.uniform(-0.1, 0.1) }
        predictor.initialize(rng: &rng)
        mixer.initialize(rng: &rng)
    }

    /// Sets the LM → graph model id map (`map[lmId]` = graph id in `0..<Vg`).
    public func setVocabularyMap(_ map: [Int32]) {
        precondition(map.count == vocabularySize && map.allSatisfy { $0 >= 0 && Int($0) < config.graphVocabularySize },
                     "GLoMoTransfer: the map needs \(vocabularySize) ids in 0..<\(config.graphVocabularySize)")
        let v = store.values(vocabularyMap)
        for i in 0..<map.count { v[i] = Float(map[i]) }
    }

    /// The LM → graph id map as stored.
    public var currentVocabularyMap: [Int32] { store.values(vocabularyMap).map { Int32($0) } }

    /// Throws unless every entry of the stored map is an integer id of the graph vocabulary
    /// (e.g. after reading `model.safetensors`).
    public func validateVocabularyMap() throws {
        let v = store.values(vocabularyMap), Vg = Float(config.graphVocabularySize)
        for i in 0..<v.count where !(v[i] >= 0 && v[i] < Vg && v[i].rounded() == v[i]) {
            throw GLoMoTransferError(message: "glomo.vocabulary_map[\(i)] = \(v[i]) is not an id of the graph model's \(config.graphVocabularySize)-word vocabulary")
        }
    }

    /// Empties the carried context.
    public func resetState() { contextCount = 0 }

    /// The carried context, for an exact mid-epoch resume: `count` positions (≤ `config.context`),
    /// their graph-vocabulary ids `[count, B]` and unmixed features `[count, B, D]`, time-major.
    /// A trainer that saves the LSTM state saves this too (and sets it back on resume).
    ///
    ///     let saved = model.glomo!.carriedContext
    ///     model.glomo!.carriedContext = saved
    public var carriedContext: (count: Int, ids: [Int32], features: [Float]) {
        get {
            let c = contextCount, B = batchSize, D = featureSize
            return (c, Array(UnsafeBufferPointer(start: contextIds, count: c * B)),
                    Array(UnsafeBufferPointer(start: contextFeatures, count: c * B * D)))
        }
        set {
            let (c, B, D) = (newValue.count, batchSize, featureSize)
            precondition(c >= 0 && c <= config.context && newValue.ids.count == c * B && newValue.features.count == c * B * D
                         && newValue.ids.allSatisfy { $0 >= 0 && Int($0) < config.graphVocabularySize },
                         "GLoMoTransfer: carried context of \(c) positions does not fit")
            contextIds.update(from: newValue.ids, count: c * B)
            contextFeatures.update(from: newValue.features, count: c * B * D)
            contextCount = c
        }
    }

    /// Mixes the graphs of the window into `features` (the current T steps of `batch` columns,
    /// by default the registered `batchSize`) and writes `output`; then carries the window's
    /// last `config.context` positions.
    public func forward(
        output: UnsafeMutablePointer<Float>,  // [T, B, D]
        features: UnsafePointer<Float>,       // [T, B, D]
        ids: UnsafePointer<Int32>,            // [T, B] LM ids
        steps T: Int,
        batch: Int? = nil
    ) {
        let B = batch ?? batchSize, D = featureSize, Eg = config.predictor.embeddingSize, Vg = config.graphVocabularySize
        let c = contextCount, W = c + T
        precondition(B > 0 && B <= batchSize && (config.context == 0 || B == batchSize),
                     "GLoMoTransfer: \(B) columns do not fit the registered batch of \(batchSize) (exactly that when context is carried)")
        let p = store.values.baseAddress!, map = p + vocabularyMap.offset, table = p + embedding.offset
        // Window: carried context, then the current segment.
        windowIds.update(from: contextIds, count: c * B)
        windowFeatures.update(from: contextFeatures, count: c * B * D)
        for k in 0..<(T * B) {
            let id = Int(ids[k])
            precondition(id >= 0 && id < vocabularySize, "GLoMoTransfer: id \(id) outside 0..<\(vocabularySize)")
            windowIds[c * B + k] = Int32(map[id])
        }
        (windowFeatures + c * B * D).update(from: features, count: T * B * D)
        // Graph embeddings [W, B, Eg] → graphs [L, K, B, W, W] (frozen: no backward).
        for k in 0..<(W * B) {
            let g = Int(windowIds[k])
            precondition(g >= 0 && g < Vg, "GLoMoTransfer: graph id \(g) outside 0..<\(Vg)")
            (graphEmbeddings + k * Eg).update(from: table + g * Eg, count: Eg)
        }
        predictor.forward(graphs: graphs, embeddings: graphEmbeddings, steps: W, batch: B)
        mixer.forward(output: output, features: windowFeatures, graphs: graphs, window: W, context: c, batch: B)
        // Carry the last positions of the window.
        let keep = min(config.context, W)
        contextIds.update(from: windowIds + (W - keep) * B, count: keep * B)
        contextFeatures.update(from: windowFeatures + (W - keep) * B * D, count: keep * B * D)
        contextCount = keep
        lastSteps = T
        lastWindow = W
        lastBatch = B
    }

    /// Adds the gradients of the mixer's parameters (into the store) and of the current
    /// features (into `dfeatures`), given the gradient of the last forward's output.
    public func backward(
        dfeatures: UnsafeMutablePointer<Float>,  // [T, B, D] adds
        doutput: UnsafePointer<Float>            // [T, B, D]
    ) {
        let T = lastSteps, B = lastBatch, D = featureSize
        precondition(T > 0, "GLoMoTransfer: backward without a preceding forward")
        let W = lastWindow
        dwindow.update(repeating: 0, count: W * B * D)
        mixer.backward(dfeatures: dwindow, dgraphs: nil, doutput: doutput)
        let current = dwindow + (W - T) * B * D
        for k in 0..<(T * B * D) { dfeatures[k] += current[k] }
        lastSteps = 0
    }
}

/// A GLoMo model that does not fit, or a stored map that is not a map; one line.
public struct GLoMoTransferError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
    public init(message: String) { self.message = message }
}

extension GLoMoTransfer {
    /// Copies a pretrained graph model's embedding table and graph predictor into the frozen
    /// parameters and maps `lmVocabulary` onto the graph model's vocabulary by token; returns how
    /// many LM words (other than `<unk>` and `<eos>`) the graph model knows.
    ///
    /// - Throws: `GLoMoTransferError` when the graph model's sizes differ from `config` (the
    ///   transfer was built for another model).
    @discardableResult
    public func load(_ graphModel: GLoMoGraphModel, lmVocabulary: Vocabulary) throws -> Int {
        guard graphModel.config.graph == config.predictor, graphModel.config.vocabularySize == config.graphVocabularySize else {
            throw GLoMoTransferError(message: "GLoMo model \(graphModel.directory.path): its sizes differ from the ones this model was built for")
        }
        guard lmVocabulary.count == vocabularySize else {
            throw GLoMoTransferError(message: "GLoMo: the LM vocabulary has \(lmVocabulary.count) words, the model \(vocabularySize)")
        }
        do {
            try graphModel.copyParameters(into: store, prefix: "glomo.graph.", embeddingName: "glomo.embedding.weight")
        } catch {
            throw GLoMoTransferError(message: "\(error)")
        }
        let (map, found) = GLoMoTransfer.vocabularyMap(from: lmVocabulary, to: graphModel.vocabulary)
        setVocabularyMap(map)
        return found
    }

    /// The id in `graph` of every token of `lm` (`<unk>` = 0 where `graph` lacks it), and the
    /// number of words found (`<unk>` and `<eos>` not counted).
    public static func vocabularyMap(from lm: Vocabulary, to graph: Vocabulary) -> (map: [Int32], found: Int) {
        var map = [Int32](repeating: Vocabulary.unknownID, count: lm.count)
        var found = 0
        for i in 0..<lm.count {
            let token = lm.token(Int32(i))
            let g = graph.id(token)
            map[i] = g
            if i != Int(Vocabulary.unknownID) && i != Int(Vocabulary.endOfSentenceID) && graph.contains(token) { found += 1 }
        }
        return (map, found)
    }
}

extension GLoMoTransfer {
    /// The carried context as checkpoint tensors (for a trainer's `last.safetensors`, next to the
    /// LSTM state): `<prefix>count` I64 `[]`, `<prefix>ids` I32 `[C, B]` and `<prefix>features`
    /// F32 `[C, B, D]`, C = `config.context` (rows past `count` are zero).
    ///
    ///     for (k, v) in model.glomo?.checkpointTensors() ?? [:] { file.tensors[k] = v }
    ///     try model.glomo?.restoreCheckpoint(from: file.tensors)
    public func checkpointTensors(prefix: String = "state.glomo_") -> [String: SafeTensor] {
        let (c, ids, features) = carriedContext
        let C = config.context, B = batchSize, D = featureSize
        return [prefix + "count": SafeTensor([Int64(c)], shape: []),
                prefix + "ids": SafeTensor(ids + [Int32](repeating: 0, count: (C - c) * B), shape: [C, B]),
                prefix + "features": SafeTensor(features + [Float](repeating: 0, count: (C - c) * B * D), shape: [C, B, D])]
    }

    /// Restores the carried context from `checkpointTensors`' tensors.
    ///
    /// - Throws: `GLoMoTransferError` (one line) when a tensor is missing or does not fit.
    public func restoreCheckpoint(from tensors: [String: SafeTensor], prefix: String = "state.glomo_") throws {
        let C = config.context, B = batchSize, D = featureSize
        func tensor(_ name: String, _ dtype: DType, _ shape: [Int]) throws -> SafeTensor {
            guard let t = tensors[prefix + name], t.dtype == dtype, t.shape == shape else {
                throw GLoMoTransferError(message: "no \(dtype.rawValue) tensor '\(prefix + name)' of shape \(shape) (the carried GLoMo context)")
            }
            return t
        }
        do {
            let count = Int(try tensor("count", .i64, []).values(as: Int64.self)[0])
            let ids = try tensor("ids", .i32, [C, B]).values(as: Int32.self)
            let features = try tensor("features", .f32, [C, B, D]).values(as: Float.self)
            guard count >= 0 && count <= C, ids.allSatisfy({ $0 >= 0 && Int($0) < config.graphVocabularySize }) else {
                throw GLoMoTransferError(message: "'\(prefix)count' or '\(prefix)ids' out of range (the carried GLoMo context)")
            }
            carriedContext = (count, Array(ids[0..<(count * B)]), Array(features[0..<(count * B * D)]))
        } catch let e as SafeTensorTypeError {
            throw GLoMoTransferError(message: e.description)
        }
    }
}

extension GLoMoGraphModel {
    /// The graph model in `path` for a consumer (an LM, a classifier) over `vocabulary`:
    /// `GLoMoModelDirectory.load` with small buffers (a consumer needs only its parameters and its
    /// vocabulary: config.json, vocab.txt and model.safetensors checked, one-line errors naming the
    /// file), refused when none of the consumer's words besides `<unk>` and `<eos>` is in its
    /// vocabulary (another tokenization, usually).
    ///
    ///     let graphModel = try GLoMoGraphModel.loadForTransfer(at: "glomo", vocabulary: vocab, consumer: "LM")
    public static func loadForTransfer(at path: String, vocabulary: Vocabulary, consumer: String) throws -> GLoMoGraphModel {
        let graphModel = try GLoMoModelDirectory.load(at: path, maxSteps: 1, maxBatch: 1)
        let (_, found) = GLoMoTransfer.vocabularyMap(from: vocabulary, to: graphModel.vocabulary)
        if found == 0 {
            throw GLoMoTransferError(message: "\(graphModel.directory.vocabularyPath): none of the \(consumer)'s \(vocabulary.count - 2) words (besides <unk> and <eos>) is in the graph model's vocabulary (another tokenization?)")
        }
        return graphModel
    }
}
