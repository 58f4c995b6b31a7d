import Corpus
import Foundation
import GLoMoGraph
import Support

/// Everything `lmtool pretrain-domain` is asked to do, before anything is read or written;
/// `prepare(log:note:)` reads the corpus, creates the run directory (or, with `resume`, opens
/// it) and returns a ready `DomainClassifierTrainer`: the domain classifier's `TrainingRequest`.
///
///     var request = DomainTrainingRequest(runPath: "runs/dom", corpus: ["corpus.jsonl"])
///     request.tokenization = TokenizationOptions(tokenizer: .simple, lowercase: true)
///     if let trainer = try request.prepare(log: { print($0) }) { _ = try trainer.train(resume: request.resume) }
public struct DomainTrainingRequest {
    public var runPath: String
    /// Labelled corpus files or directories (JSONL with `domain`).
    public var corpus: [String]
    public var readOptions = ReadOptions()
    /// The tokenization of a new run (`sentence` granularity turns sentence splitting on).
    public var tokenization = TokenizationOptions()
    /// `--vocab FILE`; otherwise a vocabulary is built from the train split.
    public var vocabularyFile: String?
    public var minCount = 1
    /// Largest vocabulary (nil: no limit).
    public var maxSize: Int?
    public var granularity: DocumentGranularity = .paragraph
    public var embeddingSize = 64
    public var hiddenSize = 64
    public var pooling: ClassifierPooling = .mean
    /// The embedding starts uniform in ±initRange (nil: N(0, 1)).
    public var initRange: Float? = 0.1
    public var dropout: Float = 0
    /// Passes over the train split (nil: 5 for paragraphs, 1 for sentences); with `resume`, may extend a run.
    public var epochs: Int?
    /// Early stopping; with `resume`, may change.
    public var patience: Int?
    public var batchSize = 32
    /// Adam's learning rate (nil: 0.005 for paragraphs, 0.003 for sentences).
    public var learningRate: Float?
    public var clip: Float = 5
    /// Training examples keep their first N tokens (nil: all).
    public var maxLength: Int? = 128
    public var seed: UInt64 = 1
    public var minOccurrences = 1
    /// A pretrained GLoMo model whose graphs the classifier mixes in, and how.
    public var glomo: String?
    public var glomoWeights: GraphMixWeighting = .global
    public var resume = false
    public var force = false

    public init(runPath: String, corpus: [String]) {
        self.runPath = runPath
        self.corpus = corpus
    }

    /// Reads the vocabulary and the corpus, checks them against the run on `resume`, creates or
    /// opens the run directory and builds the trainer, logging what it read (corpus, examples,
    /// vocabulary, model). Returns nil, after a one-line note, when a resumed run has already
    /// finished and the new `epochs`/`patience` ask for nothing more. `note` gets the corpus
    /// entries skipped (not regular files).
    ///
    /// - Throws: one-line errors: `FileError`, `CorpusError`, `VocabularyError`, the GLoMo model's errors.
    public func prepare(log: @escaping (String) -> Void, note: (String) -> Void = { _ in }) throws -> DomainClassifierTrainer? {
        let clock = ContinuousClock()
        let t0 = clock.now
        // The run's configuration: saved (resume) or from the request.
        var config: DomainRunConfig
        var vocabulary: Vocabulary
        var run: DomainRunDirectory?
        if resume {
            let opened = try DomainRunDirectory.open(at: runPath)
            run = opened.folder; config = opened.config; vocabulary = opened.vocabulary
            if config.training.granularity == .sentence && !config.tokenization.splitSentences {
                throw FileError(path: opened.folder.configPath, message: "granularity \"sentence\" without sentence splitting: this run trained on whole documents (made before --granularity sentence cut documents into sentences); start it again with --force")
            }
            if let epochs { config.training.epochs = epochs }
            if let patience { config.training.patience = patience }
            let metrics = try opened.folder.readMetrics()
            if opened.folder.isFinished, let last = metrics.last {
                let bestEpoch = metrics.last(where: \.best)?.epoch ?? 0
                if last.epoch >= config.training.epochs {
                    log("\(runPath): the run already finished (\(last.epoch) epochs); nothing to do (pass a larger --epochs to continue it)")
                    return nil
                }
                if let p = config.training.patience, last.epoch - bestEpoch >= p {
                    log("\(runPath): the run already stopped early (\(last.epoch - bestEpoch) epochs without improvement, patience \(p)); nothing to do (pass a larger --patience to continue it)")
                    return nil
                }
            }
            // Continuing a finished run: it is no longer finished until the new summary is written.
            try opened.folder.folder.removeSummary()
        } else {
            var tokenization = self.tokenization
            // A sentence-level classifier needs the documents cut into sentences.
            if granularity == .sentence { tokenization.splitSentences = true }
            let reader = try CorpusReader(paths: corpus, options: readOptions)
            for entry in reader.skipped { note("note: \(entry)") }
            if let vocabularyFile {
                vocabulary = try Vocabulary.load(from: vocabularyFile)
            } else {
                vocabulary = try DomainCorpus.buildVocabulary(reader, tokenization: tokenization, minCount: minCount, maxSize: maxSize)
            }
            config = DomainRunConfig(
                model: DomainClassifierConfig(vocabularySize: vocabulary.count, embeddingSize: embeddingSize, hiddenSize: hiddenSize,
                                              classCount: 0, pooling: pooling, dropout: dropout, embeddingInitRange: initRange),
                training: DomainTrainingConfig(granularity: granularity, epochs: epochs ?? (granularity == .sentence ? 1 : 5), batchSize: batchSize,
                                                learningRate: learningRate ?? (granularity == .sentence ? 3e-3 : 5e-3),
                                                clip: clip, maxLength: maxLength, seed: seed, patience: patience),
                domains: [], tokenization: tokenization, corpus: corpus, vocabularyHash: vocabulary.contentHash,
                minOccurrences: minOccurrences)
            if let glomo {
                guard let window = maxLength, window > 0 else {
                    throw FileError(path: glomo, message: "the graphs need windows: give a maximum example length (--max-length > 0)")
                }
                let prepared = try DomainGraphConfig.prepare(path: glomo, vocabulary: vocabulary, weighting: glomoWeights, window: window)
                config.model.graphs = prepared.config
                config.graphModel = prepared.source
            }
        }

        let reader = try CorpusReader(paths: corpus, options: readOptions)
        let data = try DomainCorpus(reader, vocabulary: vocabulary, tokenization: config.tokenization)
        if let run {
            if data.domains != config.domains {
                throw FileError(path: run.configPath, message: "the run was trained on domains \(config.domains.joined(separator: ",")), the corpus has \(data.domains.joined(separator: ","))")
            }
        } else {
            config.domains = data.domains
            config.model.classCount = data.domains.count
        }
        let granularity = config.training.granularity
        var examples: [String: Int] = [:]
        for s in Split.allCases { examples[s.rawValue] = DomainClassifier.examples(of: data.documents(s), granularity: granularity).count }
        config.examples = examples
        let counts = Split.allCases.map { s in
            "\(s.rawValue) \(grouped(data.documents(s).count)) documents"
                + (granularity == .sentence ? " (\(grouped(examples[s.rawValue]!)) sentences)" : "")
                + " / \(grouped(data.tokenCounts[s] ?? 0)) tokens"
        }
        log("corpus: \(counts.joined(separator: ", ")); \(data.domains.count) domains: \(data.domains.joined(separator: ", "))")
        log("examples (\(granularity.rawValue)s): " + Split.allCases.map { "\($0.rawValue) \(grouped(examples[$0.rawValue]!))" }.joined(separator: ", "))
        log("vocabulary \(grouped(vocabulary.count)) words (hash \(vocabulary.contentHash)); \(grouped(data.outOfVocabularyCount)) tokens out of vocabulary; read in \(String(format: "%.1f", (clock.now - t0).seconds)) s")

        let directory: DomainRunDirectory
        if let run {
            directory = run
            try run.writeConfig(config)
        } else {
            directory = try DomainRunDirectory.create(at: runPath, config: config, vocabulary: vocabulary, force: force)
        }
        let trainer = DomainClassifierTrainer(run: directory, config: config, vocabulary: vocabulary, data: data, log: log)
        log("model: embedding \(config.model.vocabularySize) x \(config.model.embeddingSize), BiLSTM 2 x \(config.model.hiddenSize), \(config.model.pooling.rawValue) pooling, \(config.model.classCount) domains"
            + (config.model.graphs.map { ", GLoMo graphs (\($0.weighting.rawValue) weights, windows of \($0.window))" } ?? "")
            + "; \(grouped(trainer.model.parameters.count)) parameters, \(grouped(trainer.model.parameters.trainableCount)) trained")
        return trainer
    }
}
