import Corpus
import Foundation
import Support

/// Everything `lmtool pretrain-glomo` is asked to do, before anything is read or written;
/// `prepare(log:note:)` reads the corpus, creates the model directory (or, with `resume`, opens
/// it and applies the settings that may change) and returns a ready `GLoMoPretrainer`.
///
///     var request = GLoMoPretrainingRequest(runPath: "glomo", corpus: ["corpus.txt"])
///     request.graph = GraphPredictorConfig(embeddingSize: 64, channels: 64, headSize: 16)
///     let trainer = try request.prepare(log: { print($0) })
///     _ = try trainer.train(log: { print($0) })
public struct GLoMoPretrainingRequest {
    public var runPath: String
    /// The corpus files (on `resume`: empty, or the model's own).
    public var corpus: [String]
    public var readOptions = ReadOptions()
    public var tokenization = TokenizationOptions()
    /// Train on this split only, without validation (nil: train, validated on valid).
    public var split: Split?
    /// A vocabulary file; otherwise one is built from the training split.
    public var vocabularyFile: String?
    public var minCount = 3
    public var maxSize: Int?
    /// A new model's graph predictor and pretraining settings.
    public var graph = GraphPredictorConfig(embeddingSize: 64, channels: 64, headSize: 16)
    public var pretraining = GLoMoPretrainingConfig()
    /// A new model's decoder output layer: `full`, `adaptive` or `adaptive:C1,C2,...`
    /// (`GLoMoSoftmax.parse`, which throws `GLoMoConfigError`, or `VocabularyError` when
    /// `adaptive` would choose cutoffs from a `vocabularyFile` not sorted by count).
    public var softmax = "full"
    /// On `resume`, the settings that may change (nil keeps the model's): `steps` or `epochs`
    /// (one replaces the other), `checkpointEvery`, `patience`.
    public var steps: Int?
    public var epochs: Int?
    public var checkpointEvery: Int?
    public var patience: Int?
    public var resume = false
    public var force = false

    public init(runPath: String, corpus: [String]) {
        self.runPath = runPath
        self.corpus = corpus
    }

    /// Reads the vocabulary and the training (and valid) tokens, creates or opens the model
    /// directory and builds the pretrainer, logging what it read and the model. `note` gets the
    /// corpus entries skipped (not regular files).
    ///
    /// - Throws: one-line errors: `FileError`, `CorpusError`, `VocabularyError`, and
    ///   `GLoMoConfigError` for a `softmax` that does not parse or fit the vocabulary.
    public func prepare(log: (String) -> Void, note: (String) -> Void = { _ in }) throws -> GLoMoPretrainer {
        let clock = ContinuousClock()
        let t0 = clock.now
        let directory: GLoMoModelDirectory, config: GLoMoModelConfig, vocabulary: Vocabulary
        if resume {
            let (dir, saved, vocab) = try GLoMoModelDirectory.open(at: runPath)
            var c = saved
            if !corpus.isEmpty && corpus != saved.corpus {
                throw FileError(path: dir.configPath, message: "--resume with other corpus files than it records (\(saved.corpus.joined(separator: " ")))")
            }
            if let steps { c.pretraining.steps = steps; c.pretraining.epochs = nil }
            if let epochs { c.pretraining.epochs = epochs; c.pretraining.steps = nil }
            if let checkpointEvery { c.pretraining.checkpointEvery = checkpointEvery }
            if let patience { c.pretraining.patience = patience }
            if c != saved { try dir.writeConfig(c) }
            directory = dir; config = c; vocabulary = vocab
        } else {
            let reader = try CorpusReader(paths: corpus, options: readOptions)
            for entry in reader.skipped { note("note: \(entry)") }
            if let vocabularyFile {
                vocabulary = try Vocabulary.load(from: vocabularyFile)
            } else {
                vocabulary = try Vocabulary.build(from: reader, split: split ?? .train, tokenization: tokenization,
                                                  minCount: minCount, maxSize: maxSize)
            }
            var c = GLoMoModelConfig(vocabulary: vocabulary, graph: graph, pretraining: pretraining, tokenization: tokenization, corpus: corpus)
            c.softmax = try GLoMoSoftmax.parse(softmax, counts: vocabulary.counts, source: vocabularyFile ?? "the vocabulary")
            config = c
            directory = try GLoMoModelDirectory.create(at: runPath, config: config, vocabulary: vocabulary, force: force)
        }
        let reader = try CorpusReader(paths: config.corpus, options: readOptions)
        let train = try EncodedCorpus(reader, vocabulary: vocabulary, tokenization: config.tokenization, split: split ?? .train)
        let valid = split == nil ? try EncodedCorpus(reader, vocabulary: vocabulary, tokenization: config.tokenization, split: .valid).ids : []
        log("vocabulary \(grouped(vocabulary.count)) words (hash \(vocabulary.contentHash)); train \(grouped(train.ids.count)) tokens, valid \(grouped(valid.count)) tokens; read in \(String(format: "%.1f", (clock.now - t0).seconds)) s")
        let trainer = try GLoMoPretrainer(directory: directory, config: config, train: train.ids, valid: valid, resume: resume)
        if let warning = trainer.resumeWarning { log(warning) }
        let g = config.graph, p = config.pretraining
        log("model: E \(g.embeddingSize), \(g.graphLayers) graph layers × \(g.heads) heads (d \(g.headSize)), \(grouped(trainer.parameterCount)) parameters; "
            + "T \(p.sequenceLength), B \(p.batchSize), D \(p.predictTokens), \(p.positionsPerSequence) positions; \(grouped(trainer.trainData.windowCount)) windows, "
            + "\(grouped(trainer.totalSteps)) steps" + (p.patience.map { " (or \($0) validations without improvement)" } ?? "")
            + "; \(config.softmax == .full ? "full softmax tied to the embedding" : "adaptive softmax \(config.softmax), untied")"
            + (resume ? ", resuming at step \(trainer.state.step)" : ""))
        if trainer.valid == nil { log("no valid split: validation loss not reported") }
        return trainer
    }
}
