import Corpus
import Foundation
import NN
import Support

/// How a domain classifier is trained.
public struct DomainTrainingConfig: Codable, Equatable, Sendable {
    /// `paragraph` (one example per record) or `sentence` (one per sentence).
    public var granularity: DocumentGranularity
    public var epochs: Int
    public var batchSize: Int
    /// Adam's learning rate.
    public var learningRate: Float
    /// Largest global gradient norm (0 disables clipping).
    public var clip: Float
    /// Training examples keep at most this many ids (nil: all); evaluation always reads whole examples.
    public var maxLength: Int?
    public var seed: UInt64
    /// Early stopping: stop once this many epochs in a row have not improved on the best
    /// validation accuracy (nil, or absent from a config.json: train all `epochs`).
    public var patience: Int?

    public init(granularity: DocumentGranularity = .paragraph, epochs: Int = 2, batchSize: Int = 32,
                learningRate: Float = 3e-3, clip: Float = 5, maxLength: Int? = nil, seed: UInt64 = 1, patience: Int? = nil) {
        self.patience = patience
        self.granularity = granularity
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.clip = clip
        self.maxLength = maxLength
        self.seed = seed
    }
}

/// Everything that defines a domain-classifier run: `DIR/config.json`.
public struct DomainRunConfig: Codable, Equatable, Sendable {
    /// The format of `config.json` this build writes and reads.
    public static let currentVersion = 1

    /// The format of `config.json`: `currentVersion` when written; nil in a file written before
    /// the field existed (the same format, read as version 1). A newer version is refused when
    /// the file is read (`DomainRunDirectory.check`).
    public var version: Int? = DomainRunConfig.currentVersion
    /// Always `domain-classifier` (tells this directory from an LM run).
    public var kind = "domain-classifier"
    public var model: DomainClassifierConfig
    public var training: DomainTrainingConfig
    /// Label i is `domains[i]`.
    public var domains: [String]
    public var tokenization: TokenizationOptions
    /// The corpus files as given.
    public var corpus: [String]
    public var vocabularyHash: String
    /// Words seen fewer times in the training split get the fallback row in `contextual.vec`.
    public var minOccurrences: Int
    /// The pretrained graph model of `model.graphs` (nil, or absent from a config.json: no graphs).
    public var graphModel: GraphModelSource?
    /// Examples per split (`train`, `valid`, `test`) at the run's granularity: documents, or the
    /// sentences they were cut into (nil, or absent from a config.json: not recorded).
    public var examples: [String: Int]?

    public init(model: DomainClassifierConfig, training: DomainTrainingConfig, domains: [String],
                tokenization: TokenizationOptions, corpus: [String], vocabularyHash: String, minOccurrences: Int = 1,
                graphModel: GraphModelSource? = nil) {
        self.graphModel = graphModel
        self.model = model
        self.training = training
        self.domains = domains
        self.tokenization = tokenization
        self.corpus = corpus
        self.vocabularyHash = vocabularyHash
        self.minOccurrences = minOccurrences
    }
}

/// The directory of one `lmtool pretrain-domain` run (see docs/domain-classifier.md):
///
/// | file | what |
/// | --- | --- |
/// | `config.json` | `DomainRunConfig` |
/// | `vocab.txt` | the vocabulary |
/// | `model.safetensors` | the parameters with the best validation accuracy |
/// | `last.safetensors` | the whole training state (`TrainingCheckpoint`) for `--resume` |
/// | `metrics.jsonl` | one `DomainEpochRecord` per epoch |
/// | `evaluation.json` | `DomainEvaluation` of the best model on the test split |
/// | `embeddings.vec`, `embeddings.safetensors` | the input embedding matrix |
/// | `contextual.vec`, `contextual.safetensors` | BiLSTM states averaged per word type |
/// | `summary.json` | `DomainRunSummary`, written last: its presence means "finished" |
///
/// Every file is written atomically.
///
///     let run = try DomainRunDirectory.create(at: "runs/dom", config: config, vocabulary: vocab)
///     let (same, savedConfig, savedVocab) = try DomainRunDirectory.open(at: "runs/dom")
public struct DomainRunDirectory: RunFolderOwner, Sendable {
    /// The folder and what every run kind does with it (lock, create, JSON files).
    public let folder: RunFolder

    public init(path: String) {
        folder = RunFolder(path: path)
    }

    public var evaluationPath: String { folder.file("evaluation.json") }
    public var embeddingsPath: String { folder.file("embeddings.vec") }
    public var contextualPath: String { folder.file("contextual.vec") }

    /// Every file a finished run holds, in the order they are written.
    public var allFiles: [String] {
        [configPath, vocabularyPath, modelPath, lastCheckpointPath, metricsPath, evaluationPath, embeddingsPath,
         folder.file("embeddings.safetensors"), contextualPath, folder.file("contextual.safetensors"), summaryPath]
    }

    /// What `--force` removes: `allFiles`, the last written first.
    public var ownedFiles: [String] { allFiles.reversed() }

    // MARK: JSON

    public typealias Config = DomainRunConfig
    public typealias VocabularyType = Vocabulary
    public static let kind = "pretrain-domain run"
    public static func vocabularyRecord(of config: DomainRunConfig) -> (hash: String, size: Int?) { (config.vocabularyHash, nil) }
    public static let configName = "domain-classifier run configuration"

    /// Refuses a `config.json` of another kind of run, or of a format newer than this build reads.
    public static func check(_ config: DomainRunConfig) throws {
        guard config.kind == "domain-classifier" else { throw DomainConfigError(message: "not a domain-classifier run (kind \"\(config.kind)\")") }
        if let version = config.version, !(1...DomainRunConfig.currentVersion).contains(version) {
            throw DomainConfigError(message: "version \(version) is not one this lmtool reads (1 to \(DomainRunConfig.currentVersion); a newer lmtool wrote it?)")
        }
    }

    /// The encoder of this kind's JSON files: `RunFolder.encoder()`, slashes unescaped.
    public static func configEncoder() -> JSONEncoder {
        let e = RunFolder.encoder()
        e.outputFormatting.insert(.withoutEscapingSlashes)
        return e
    }

    /// Writes `value` as pretty JSON (snake_case keys, sorted) to `path`, atomically.
    public func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        try folder.writeJSON(value, to: path, encoder: DomainRunDirectory.configEncoder())
    }

    /// Reads a JSON file written by `writeJSON`.
    public func readJSON<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        try folder.readJSON(T.self, from: path, what: "valid \(T.self) file")
    }

    /// The records of `metrics.jsonl` (empty if there is none; a torn last line is skipped).
    public func readMetrics() throws -> [DomainEpochRecord] {
        try folder.readJSONLines(from: metricsPath) {
            try RunFolder.decoder().decode(DomainEpochRecord.self, from: Data($0))
        }.records
    }

    /// Rewrites `metrics.jsonl` with `records`, one compact JSON object per line, atomically
    /// (records after a resumed checkpoint are dropped, so this kind rewrites rather than appends).
    public func writeMetrics(_ records: [DomainEpochRecord]) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        try folder.writeJSONLines(records.map { try RunFolder.jsonLine($0, encoder: e) }, to: metricsPath)
    }

    /// Loads the best model of a run (`config.json` + `model.safetensors`).
    public static func loadModel(at path: String) throws -> (model: DomainClassifier, config: DomainRunConfig, vocabulary: Vocabulary) {
        let (run, config, vocabulary) = try open(at: path)
        let model = DomainClassifier(config: config.model, seed: 0, maxBatch: config.training.batchSize)
        _ = try TrainingCheckpoint.restore(from: run.modelPath, parameters: model.parameters)
        return (model, config, vocabulary)
    }
}

/// One line of `metrics.jsonl`: the end of an epoch.
public struct DomainEpochRecord: Codable, Equatable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validLoss: Double?
    public var validAccuracy: Double?
    public var validMacroF1: Double?
    /// Whether this epoch's model became `model.safetensors`.
    public var best: Bool
    public var tokensPerSecond: Double
    public var elapsedSeconds: Double
}

/// `evaluation.json`: the best model on the test split.
public struct DomainEvaluation: Codable, Equatable, Sendable {
    public struct PerClass: Codable, Equatable, Sendable {
        public var domain: String
        public var precision: Double
        public var recall: Double
        public var f1: Double
        public var support: Int
    }
    public var split: String
    public var granularity: DocumentGranularity
    public var examples: Int
    public var loss: Double
    public var accuracy: Double
    public var macroF1: Double
    public var domains: [String]
    /// Rows: true domain, columns: predicted domain.
    public var confusion: [[Int]]
    public var perClass: [PerClass]

    public init(split: String, granularity: DocumentGranularity, loss: Double, metrics: ClassificationMetrics) {
        self.split = split
        self.granularity = granularity
        examples = metrics.total
        self.loss = loss
        accuracy = metrics.accuracy
        macroF1 = metrics.macroF1
        domains = metrics.classes
        confusion = metrics.confusion
        perClass = metrics.classes.indices.map {
            PerClass(domain: metrics.classes[$0], precision: metrics.precision($0), recall: metrics.recall($0),
                     f1: metrics.f1($0), support: metrics.support($0))
        }
    }
}

/// `summary.json`, written last: its presence means the run finished.
public struct DomainRunSummary: Codable, Equatable, Sendable {
    public var validAccuracy: Double?
    public var testAccuracy: Double
    public var testMacroF1: Double
    public var parameters: Int
    public var trainableParameters: Int
    public var seconds: Double
    public var epochs: Int
    public var bestEpoch: Int
    /// Why training ended: `"epochs"` (all of them) or `"patience"` (early stopping). Absent in
    /// summaries written before it existed.
    public var stopped: String?
    public var tokensPerSecond: Double
    /// Vocabulary words whose `contextual.vec` row is the fallback (seen fewer than `min_occurrences` times).
    public var contextualFallbackWords: Int
}

/// A domain-classifier `config.json` this build cannot use (see `DomainRunDirectory.check`).
public struct DomainConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}
