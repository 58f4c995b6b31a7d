import Corpus
import Foundation
import NN
import Support

/// How a domain classifier is trained.
public struct DomainTrainingOptions: Codable, Equatable, Sendable {
    /// `paragraph` (one example per record) or `sentence` (one per sentence).
    public var granularity: String
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
        self.granularity = granularity.rawValue
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.clip = clip
        self.maxLength = maxLength
        self.seed = seed
    }

    public var documentGranularity: DocumentGranularity { DocumentGranularity(rawValue: granularity) ?? .paragraph }
}

/// Everything that defines a domain-classifier run: `DIR/config.json`.
public struct DomainRunConfig: Codable, Equatable, Sendable {
    /// Always `domain-classifier` (tells this directory from an LM run).
    public var kind = "domain-classifier"
    public var model: DomainClassifierConfig
    public var training: DomainTrainingOptions
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

    public init(model: DomainClassifierConfig, training: DomainTrainingOptions, domains: [String],
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
public struct DomainRunDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    public var configPath: String { path + "/config.json" }
    public var vocabularyPath: String { path + "/vocab.txt" }
    public var modelPath: String { path + "/model.safetensors" }
    public var lastCheckpointPath: String { path + "/last.safetensors" }
    public var metricsPath: String { path + "/metrics.jsonl" }
    public var evaluationPath: String { path + "/evaluation.json" }
    public var embeddingsPath: String { path + "/embeddings.vec" }
    public var contextualPath: String { path + "/contextual.vec" }
    public var summaryPath: String { path + "/summary.json" }

    /// Every file a finished run holds, in the order they are written.
    public var allFiles: [String] {
        [configPath, vocabularyPath, modelPath, lastCheckpointPath, metricsPath, evaluationPath, embeddingsPath,
         path + "/embeddings.safetensors", contextualPath, path + "/contextual.safetensors", summaryPath]
    }

    /// Whether the directory holds a run (its `config.json` exists).
    public var holdsRun: Bool { FileManager.default.fileExists(atPath: configPath) }
    /// Whether the run finished (`summary.json` exists).
    public var isFinished: Bool { FileManager.default.fileExists(atPath: summaryPath) }

    /// Takes the run's lock for the rest of the process (`Support.OutputLock`: `.NAME.lock`
    /// beside the directory): one writer per run. `create` takes it; `--resume` takes it first.
    public func lock() throws {
        try OutputLock.acquire(path)
    }

    /// Creates the directory and writes `config.json` and `vocab.txt`. Throws if another process
    /// holds the run's lock, or if it already holds a run, unless `force` (then the old run's
    /// files are removed first).
    public static func create(at path: String, config: DomainRunConfig, vocabulary: Vocabulary, force: Bool = false) throws -> DomainRunDirectory {
        let run = DomainRunDirectory(path: path)
        try run.lock()
        if run.holdsRun || run.isFinished {
            guard force else {
                throw FileError(path: run.path, message: "already holds a run (config.json); use --force to replace it or --resume to continue it")
            }
            for file in run.allFiles.reversed() where FileManager.default.fileExists(atPath: file) {
                do { try FileManager.default.removeItem(atPath: file) } catch {
                    throw FileError(path: file, message: "cannot remove: \(error.localizedDescription)")
                }
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: run.path, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: run.path, message: "cannot create the run directory: \(error.localizedDescription)")
        }
        try vocabulary.save(to: run.vocabularyPath)
        try run.writeJSON(config, to: run.configPath)
        return run
    }

    /// Opens an existing run: reads `config.json` and `vocab.txt` and checks the vocabulary hash.
    public static func open(at path: String) throws -> (run: DomainRunDirectory, config: DomainRunConfig, vocabulary: Vocabulary) {
        let run = DomainRunDirectory(path: path)
        guard run.holdsRun else { throw FileError(path: run.path, message: "not a pretrain-domain run directory (no config.json)") }
        let config = try run.readJSON(DomainRunConfig.self, from: run.configPath)
        guard config.kind == "domain-classifier" else {
            throw FileError(path: run.configPath, message: "not a domain-classifier run (kind \"\(config.kind)\")")
        }
        let vocabulary = try Vocabulary.load(from: run.vocabularyPath)
        if vocabulary.contentHash != config.vocabularyHash {
            throw FileError(path: run.vocabularyPath, message: "vocabulary hash \(vocabulary.contentHash) differs from the \(config.vocabularyHash) in config.json")
        }
        return (run, config, vocabulary)
    }

    // MARK: JSON

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        return e
    }

    static func decoder() -> JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }

    /// Writes `value` as pretty JSON (snake_case keys, sorted) to `path`, atomically.
    public func writeJSON<T: Encodable>(_ value: T, to path: String) throws {
        let data = try DomainRunDirectory.encoder().encode(value)
        try AtomicFile.write(Array(data) + [10], to: path)
    }

    /// Reads a JSON file written by `writeJSON`.
    public func readJSON<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FileError(path: path, message: "cannot read: \(error.localizedDescription)")
        }
        do { return try DomainRunDirectory.decoder().decode(T.self, from: data) } catch {
            throw FileError(path: path, message: "not a valid \(T.self) file: \(error)")
        }
    }

    /// The records of `metrics.jsonl` (empty if there is none).
    public func readMetrics() throws -> [DomainEpochRecord] {
        guard FileManager.default.fileExists(atPath: metricsPath) else { return [] }
        let text: String
        do { text = try String(contentsOfFile: metricsPath, encoding: .utf8) } catch {
            throw FileError(path: metricsPath, message: "cannot read: \(error.localizedDescription)")
        }
        var records: [DomainEpochRecord] = []
        for (i, line) in text.split(separator: "\n").enumerated() where !line.isEmpty {
            do { records.append(try DomainRunDirectory.decoder().decode(DomainEpochRecord.self, from: Data(line.utf8))) } catch {
                throw FileError(path: "\(metricsPath):\(i + 1)", message: "not a metrics record")
            }
        }
        return records
    }

    /// Rewrites `metrics.jsonl` with `records`, one compact JSON object per line, atomically.
    public func writeMetrics(_ records: [DomainEpochRecord]) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.keyEncodingStrategy = .convertToSnakeCase
        try AtomicFile.write(to: metricsPath) { sink in
            for r in records { try sink.write(Array(try e.encode(r)) + [10]) }
        }
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
    public var granularity: String
    public var examples: Int
    public var loss: Double
    public var accuracy: Double
    public var macroF1: Double
    public var domains: [String]
    /// Rows: true domain, columns: predicted domain.
    public var confusion: [[Int]]
    public var perClass: [PerClass]

    public init(split: String, granularity: String, loss: Double, metrics: ClassificationMetrics) {
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
