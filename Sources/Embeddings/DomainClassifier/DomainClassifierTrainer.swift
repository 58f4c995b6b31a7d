import Corpus
import Foundation
import GLoMoGraph
import NN
import Support

/// How a call to `DomainClassifierTrainer.train` ended.
public enum DomainTrainingOutcome: Sendable {
    case finished(DomainRunSummary)
    /// Stopped (by `signal`, or the step limit with signal nil) before batch `batch` of epoch
    /// `epoch` (both 0-based); `last.safetensors` holds that point.
    case stopped(signal: Int32?, epoch: Int, batch: Int)
}

/// Trains a `DomainClassifier` in a `DomainRunDirectory`: Adam over shuffled batches, an
/// evaluation on the valid split after every epoch (the best accuracy is kept as
/// `model.safetensors`), `last.safetensors` after every epoch and whenever `stop` says so
/// (`SessionStop`: on SIGINT, or after its step limit), then the test evaluation and the exports. With `patience`, training stops
/// once that many epochs in a row have not improved on the best valid accuracy (the count is
/// the epochs since the best one, which the checkpoint records, so a resumed run stops where an
/// uninterrupted one would).
///
/// Resuming restores the parameters, Adam's moments, the dropout generator and the position
/// (epoch and batch: each epoch's shuffle is a function of the seed and the epoch), so an
/// interrupted and resumed run ends with the same parameters as an uninterrupted one.
///
///     let trainer = DomainClassifierTrainer(run: run, config: config, vocabulary: vocab, data: data) { print($0) }
///     switch try trainer.train(resume: false, stop: SessionStop()) {
///     case .finished(let summary): print(summary.testAccuracy)
///     case .stopped(_, let epoch, let batch): print("stopped in epoch \(epoch + 1) before batch \(batch + 1)")
///     }
public final class DomainClassifierTrainer {

    public let run: DomainRunDirectory
    public let config: DomainRunConfig
    public let vocabulary: Vocabulary
    public let data: DomainCorpus
    public let model: DomainClassifier
    let log: (String) -> Void
    let optimizer: RowSparseAdam
    var dropoutRNG: RNG

    /// A trainer for `run` (created or opened by the caller, with `config` and `vocabulary`).
    public init(run: DomainRunDirectory, config: DomainRunConfig, vocabulary: Vocabulary, data: DomainCorpus,
                log: @escaping (String) -> Void = { _ in }) {
        self.run = run
        self.config = config
        self.vocabulary = vocabulary
        self.data = data
        self.log = log
        model = DomainClassifier(config: config.model, seed: config.training.seed, maxBatch: config.training.batchSize)
        optimizer = RowSparseAdam(tableRows: config.model.vocabularySize, tableWidth: config.model.embeddingSize)
        dropoutRNG = RNG(seed: config.training.seed &+ 0x5eed)
    }

    /// Where training stands (what `last.safetensors` records in its metadata).
    struct Position {
        var epoch = 0, batch = 0
        var bestAccuracy = -1.0, bestEpoch = 0
        var lossSum = 0.0, examples = 0, correct = 0, tokens = 0
        var epochSeconds = 0.0, totalSeconds = 0.0, trainTokens = 0

        var metadata: [String: String] {
            ["epoch": String(epoch), "batch": String(batch), "best_valid_accuracy": String(bestAccuracy),
             "best_epoch": String(bestEpoch), "epoch_loss_sum": String(lossSum), "epoch_examples": String(examples),
             "epoch_correct": String(correct), "epoch_tokens": String(tokens), "epoch_seconds": String(epochSeconds),
             "train_seconds": String(totalSeconds), "train_tokens": String(trainTokens)]
        }

        init() {}

        init(metadata m: [String: String], path: String) throws {
            func int(_ k: String) throws -> Int {
                guard let v = m[k].flatMap(Int.init) else { throw FileError(path: path, message: "metadata lacks an integer \"\(k)\"") }
                return v
            }
            func double(_ k: String) throws -> Double {
                guard let v = m[k].flatMap(Double.init) else { throw FileError(path: path, message: "metadata lacks a number \"\(k)\"") }
                return v
            }
            epoch = try int("epoch"); batch = try int("batch")
            bestAccuracy = try double("best_valid_accuracy"); bestEpoch = try int("best_epoch")
            lossSum = try double("epoch_loss_sum"); examples = try int("epoch_examples"); correct = try int("epoch_correct")
            tokens = try int("epoch_tokens"); epochSeconds = try double("epoch_seconds")
            totalSeconds = try double("train_seconds"); trainTokens = try int("train_tokens")
        }
    }

    private func commonMetadata() -> [String: String] {
        ["vocabulary_hash": vocabulary.contentHash, "domains": config.domains.joined(separator: "\n"),
         "format": "lmtool-domain-classifier"]
    }

    private func saveLast(_ position: Position) throws {
        var metadata = position.metadata.merging(commonMetadata()) { a, _ in a }
        metadata[DomainClassifierTrainer.dataFingerprintKey] = dataFingerprint
        try TrainingCheckpoint.save(to: run.lastCheckpointPath, parameters: model.parameters, optimizer: optimizer,
                                    rngs: ["dropout": dropoutRNG], metadata: metadata)
    }

    /// The `last.safetensors` metadata key of the training data's fingerprint.
    static let dataFingerprintKey = "data_fingerprint"

    /// SHA-256 (hex) of the vocabulary hash and the training documents (labels and token ids, in
    /// order): `--resume` refuses a checkpoint whose recorded fingerprint differs (other, changed
    /// or reordered training data).
    public static func fingerprint(of documents: [LabeledDocument], vocabularyHash: String) -> String {
        var hash = SHA256()
        hash.update("lmtool domain training data v1\0\(vocabularyHash)\0\(documents.count)\0")
        for d in documents {
            var header = [Int64(d.label), Int64(d.sentences.count)] + d.sentences.map { Int64($0.count) }
            header.withUnsafeBytes { hash.update($0) }
            for s in d.sentences { s.withUnsafeBytes { hash.update($0) } }
        }
        return hash.hexDigest()
    }

    /// The fingerprint of this trainer's training documents.
    private lazy var dataFingerprint = DomainClassifierTrainer.fingerprint(of: data.train, vocabularyHash: vocabulary.contentHash)

    /// Whether early stopping ends training after `position.epoch` completed epochs: `patience`
    /// epochs since the best one.
    func patienceExhausted(_ position: Position) -> Bool {
        guard let patience = config.training.patience, position.epoch > 0 else { return false }
        return position.epoch - position.bestEpoch >= patience
    }

    /// Trains (continuing from `last.safetensors` if `resume`), evaluates and exports.
    public func train(resume: Bool, stop: SessionStop = SessionStop()) throws -> DomainTrainingOutcome {
        var stop = stop
        let options = config.training
        let granularity = options.granularity
        if options.patience != nil && data.valid.isEmpty {
            throw FileError(path: config.corpus.first ?? run.configPath, message: "patience needs a valid split, and the corpus has no valid documents")
        }
        if granularity == .sentence && !config.tokenization.splitSentences {
            throw FileError(path: run.configPath, message: "granularity \"sentence\" needs documents cut into sentences (tokenization.splitSentences), or every example is a whole document")
        }
        var position = Position()
        var records: [DomainEpochRecord] = []
        if resume && FileManager.default.fileExists(atPath: run.lastCheckpointPath) {
            let (rngs, metadata) = try TrainingCheckpoint.restore(from: run.lastCheckpointPath, parameters: model.parameters, optimizer: optimizer)
            if let r = rngs["dropout"] { dropoutRNG = r }
            position = try Position(metadata: metadata, path: run.lastCheckpointPath)
            if let saved = metadata[DomainClassifierTrainer.dataFingerprintKey] {
                if saved != dataFingerprint {
                    throw FileError(path: run.lastCheckpointPath, message: "--resume on different training data: the checkpoint was trained on data fingerprint \(saved.prefix(16)), the corpus now gives \(dataFingerprint.prefix(16)) (a changed, reordered or other file, or another vocabulary); start a new run instead")
                }
            } else {
                log("warning: \(run.lastCheckpointPath) predates data fingerprints: the training data cannot be checked against it (it is recorded from now on)")
            }
            let batches = epochBatcher(epoch: position.epoch).batchCount
            if position.epoch < 0 || position.batch < 0 || (position.batch > 0 && position.batch >= batches) || position.epoch > options.epochs {
                throw FileError(path: run.lastCheckpointPath, message: "resume state does not fit this run: epoch \(position.epoch + 1), batch \(position.batch + 1), but an epoch has \(batches) batches and the run \(options.epochs) epochs")
            }
            // Epoch records written after this checkpoint (a crash in between) are dropped.
            records = try run.readMetrics().filter { $0.epoch <= position.epoch }
            log("resuming from \(run.lastCheckpointPath): epoch \(position.epoch + 1), batch \(position.batch + 1)")
        } else if config.model.graphs != nil {
            try loadGraphs()
        }

        let B = options.batchSize
        if let graphs = config.model.graphs, (options.maxLength ?? Int.max) > graphs.window {
            throw FileError(path: run.configPath, message: "training examples of up to \(options.maxLength.map(String.init) ?? "any number of") tokens do not fit the graphs' window of \(graphs.window)")
        }
        let longest = data.train.map { doc -> Int in
            granularity == .paragraph ? doc.sentences.reduce(0) { $0 + $1.count } : (doc.sentences.map(\.count).max() ?? 0)
        }.max() ?? 1
        model.reserve(batch: B, steps: max(1, min(longest, options.maxLength ?? longest)))
        model.parameters.zeroGradients()
        let clock = ContinuousClock()
        let overview = epochBatcher(epoch: position.epoch)
        log("training examples: \(overview.exampleCount) (\(granularity.rawValue)s), \(overview.batchCount) batches of \(B) per epoch"
            + (options.maxLength.map { ", first \($0) tokens of each (\(overview.truncatedTokenCount) tokens cut)" } ?? ""))

        while position.epoch < options.epochs && !patienceExhausted(position) {
            let epoch = position.epoch
            let batcher = epochBatcher(epoch: epoch)
            let reportEvery = max(1, batcher.batchCount / 10)
            var start = clock.now
            var secondsBefore = position.epochSeconds
            while position.batch < batcher.batchCount {
                if let reason = stop.check() {
                    position.epochSeconds = secondsBefore + (clock.now - start).seconds
                    position.totalSeconds += (clock.now - start).seconds
                    try saveLast(position)
                    log(SessionStop.line(reason, at: "epoch \(epoch + 1), before batch \(position.batch + 1)", checkpoint: run.lastCheckpointPath))
                    return .stopped(signal: reason.signal, epoch: epoch, batch: position.batch)
                }
                let batch = batcher.batch(position.batch)
                let r = model.forwardBackward(batch, columns: B, rng: &dropoutRNG)
                optimizer.rows = touchedRows(batch)
                let norm = optimizer.clipGradientNorm(model.parameters, maxNorm: options.clip > 0 ? options.clip : .infinity)
                if norm.isFinite {
                    optimizer.step(model.parameters, learningRate: options.learningRate)
                } else {
                    log("epoch \(epoch + 1) batch \(position.batch + 1): non-finite gradient norm, update skipped")
                }
                optimizer.zeroGradients(model.parameters)
                let tokens = Int(batch.mask.reduce(0, +))
                position.lossSum += r.loss; position.examples += r.count; position.correct += r.correct
                position.tokens += tokens; position.trainTokens += tokens
                position.batch += 1
                if position.batch % reportEvery == 0 || position.batch == batcher.batchCount {
                    let seconds = secondsBefore + (clock.now - start).seconds
                    log(String(format: "epoch %d  batch %d/%d  loss %.4f  accuracy %.3f  %.0f tokens/s",
                               epoch + 1, position.batch, batcher.batchCount, position.lossSum / Double(max(position.examples, 1)),
                               Double(position.correct) / Double(max(position.examples, 1)), Double(position.tokens) / max(seconds, 1e-9)))
                }
            }
            let trainSeconds = secondsBefore + (clock.now - start).seconds
            position.totalSeconds += (clock.now - start).seconds
            secondsBefore = 0; start = clock.now

            var record = DomainEpochRecord(epoch: epoch + 1, trainLoss: position.lossSum / Double(max(position.examples, 1)),
                                           trainAccuracy: Double(position.correct) / Double(max(position.examples, 1)),
                                           best: false, tokensPerSecond: Double(position.tokens) / max(trainSeconds, 1e-9),
                                           elapsedSeconds: position.totalSeconds)
            var accuracy = 0.0
            if !data.valid.isEmpty {
                let (loss, metrics) = evaluate(data.valid)
                record.validLoss = loss; record.validAccuracy = metrics.accuracy; record.validMacroF1 = metrics.macroF1
                accuracy = metrics.accuracy
            }
            // Without a valid split every epoch replaces the previous one.
            if data.valid.isEmpty || accuracy > position.bestAccuracy {
                position.bestAccuracy = accuracy; position.bestEpoch = epoch + 1
                record.best = true
                try TrainingCheckpoint.save(to: run.modelPath, parameters: model.parameters,
                                            metadata: commonMetadata().merging(["epoch": String(epoch + 1)]) { a, _ in a })
            }
            log(String(format: "epoch %d done: train loss %.4f accuracy %.3f", epoch + 1, record.trainLoss, record.trainAccuracy)
                + (record.validAccuracy.map { String(format: " | valid loss %.4f accuracy %.3f macro-F1 %.3f", record.validLoss!, $0, record.validMacroF1!) } ?? "")
                + (record.best ? " (best, saved)" : ""))
            records.append(record)
            try run.writeMetrics(records)
            position.epoch += 1; position.batch = 0
            position.lossSum = 0; position.examples = 0; position.correct = 0; position.tokens = 0; position.epochSeconds = 0
            try saveLast(position)
            if patienceExhausted(position) {
                log("early stop: the valid accuracy has not improved for \(position.epoch - position.bestEpoch) epochs (best: epoch \(position.bestEpoch))")
            }
        }
        return .finished(try finish(position: position, records: records))
    }

    /// Puts the pretrained graph model of `config.graphModel` into the new model's graphs.
    private func loadGraphs() throws {
        guard let source = config.graphModel else {
            throw FileError(path: run.configPath, message: "the model has graphs but the run names no graph model (graph_model)")
        }
        let graphModel = try GLoMoGraphModel.loadForTransfer(at: source.path, vocabulary: vocabulary, consumer: "classifier")
        if graphModel.contentHash != source.contentHash {
            throw FileError(path: source.path, message: "the graph model changed since the run was configured (content hash \(graphModel.contentHash), config.json says \(source.contentHash))")
        }
        let found = try model.loadGraphs(graphModel, vocabulary: vocabulary)
        let g = model.graphs!.config
        log("GLoMo graphs from \(source.path) on the BiLSTM states (\(g.weighting.rawValue) mixture weights, windows of \(config.model.graphs!.window) tokens): "
            + "\(found) of \(vocabulary.count - 2) vocabulary words found in its vocabulary (the rest read as <unk>), \(g.predictor.graphLayers) layers × \(g.predictor.heads) heads")
    }

    /// The distinct ids at the real steps of `batch`, sorted: the embedding rows with a gradient.
    func touchedRows(_ batch: DocumentBatcher.Batch) -> [Int] {
        var seen = [Bool](repeating: false, count: config.model.vocabularySize)
        var rows: [Int] = []
        for (id, m) in zip(batch.ids, batch.mask) where m != 0 && !seen[Int(id)] {
            seen[Int(id)] = true
            rows.append(Int(id))
        }
        return rows.sorted()
    }

    /// The training batches of epoch `epoch` (0-based), a function of the seed and the epoch.
    ///
    /// Examples (documents or sentences, cut to `maxLength`) are shuffled, sorted by length within
    /// pools of 50 batches, cut into batches of similar lengths, and the batches shuffled: a batch
    /// is padded to its longest example, and with sentences of 3 to 100 tokens in one batch most
    /// of the work was padding (bucketing made sentence-level training ~3x faster here).
    func epochBatcher(epoch: Int) -> DocumentBatcher {
        let options = config.training, B = options.batchSize
        var examples = DomainClassifier.examples(of: data.train, granularity: options.granularity)
        var rng = RNG(seed: options.seed &+ UInt64(epoch) &* 0x9E37_79B9)
        examples.shuffle(using: &rng)
        let cap = options.maxLength ?? Int.max
        let pool = 50 * B
        var batches: [ArraySlice<LabeledDocument>] = []
        for start in stride(from: 0, to: examples.count, by: pool) {
            let sorted = examples[start..<min(start + pool, examples.count)].enumerated().sorted {
                let a = min($0.element.sentences[0].count, cap), b = min($1.element.sentences[0].count, cap)
                return a != b ? a < b : $0.offset < $1.offset
            }.map(\.element)
            for s in stride(from: 0, to: sorted.count, by: B) { batches.append(sorted[s..<min(s + B, sorted.count)]) }
        }
        batches.shuffle(using: &rng)
        return DocumentBatcher(documents: Array(batches.joined()), granularity: .paragraph, batchSize: B, maxLength: options.maxLength)
    }

    /// Evaluation reads at most this many tokens of an example (bounding the activations kept
    /// for a batch: a single 100k-token record would otherwise need gigabytes).
    public static let evaluationMaxLength = 2048

    /// The mean loss and the metrics of the model on `documents` (whole examples up to
    /// `evaluationMaxLength` tokens, no dropout).
    public func evaluate(_ documents: [LabeledDocument]) -> (loss: Double, metrics: ClassificationMetrics) {
        var metrics = ClassificationMetrics(classes: config.domains)
        let B = config.training.batchSize
        // Examples sorted by length, so that batches carry little padding (the order does not matter here).
        let examples = DomainClassifier.examples(of: documents, granularity: config.training.granularity)
            .sorted { $0.sentences[0].count < $1.sentences[0].count }
        let batcher = DocumentBatcher(documents: examples, granularity: .paragraph, batchSize: B,
                                      maxLength: DomainClassifierTrainer.evaluationMaxLength)
        var loss = 0.0
        for batch in batcher.batches {
            let r = model.forward(batch, columns: B)
            loss += r.loss
            for b in 0..<batch.count { metrics.add(truth: Int(batch.labels[b]), prediction: Int(r.predictions[b])) }
        }
        return (metrics.total == 0 ? 0 : loss / Double(metrics.total), metrics)
    }

    /// Loads the best model, evaluates it on the test split, writes the exports and the summary.
    private func finish(position: Position, records: [DomainEpochRecord]) throws -> DomainRunSummary {
        _ = try TrainingCheckpoint.restore(from: run.modelPath, parameters: model.parameters)
        let granularity = config.training.granularity
        let (loss, metrics) = evaluate(data.test)
        let evaluation = DomainEvaluation(split: "test", granularity: granularity, loss: loss, metrics: metrics)
        try run.writeJSON(evaluation, to: run.evaluationPath)
        log(String(format: "test (best model, epoch %d): %d examples, accuracy %.4f, macro-F1 %.4f, loss %.4f",
                   position.bestEpoch, metrics.total, metrics.accuracy, metrics.macroF1, loss))
        log(metrics.table())

        let clock = ContinuousClock()
        let t0 = clock.now
        let embeddings = try model.inputEmbeddings(vocabulary: vocabulary)
        try EmbeddingFile.write(embeddings, to: run.embeddingsPath, format: .word2vecText)
        try EmbeddingFile.write(embeddings, to: run.path + "/embeddings.safetensors", format: .safetensors)
        let (contextual, fallbacks) = try model.contextualVectors(documents: data.train, granularity: granularity, vocabulary: vocabulary,
                                                                  minOccurrences: config.minOccurrences, batchSize: config.training.batchSize)
        try EmbeddingFile.write(contextual, to: run.contextualPath, format: .word2vecText)
        try EmbeddingFile.write(contextual, to: run.path + "/contextual.safetensors", format: .safetensors)
        // Fallback rows (see EmbeddingFallbacks): RowSparseAdam updates exactly the input rows of
        // the ids in the training batches (examples cut to maxLength), so the others keep their
        // initial values; contextual rows of words seen too rarely got the mean row.
        var occurrences = [Int](repeating: 0, count: vocabulary.count)
        var trained = [Bool](repeating: false, count: vocabulary.count)
        for example in DomainClassifier.examples(of: data.train, granularity: granularity) {
            for id in example.sentences[0] { occurrences[Int(id)] += 1 }
            for id in example.sentences[0].prefix(config.training.maxLength ?? Int.max) { trained[Int(id)] = true }
        }
        let untrained = trained.indices.filter { !trained[$0] }
        let rare = occurrences.indices.filter { occurrences[$0] < max(config.minOccurrences, 1) }
        for path in [run.embeddingsPath, run.path + "/embeddings.safetensors"] {
            try EmbeddingFallbacks.write(rows: untrained, of: embeddings, for: path)
        }
        for path in [run.contextualPath, run.path + "/contextual.safetensors"] {
            try EmbeddingFallbacks.write(rows: rare, of: contextual, for: path)
        }
        log("wrote \(run.embeddingsPath) (\(embeddings.count) x \(embeddings.dimension)) and \(run.contextualPath) (\(contextual.count) x \(contextual.dimension), "
            + String(format: "%.1f s); ", (clock.now - t0).seconds)
            + "\(fallbacks) vocabulary words " + (config.minOccurrences <= 1 ? "never seen" : "seen fewer than \(config.minOccurrences) times")
            + " in the train split got the fallback row (the mean of the averaged rows)")
        log(EmbeddingFallbacks.summary(count: untrained.count, of: embeddings.count, words: untrained.map { vocabulary.tokens[$0] },
                                       reason: "input rows of words absent from the training examples, never trained", path: run.embeddingsPath))
        log(EmbeddingFallbacks.summary(count: rare.count, of: contextual.count, words: rare.map { vocabulary.tokens[$0] },
                                       reason: "the mean of the averaged rows", path: run.contextualPath))

        let bestRecord = records.first { $0.epoch == position.bestEpoch }
        let summary = DomainRunSummary(validAccuracy: bestRecord?.validAccuracy, testAccuracy: metrics.accuracy, testMacroF1: metrics.macroF1,
                                       parameters: model.parameters.count, trainableParameters: model.parameters.trainableCount,
                                       seconds: position.totalSeconds, epochs: position.epoch, bestEpoch: position.bestEpoch,
                                       stopped: patienceExhausted(position) ? "patience" : "epochs",
                                       tokensPerSecond: Double(position.trainTokens) / max(position.totalSeconds, 1e-9),
                                       contextualFallbackWords: fallbacks)
        try run.writeJSON(summary, to: run.summaryPath)
        return summary
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
