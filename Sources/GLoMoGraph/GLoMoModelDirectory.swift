import Corpus
import Foundation
import NN
import Support

/// What a pretrained GLoMo graph model is: sizes, vocabulary, graph predictor, how it was trained.
///
/// Stored as `config.json` (pretty JSON, sorted keys) in a `GLoMoModelDirectory`.
///
///     let config = GLoMoModelConfig(vocabulary: vocab, graph: GraphPredictorConfig(embeddingSize: 64,
///                                   channels: 64, headSize: 16), pretraining: GLoMoPretrainingConfig())
public struct GLoMoModelConfig: Codable, Equatable, Sendable {
    /// The format tag written by this version.
    public static let currentFormat = "lmtool-glomo-1"

    /// Always `currentFormat` for files this version writes; anything else is refused on load.
    public var format: String = GLoMoModelConfig.currentFormat
    /// Rows V of `embedding.weight` (the vocabulary size).
    public var vocabularySize: Int
    /// Columns E of `embedding.weight`; equal to `graph.embeddingSize`.
    public var embeddingSize: Int
    /// `Vocabulary.contentHash` of `vocab.txt`.
    public var vocabularyHash: String
    /// The graph predictor's sizes.
    public var graph: GraphPredictorConfig
    /// How it was pretrained.
    public var pretraining: GLoMoPretrainingConfig
    /// How the corpus text was tokenized (so text for `glomo show` is tokenized the same way).
    public var tokenization: TokenizationOptions
    /// The corpus files it was pretrained on.
    public var corpus: [String]
    /// The adaptive softmax of the context-prediction decoder; nil (absent from `config.json`,
    /// as in every model written before it existed): the full softmax tied to the embedding.
    public var adaptiveSoftmax: GLoMoAdaptiveSoftmaxConfig?

    /// The decoder's output layer (`adaptiveSoftmax`, as a `GLoMoSoftmax`).
    public var softmax: GLoMoSoftmax {
        get { adaptiveSoftmax.map { .adaptive(cutoffs: $0.cutoffs, divValue: $0.divValue) } ?? .full }
        set {
            switch newValue {
            case .full: adaptiveSoftmax = nil
            case .adaptive(let cutoffs, let divValue): adaptiveSoftmax = GLoMoAdaptiveSoftmaxConfig(cutoffs: cutoffs, divValue: divValue)
            }
        }
    }

    public init(vocabulary: Vocabulary, graph: GraphPredictorConfig, pretraining: GLoMoPretrainingConfig,
                tokenization: TokenizationOptions = TokenizationOptions(), corpus: [String] = []) {
        vocabularySize = vocabulary.count
        embeddingSize = graph.embeddingSize
        vocabularyHash = vocabulary.contentHash
        self.graph = graph
        self.pretraining = pretraining
        self.tokenization = tokenization
        self.corpus = corpus
    }

    /// Throws a `GLoMoConfigError` naming the first field that is invalid or inconsistent.
    public func validate() throws {
        if format != GLoMoModelConfig.currentFormat {
            throw GLoMoConfigError(message: "format '\(format)' is not '\(GLoMoModelConfig.currentFormat)'")
        }
        if vocabularySize < 2 { throw GLoMoConfigError(message: "vocabularySize must be at least 2, got \(vocabularySize)") }
        if embeddingSize != graph.embeddingSize {
            throw GLoMoConfigError(message: "embeddingSize \(embeddingSize) differs from graph.embeddingSize \(graph.embeddingSize)")
        }
        try graph.validate()
        try pretraining.validate()
        if let a = adaptiveSoftmax {
            do { try AdaptiveLogSoftmax.validate(cutoffs: a.cutoffs, classCount: vocabularySize) } catch {
                throw GLoMoConfigError(message: "adaptiveSoftmax: \(error)")
            }
            if !(a.divValue.isFinite && a.divValue > 0) {
                throw GLoMoConfigError(message: "adaptiveSoftmax: divValue must be a positive number, got \(a.divValue)")
            }
        }
        // Sizes read back from config.json must not size an allocation beyond 2^32 floats (or
        // overflow): generous estimates of the parameters and of one pretraining batch's
        // activations, in Double so that no product overflows.
        let V = Double(vocabularySize), E = Double(embeddingSize), C = Double(graph.channels)
        let conv = Double(graph.convLayers), k = Double(graph.kernelSize), L = Double(graph.graphLayers)
        let K = Double(graph.heads), d = Double(graph.headSize)
        let T = Double(pretraining.sequenceLength), B = Double(pretraining.batchSize)
        let parameters = 2 * V * E + 2 * conv * k * C * (E + C + 3) + L * K * d * (2 * C + 1) + L * (K * E * E + 9 * E * E + 2 * E)
        let activations = B * T * (L * K * (T + d) + 4 * (conv + 1) * C + 8 * E + V)
        for (what, n) in [("parameters", parameters), ("floats of activations per pretraining batch", activations)] where n > 0x1p32 {
            throw GLoMoConfigError(message: "the sizes give about \(String(format: "%.3g", n)) \(what), more than the limit of 2^32")
        }
    }
}

/// The summary written last into a GLoMo model directory: its presence means "finished".
public struct GLoMoSummary: Codable, Equatable, Sendable {
    public var steps: Int
    public var epochs: Double
    public var tokens: Int
    public var seconds: Double
    /// Mean training loss (nats per predicted token) over the last checkpoint interval (nil after
    /// `--steps 0`: nothing was trained).
    public var trainLoss: Double?
    /// Loss of `model.safetensors` on the validation windows (nil without a valid split): the
    /// last model's, or with early stopping the best one's.
    public var validLoss: Double?
    public var parameters: Int
    /// Why training ended: `"max_steps"` (`--steps`), `"epochs"` (`--epochs`) or `"patience"`
    /// (early stopping). Absent in summaries written before it existed.
    public var stopped: String?
    /// The lowest validation loss of a checkpoint and its step (nil without a valid split).
    public var bestValidLoss: Double?
    public var bestStep: Int?

    enum CodingKeys: String, CodingKey {
        case steps, epochs, tokens, seconds, parameters, stopped
        case trainLoss = "train_loss", validLoss = "valid_loss", bestValidLoss = "best_valid_loss", bestStep = "best_step"
    }

    public init(steps: Int, epochs: Double, tokens: Int, seconds: Double, trainLoss: Double?, validLoss: Double?, parameters: Int) {
        self.steps = steps; self.epochs = epochs; self.tokens = tokens; self.seconds = seconds
        self.trainLoss = trainLoss; self.validLoss = validLoss; self.parameters = parameters
    }
}

/// One line of a GLoMo model directory's `metrics.jsonl`.
public struct GLoMoMetricsRecord: Codable, Equatable, Sendable {
    public var step: Int
    public var epoch: Int
    /// `"train"` (mean over the steps since the last record) or `"valid"`.
    public var split: String
    /// Mean cross-entropy in nats per predicted token.
    public var loss: Double
    public var tokensPerSecond: Double?
    public var elapsedSeconds: Double

    enum CodingKeys: String, CodingKey {
        case step, epoch, split, loss
        case tokensPerSecond = "tokens_per_second", elapsedSeconds = "elapsed_seconds"
    }

    public init(step: Int, epoch: Int, split: String, loss: Double, tokensPerSecond: Double?, elapsedSeconds: Double) {
        self.step = step; self.epoch = epoch; self.split = split; self.loss = loss
        self.tokensPerSecond = tokensPerSecond; self.elapsedSeconds = elapsedSeconds
    }
}

/// The on-disk form of a pretrained GLoMo graph model (layout in docs/glomo.md):
///
/// | file | what |
/// | --- | --- |
/// | `config.json` | `GLoMoModelConfig`, written at creation |
/// | `vocab.txt` | the vocabulary (`Corpus.Vocabulary` format) |
/// | `model.safetensors` | `embedding.weight [V, E]`, the graph predictor under `graph.`, the feature predictor under `features.`, the decoder under `decoder.`; metadata `vocabulary_hash`, `format` |
/// | `last.safetensors` | the whole training state for `--resume` (`NN.TrainingCheckpoint`) |
/// | `metrics.jsonl` | one `GLoMoMetricsRecord` per line |
/// | `summary.json` | `GLoMoSummary`, written last: its presence means the pretraining finished |
///
/// Every file is written atomically (metrics lines with one `write(2)` each).
///
///     let model = try GLoMoModelDirectory.load(at: "glomo", maxSteps: 70, maxBatch: 20)
///     let g = model.graphs(ids: ids, steps: 70, batch: 20)   // [L, K, B, T, T]
public struct GLoMoModelDirectory: RunFolderOwner, Sendable {
    /// The folder and what every run kind does with it (lock, create, JSON files, metrics lines).
    public let folder: RunFolder

    /// The metadata key of `model.safetensors` that records the vocabulary hash.
    public static let vocabularyHashKey = "vocabulary_hash"

    /// A handle on the directory at `path`; reads and writes nothing.
    public init(path: String) {
        folder = RunFolder(path: path)
    }

    /// The files `--force` removes.
    public var ownedFiles: [String] { [summaryPath, modelPath, lastCheckpointPath, metricsPath] }

    /// Whether the directory holds a GLoMo model (its `config.json` exists).
    public var holdsModel: Bool { folder.holdsRun }

    // MARK: - config.json

    public typealias Config = GLoMoModelConfig
    public typealias VocabularyType = Vocabulary
    public static let kind = "GLoMo model"
    public static let heldName = "a GLoMo model"
    public static func vocabularyRecord(of config: GLoMoModelConfig) -> (hash: String, size: Int?) { (config.vocabularyHash, config.vocabularySize) }
    public static let configName = "GLoMo model configuration"
    public static func check(_ config: GLoMoModelConfig) throws { try config.validate() }

    // MARK: - model.safetensors

    /// Writes the parameters of `store` (embedding, graph predictor, feature predictor, decoder)
    /// to `model.safetensors` atomically, stamped with the vocabulary hash.
    public func saveModel(_ store: ParameterStore, config: GLoMoModelConfig) throws {
        try TrainingCheckpoint.save(to: modelPath, parameters: store,
                                    metadata: [GLoMoModelDirectory.vocabularyHashKey: config.vocabularyHash,
                                               "format": GLoMoModelConfig.currentFormat])
    }

    /// Reads `model.safetensors` into `store` (every parameter of `store`, a part of the
    /// pretraining model or all of it) and checks its vocabulary hash. The file must hold exactly
    /// the pretraining model's parameters (`ContextPredictionModel`), each with its shape.
    ///
    /// - Throws: `FileError` naming `model.safetensors` when it is missing, truncated or
    ///   malformed, lacks a parameter, has a shape other than `config.json` implies, holds a
    ///   tensor that is not a parameter, or was saved
    ///   with another vocabulary. `store` is unchanged then.
    public func loadModel(into store: ParameterStore, config: GLoMoModelConfig) throws {
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw FileError(path: modelPath, message: "no model.safetensors (the pretraining has not saved a model yet)")
        }
        let file = try SafetensorsFile(contentsOf: modelPath)
        if let hash = file.metadata[GLoMoModelDirectory.vocabularyHashKey], hash != config.vocabularyHash {
            throw FileError(path: modelPath, message: "vocabulary hash mismatch: saved with \(hash), config.json says \(config.vocabularyHash)")
        }
        do {
            try store.load(from: file.tensors)
            // The file holds exactly the parameters of the pretraining model config.json
            // describes (`store` may be a part of it, e.g. embedding and graph predictor only).
            // The decoder's shapes do not depend on the sizes of a batch, so the smallest do.
            let full = ContextPredictionModel(vocabularySize: config.vocabularySize, graph: config.graph, maxSteps: 1,
                                              maxBatch: 1, predictTokens: 1, maxPositions: 1, softmax: config.softmax).store
            let expected = Set(full.views.map(\.name))
            if let extra = file.tensors.keys.sorted().first(where: { !expected.contains($0) }) {
                throw CheckpointError("unexpected tensor '\(extra)' (not a parameter of this model)")
            }
            try full.load(from: file.tensors)
        } catch let e as CheckpointError {
            throw FileError(path: modelPath, message: "does not match config.json: \(e.message)")
        }
    }

    // MARK: - Content hash

    /// SHA-256 (hex) of `config.json`'s bytes followed by `model.safetensors`'s bytes: identifies
    /// one pretrained model (stamped into the runs that use it).
    public func contentHash() throws -> String {
        var hash = SHA256()
        for file in [configPath, modelPath] {
            let data = try readData(file)
            data.withUnsafeBytes { hash.update($0) }
        }
        return hash.hexDigest()
    }

    // MARK: - metrics.jsonl and summary.json

    /// Appends `record` as one JSON line with a single `write(2)` (`RunFolder.appendJSONLine`).
    public func appendMetrics(_ record: GLoMoMetricsRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try folder.appendJSONLine(try RunFolder.jsonLine(record, encoder: encoder), to: metricsPath)
    }

    /// The records of `metrics.jsonl` (a torn last line without its newline is skipped).
    public func readMetrics() throws -> [GLoMoMetricsRecord] {
        try folder.readJSONLines(from: metricsPath) { try JSONDecoder().decode(GLoMoMetricsRecord.self, from: Data($0)) }.records
    }

    /// Writes `summary.json` atomically (do this last).
    public func writeSummary(_ summary: GLoMoSummary) throws {
        try folder.writeJSON(summary, to: summaryPath, encoder: GLoMoModelDirectory.plainEncoder())
    }

    /// Reads `summary.json`, or nil if the pretraining has not finished.
    public func readSummary() throws -> GLoMoSummary? {
        guard isFinished else { return nil }
        return try folder.readJSON(GLoMoSummary.self, from: summaryPath, what: "summary", decoder: JSONDecoder())
    }

    // MARK: - Loading for inference

    /// Opens the directory and rebuilds its graph predictor and embedding table, ready for
    /// inference on up to `maxSteps × maxBatch` tokens per call.
    ///
    /// - Throws: `FileError` naming the file at fault: a missing or invalid `config.json`, a
    ///   vocabulary that does not match it, a missing, truncated or mismatched `model.safetensors`,
    ///   or one whose embedding or graph predictor holds a NaN or infinite weight.
    public static func load(at path: String, maxSteps: Int = 256, maxBatch: Int = 1) throws -> GLoMoGraphModel {
        let (dir, config, vocabulary) = try open(at: path)
        let model = GLoMoGraphModel(directory: dir, config: config, vocabulary: vocabulary, maxSteps: maxSteps, maxBatch: maxBatch)
        try dir.loadModel(into: model.store, config: config)
        try model.store.requireFinite(file: dir.modelPath)
        model.contentHash = try dir.contentHash()
        return model
    }

    // MARK: - Helpers

    /// Pretty JSON with sorted keys, the keys as they are (types with explicit snake_case
    /// coding keys: `summary.json`).
    static func plainEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return encoder
    }

    private func readData(_ file: String) throws -> Data { try RunFolder.read(file) }
}

/// A pretrained graph predictor with its embedding table, loaded for inference.
///
/// The store holds `embedding.weight [V, E]` and the graph predictor's parameters under
/// `graph.` (the names of `model.safetensors`). `graphs(ids:steps:batch:)` embeds time-major ids
/// and returns `[L, K, B, T, T]` graphs (layout in docs/glomo.md). To run the predictor inside
/// another model (e.g. frozen in the LM's store), register a `GraphPredictor(config.graph, store:
/// other, prefix: "glomo.graph.", …)` there and call `copyParameters(into:prefix:)`.
///
///     let m = try GLoMoModelDirectory.load(at: "glomo", maxSteps: 12)
///     let ids = m.vocabulary.ids(of: "the cat sat", tokenizer: WhitespaceTokenizer())
///     let g = m.graphs(ids: ids, steps: ids.count, batch: 1)
public final class GLoMoGraphModel {
    public let directory: GLoMoModelDirectory
    public let config: GLoMoModelConfig
    public let vocabulary: Vocabulary
    /// SHA-256 of `config.json` + `model.safetensors` (see `GLoMoModelDirectory.contentHash()`).
    public internal(set) var contentHash = ""
    /// `embedding.weight` and `graph.*`.
    public let store: ParameterStore
    public let embedding: ParameterView
    public let graphPredictor: GraphPredictor
    private let embedded: UnsafeMutablePointer<Float>  // [maxSteps, maxBatch, E]

    init(directory: GLoMoModelDirectory, config: GLoMoModelConfig, vocabulary: Vocabulary, maxSteps: Int, maxBatch: Int) {
        precondition(maxSteps > 0 && maxBatch > 0, "GLoMoGraphModel: maxSteps and maxBatch must be positive")
        self.directory = directory
        self.config = config
        self.vocabulary = vocabulary
        store = ParameterStore()
        embedding = store.register("embedding.weight", shape: [config.vocabularySize, config.embeddingSize])
        graphPredictor = GraphPredictor(config.graph, store: store, prefix: "graph.", maxSteps: maxSteps, maxBatch: maxBatch)
        embedded = .allocate(capacity: maxSteps * maxBatch * config.embeddingSize)
    }

    deinit { embedded.deallocate() }

    /// Floats of `graphs(ids:steps:batch:)`'s result: `L · K · B · T · T`.
    public func graphCount(steps T: Int, batch B: Int) -> Int { graphPredictor.graphCount(steps: T, batch: B) }

    /// The graphs of time-major `ids [T, B]` (every id in `0..<V`).
    public func forward(graphs: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, steps T: Int, batch B: Int) {
        let emb = Embedding(vocabularySize: config.vocabularySize, embeddingSize: config.embeddingSize)
        emb.forward(output: embedded, ids: ids, weight: store.values.baseAddress! + embedding.offset, n: T * B)
        graphPredictor.forward(graphs: graphs, embeddings: embedded, steps: T, batch: B)
    }

    /// The graphs `[L, K, B, T, T]` of time-major `ids [T, B]`.
    public func graphs(ids: [Int32], steps T: Int, batch B: Int) -> [Float] {
        precondition(ids.count == T * B, "GLoMoGraphModel: \(ids.count) ids for \(T) × \(B)")
        var g = [Float](repeating: 0, count: graphCount(steps: T, batch: B))
        ids.withUnsafeBufferPointer { i in
            g.withUnsafeMutableBufferPointer { forward(graphs: $0.baseAddress!, ids: i.baseAddress!, steps: T, batch: B) }
        }
        return g
    }

    /// `graphs(ids:steps:batch:)`, refused when a value is NaN or infinite: the weights are
    /// finite (`GLoMoModelDirectory.load` checks them), but large enough to overflow Float in the
    /// graph predictor. The error is a `FileError` naming `model.safetensors`.
    public func finiteGraphs(ids: [Int32], steps T: Int, batch B: Int) throws -> [Float] {
        let g = graphs(ids: ids, steps: T, batch: B)
        if g.contains(where: { !$0.isFinite }) {
            throw FileError(path: directory.modelPath,
                            message: "the graphs of this text are not finite (NaN or infinite): the weights are finite but too large")
        }
        return g
    }

    /// Copies every `graph.*` parameter into `other` under `prefix` + the name after `graph.`
    /// (e.g. `graph.layer0.key.weight` → `glomo.graph.layer0.key.weight` for prefix
    /// `glomo.graph.`), and with `embeddingName` also `embedding.weight`. Throws a
    /// `GLoMoConfigError` if a parameter is missing from `other` or has another shape.
    public func copyParameters(into other: ParameterStore, prefix: String, embeddingName: String? = nil) throws {
        var pairs: [(ParameterView, ParameterView)] = []
        for v in store.views {
            let name: String
            if v.name.hasPrefix("graph.") { name = prefix + v.name.dropFirst("graph.".count) }
            else if let embeddingName, v == embedding { name = embeddingName }
            else { continue }
            guard let w = other.view(named: name) else {
                throw GLoMoConfigError(message: "GLoMo model \(directory.path): the target has no parameter '\(name)'")
            }
            guard w.shape == v.shape else {
                throw GLoMoConfigError(message: "GLoMo model \(directory.path): '\(name)' is \(w.shape) in the target, \(v.shape) in the model")
            }
            pairs.append((v, w))
        }
        for (v, w) in pairs {
            let src = store.values(v), dst = other.values(w)
            for i in 0..<src.count { dst[i] = src[i] }
        }
    }
}
