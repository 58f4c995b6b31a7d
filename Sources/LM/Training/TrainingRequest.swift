import Corpus
import Foundation
import NN
import Support

/// Settings given explicitly (on the command line); nil keeps the preset's value, or on
/// `--resume` the run's.
public struct ConfigOverrides: Sendable, Equatable {
    public var embeddingSize: Int?
    public var hiddenSize: Int?
    public var layers: Int?
    public var dropout: Float?
    public var tieWeights: Bool?
    public var initRange: Float?
    public var batching: TrainingConfig.Batching?
    public var bptt: Int?
    public var batchSize: Int?
    public var optimizer: TrainingConfig.OptimizerKind?
    public var learningRate: Float?
    public var momentum: Float?
    public var weightDecay: Float?
    public var clip: Float?
    public var schedule: TrainingConfig.Schedule?
    public var epochs: Int?
    public var patience: Int?
    public var seed: UInt64?
    /// `--time-limit`, in seconds.
    public var timeLimitSeconds: Double?
    /// `--softmax`: resolved against the vocabulary (`SoftmaxChoice.resolve`), not by `apply`.
    public var softmax: SoftmaxChoice?

    public init() {}

    /// Sets every given field in `model` and `training`.
    public func apply(model: inout ModelConfig, training: inout TrainingConfig) {
        if let embeddingSize { model.embeddingSize = embeddingSize }
        if let hiddenSize { model.hiddenSize = hiddenSize }
        if let layers { model.layers = layers }
        if let dropout { model.dropout = dropout }
        if let tieWeights { model.tieWeights = tieWeights }
        if let initRange { model.initRange = initRange }
        if let batching { training.batching = batching }
        if let bptt { training.bptt = bptt }
        if let batchSize { training.batchSize = batchSize }
        if let optimizer { training.optimizer = optimizer }
        if let learningRate { training.learningRate = learningRate }
        if let momentum { training.momentum = momentum }
        if let weightDecay { training.weightDecay = weightDecay }
        if let clip { training.clip = clip }
        if let schedule { training.schedule = schedule }
        if let epochs { training.epochs = epochs }
        if let patience { training.patience = patience }
        if let seed { training.seed = seed }
        if let timeLimitSeconds { training.timeLimitSeconds = timeLimitSeconds }
    }
}

/// Everything `lmtool train` is asked to do, before anything is read or written; `prepare()`
/// turns it into a ready `Trainer`.
///
///     var request = TrainingRequest(runPath: "runs/tiny")
///     request.data = CorpusSelection(train: ["train.txt"], valid: ["valid.txt"], test: ["test.txt"])
///     request.preset = .tiny
///     let trainer = try request.prepare(log: { print($0) })
///     let outcome = try trainer.train()
public struct TrainingRequest: Sendable {
    public var runPath: String
    /// The data; nil on `--resume` means the run's own (from its `config.json`).
    public var data: CorpusSelection?
    /// On `--resume`: the reading flags given (`--format`, `--replace-invalid`,
    /// `--max-line-bytes`). Each one left out is taken from `config.json` (from the defaults for
    /// runs that predate the record), with or without `data`; one that differs from the
    /// recorded value is refused like any other change ...
    public var resumeReading = ReadingFlags()
    /// ... and tokenized: nil keeps the run's; a value is checked against the run's like any
    /// other setting (`--resume with a different configuration: tokenization.tokenizer ...`).
    public var resumeTokenization: TokenizationOptions?
    /// `--vocab FILE`; otherwise a vocabulary is built from the training split.
    public var vocabularyFile: String?
    /// `--min-count` (default `defaultMinCount`) and `--max-size` (default: no limit) for a built
    /// vocabulary; refused with `vocabularyFile`.
    public var minCount: Int?
    public var maxSize: Int?
    /// `--preset` (default `small` for a new run).
    public var preset: Preset?
    public var overrides = ConfigOverrides()
    /// `--embeddings`/`--embedding-mode` (nil: random, or the run's on `--resume`).
    public var inputRepresentation: RunConfig.InputSource?
    /// `--glomo`/`--glomo-on` (nil: none, or the run's on `--resume`).
    public var glomo: RunConfig.GLoMoUse?
    /// `--train-tokens`: use only the first N training tokens.
    public var trainTokens: Int?
    public var resume = false
    public var force = false
    public var options = TrainerOptions()

    public init(runPath: String) { self.runPath = runPath }

    /// `--min-count` when none is given: every token of the training split is kept.
    public static let defaultMinCount = 1

    /// Reads the vocabulary and the data, checks the configuration, creates the run directory
    /// (or, with `resume`, opens it and checks that the configuration is the same) and builds
    /// the trainer. Nothing is written before every input has been read and checked.
    ///
    /// - Throws: one-line errors: `TrainingSetupError`, `FileError`, `CorpusError`,
    ///   `VocabularyError`, the input factory's errors.
    public func prepare(log: @escaping (String) -> Void = { _ in }) throws -> Trainer {
        try checkVocabularyRequest()
        try RunDirectory(path: runPath).lock()   // one writer per run, before anything is read
        return resume ? try prepareResume(log: log) : try prepareNew(log: log)
    }

    private func prepareNew(log: @escaping (String) -> Void) throws -> Trainer {
        let run = RunDirectory(path: runPath)
        if run.holdsRun && !force { throw run.folder.alreadyHoldsError() }
        guard let data else { throw CorpusSelection.noTrainingData }
        try data.check()
        for entry in try data.skippedEntries() { log("note: \(entry)") }
        let vocabulary = try loadVocabulary(data: data, log: log)
        let preset = self.preset ?? .small
        var model = preset.model(vocabularySize: vocabulary.count)
        var training = preset.training
        overrides.apply(model: &model, training: &training)
        if let choice = overrides.softmax { model.softmax = try choice.resolve(vocabulary: vocabulary, source: vocabularyFile ?? "the vocabulary") }
        if let s = model.softmax, s.kind == .adaptive { log("softmax: adaptive, cutoffs \(s.cutoffs), div_value \(s.divValue)") }
        var config = RunConfig(model: model, training: training, corpus: data.runPaths, tokenization: data.tokenization,
                               reading: data.readOptions, vocabularyHash: vocabulary.contentHash,
                               inputRepresentation: inputRepresentation ?? .random, glomo: glomo)
        try TrainingRequest.check(config, trainTokens: trainTokens)
        try InputFactory.prepare(&config, vocabulary: vocabulary)
        let splits = try TrainingRequest.load(data, vocabulary: vocabulary, batching: config.training.batching, log: log)
        // The trainer of a new run reads and writes nothing: build it (model, pretrained inputs)
        // before the directory is created, so that any failure leaves nothing behind.
        let trainer = try Trainer(run: run, config: config, vocabulary: vocabulary, train: splits.train, valid: splits.valid,
                                  test: splits.test, trainTokens: trainTokens, resume: false, options: options, log: log)
        _ = try RunDirectory.create(at: runPath, config: config, vocabulary: vocabulary, force: force)
        return trainer
    }

    /// `--if-needed` on a finished run (`summary.json` present): the configuration check `--resume`
    /// makes (the same refusal: `DIR/config.json: --resume with a different configuration: ...`;
    /// a different `trainTokens`: `DIR/last.safetensors: --resume with a different --train-tokens`),
    /// without reading the splits or building the trainer. Returns nil when the run is what the
    /// request asks for (nothing to do), or the reason it must be resumed: an `--epochs` other
    /// than the run's (`--resume --epochs N` extends it). The corpus is read only when the
    /// vocabulary must be built for the comparison (`minCount`/`maxSize` given).
    ///
    /// - Throws: the errors of `prepare()`'s checks.
    public func checkFinishedRun(log: @escaping (String) -> Void = { _ in }) throws -> String? {
        try checkVocabularyRequest()
        try RunDirectory(path: runPath).lock()
        let setup = try resumeSetup(log: log)
        let path = setup.run.lastCheckpointPath
        if let trainTokens, FileManager.default.fileExists(atPath: path) {
            try ResumeState(metadata: SafetensorsFile(contentsOf: path).metadata, path: path).checkTrainTokens(trainTokens, path: path)
        }
        let epochs = setup.config.training.epochs
        return epochs == setup.saved.training.epochs ? nil : "--epochs \(epochs) (the run has \(setup.saved.training.epochs))"
    }

    private func checkVocabularyRequest() throws {
        if vocabularyFile != nil && (minCount != nil || maxSize != nil) {
            throw TrainingSetupError("vocabularyFile excludes minCount and maxSize (they shape a vocabulary built from the training split)",
                                     fields: ["vocabularyFile", "minCount", "maxSize"])
        }
    }

    /// What `--resume` settles before reading the splits: the run, its saved configuration, the
    /// data, the vocabulary and the configuration asked for, checked against the run's.
    private struct ResumeSetup {
        let run: RunDirectory
        let saved: RunConfig
        let data: CorpusSelection
        let vocabulary: Vocabulary
        let config: RunConfig
    }

    private func resumeSetup(log: @escaping (String) -> Void) throws -> ResumeSetup {
        let (run, saved, savedVocabulary) = try RunDirectory.open(at: runPath)
        let readOptions = resumeReading.applied(to: saved.reading ?? ReadOptions())
        var data = self.data ?? CorpusSelection(paths: saved.corpus, tokenization: resumeTokenization ?? saved.tokenization)
        data.readOptions = readOptions
        try data.check()
        for entry in try data.skippedEntries() { log("note: \(entry)") }
        let vocabulary = vocabularyFile != nil || minCount != nil || maxSize != nil
            ? try loadVocabulary(data: data, log: log) : savedVocabulary
        var model = preset?.model(vocabularySize: vocabulary.count) ?? saved.model
        var training = preset?.training ?? saved.training
        model.vocabularySize = vocabulary.count
        model.softmax = saved.model.softmax  // a --preset has no softmax of its own
        overrides.apply(model: &model, training: &training)
        if let choice = overrides.softmax { model.softmax = try choice.resolve(vocabulary: vocabulary, source: vocabularyFile ?? run.vocabularyPath) }
        var config = RunConfig(model: model, training: training, corpus: data.runPaths, tokenization: data.tokenization,
                               reading: saved.reading.map { _ in data.readOptions },
                               vocabularyHash: vocabulary.contentHash,
                               inputRepresentation: inputRepresentation ?? saved.inputRepresentation,
                               glomo: glomo ?? saved.glomo)
        try TrainingRequest.check(config, trainTokens: trainTokens)
        try InputFactory.prepare(&config, vocabulary: vocabulary)
        // `--epochs N` may extend (or, before they are done, shorten) the run; nothing else may change.
        var unextended = config
        unextended.training.epochs = saved.training.epochs
        try run.checkResume(with: unextended)
        return ResumeSetup(run: run, saved: saved, data: data, vocabulary: vocabulary, config: config)
    }

    private func prepareResume(log: @escaping (String) -> Void) throws -> Trainer {
        let setup = try resumeSetup(log: log)
        let (run, saved, data, vocabulary, config) = (setup.run, setup.saved, setup.data, setup.vocabulary, setup.config)
        let splits = try TrainingRequest.load(data, vocabulary: vocabulary, batching: config.training.batching, log: log)
        let trainer = try Trainer(run: run, config: config, vocabulary: vocabulary, train: splits.train, valid: splits.valid,
                                  test: splits.test, trainTokens: trainTokens, resume: true, options: options, log: log)
        // Every check has passed (the trainer refuses fewer epochs than are done). A run that
        // trains no further (stopped early by --patience or --time-limit) stays as it is:
        // config.json keeps the epochs it was trained for. Otherwise record the new epoch count;
        // a finished run that trains on is no longer finished until its new summary is written.
        if !trainer.state.schedule.finished {
            if config.training.epochs != saved.training.epochs { try run.writeConfig(config) }
            if run.isFinished { try run.folder.removeSummary() }
        }
        return trainer
    }

    private func loadVocabulary(data: CorpusSelection, log: (String) -> Void) throws -> Vocabulary {
        if let vocabularyFile {
            let v = try Vocabulary.load(from: vocabularyFile)
            log("vocabulary: \(v.count) tokens from \(vocabularyFile) (hash \(v.contentHash))")
            return v
        }
        if let minCount, minCount < 1 { throw TrainingSetupError("minCount must be at least 1, got \(minCount)", fields: ["minCount"]) }
        let v = try data.buildVocabulary(minCount: minCount ?? TrainingRequest.defaultMinCount, maxSize: maxSize)
        log("vocabulary: \(v.count) tokens built from the training split (hash \(v.contentHash))")
        return v
    }

    /// Reads the three splits; throws when the training or validation split is empty, or the test
    /// split is although test files were given. With
    /// sentence batching a blank line is no sentence (`EncodedCorpus.droppingBlankLines`), so the test
    /// perplexity the run reports is the one `lmtool perplexity --mode sentence` gives.
    static func load(_ data: CorpusSelection, vocabulary: Vocabulary, batching: TrainingConfig.Batching,
                     log: (String) -> Void) throws -> (train: EncodedCorpus, valid: EncodedCorpus, test: EncodedCorpus?)
    {
        func read(_ split: Split) throws -> EncodedCorpus {
            let d = try data.load(split, vocabulary: vocabulary)
            return batching == .sentence ? d.droppingBlankLines() : d
        }
        let train = try read(.train)
        let valid = try read(.valid)
        let test = data.hasSource(.test) ? try read(.test) : nil
        func describe(_ name: String, _ d: EncodedCorpus) -> String {
            "\(name): \(d.tokenCount) tokens, \(d.sentenceCount) sentences, \(d.outOfVocabularyCount) out of vocabulary"
        }
        if train.tokenCount < 2 { throw TrainingSetupError("the training split has \(train.tokenCount) tokens (files: \((data.corpus + data.train).joined(separator: ", ")))") }
        if valid.isEmpty { throw TrainingSetupError("the validation split is empty (files: \((data.corpus + data.valid).joined(separator: ", ")))") }
        // Test files given are a test asked for: an empty one is refused like an empty validation
        // split. A corpus split by records may simply have no test records: a note says so.
        if let test, test.isEmpty, !data.test.isEmpty {
            throw TrainingSetupError("the test split is empty (files: \((data.corpus + data.test).joined(separator: ", ")))")
        }
        log(describe("train", train))
        log(describe("valid", valid))
        if let test {
            log(test.isEmpty ? "note: the test split of \(data.corpus.joined(separator: ", ")) is empty: no test perplexity" : describe("test", test))
        }
        return (train, valid, test?.isEmpty == true ? nil : test)
    }

    /// Throws a one-line error naming the field (`model.dropout`, `training.bptt`, `trainTokens`)
    /// when a setting cannot be trained.
    public static func check(_ config: RunConfig, trainTokens: Int? = nil) throws {
        let m = config.model, t = config.training
        func fail(_ message: String, _ fields: String...) throws { throw TrainingSetupError(message, fields: fields) }
        func atLeast1(_ fields: [(String, Int)]) throws {
            for (field, value) in fields where value < 1 { try fail("\(field) must be at least 1, got \(value)", field) }
        }
        try atLeast1([("model.embeddingSize", m.embeddingSize), ("model.hiddenSize", m.hiddenSize), ("model.layers", m.layers)])
        if !(m.dropout >= 0 && m.dropout < 1) { try fail("model.dropout must be in [0, 1), got \(m.dropout)", "model.dropout") }
        if !(m.initRange >= 0 && m.initRange.isFinite) { try fail("model.initRange must be a non-negative number, got \(m.initRange)", "model.initRange") }
        try atLeast1([("training.bptt", t.bptt), ("training.batchSize", t.batchSize)])
        if !(t.learningRate > 0 && t.learningRate.isFinite) { try fail("training.learningRate must be a positive number, got \(t.learningRate)", "training.learningRate") }
        if !(t.momentum >= 0 && t.momentum < 1) { try fail("training.momentum must be in [0, 1), got \(t.momentum)", "training.momentum") }
        if !(t.weightDecay >= 0 && t.weightDecay.isFinite) { try fail("training.weightDecay must be a non-negative number, got \(t.weightDecay)", "training.weightDecay") }
        if !(t.clip >= 0 && t.clip.isFinite) { try fail("training.clip must be a non-negative number (0 = off), got \(t.clip)", "training.clip") }
        if t.momentum != 0 && t.optimizer != .sgd { try fail("training.momentum applies to training.optimizer sgd only", "training.momentum", "training.optimizer") }
        if !(1...ResumeState.maxEpochs).contains(t.epochs) { try fail("training.epochs must be in 1...\(ResumeState.maxEpochs), got \(t.epochs)", "training.epochs") }
        if let p = t.patience, p < 1 { try fail("training.patience must be at least 1, got \(p)", "training.patience") }
        if let s = t.timeLimitSeconds, !(s > 0 && s.isFinite) {
            try fail("training.timeLimitSeconds must be a positive number of seconds, got \(s)", "training.timeLimitSeconds")
        }
        switch t.schedule {
        case .constant: break
        case .decayAfter(let epoch, let factor):
            if epoch < 0 || !(factor > 0 && factor.isFinite) { try fail("training.schedule decay:EPOCH:FACTOR needs EPOCH ≥ 0 and FACTOR > 0", "training.schedule") }
        case .plateau(let factor):
            if !(factor > 0 && factor.isFinite) { try fail("training.schedule plateau:FACTOR needs FACTOR > 0", "training.schedule") }
        }
        if let trainTokens, trainTokens < 2 { try fail("trainTokens must be at least 2, got \(trainTokens)", "trainTokens") }
        if let softmax = m.softmax, softmax.kind == .adaptive {
            if m.tieWeights {
                try fail("model.tieWeights does not work with model.softmax adaptive (PyTorch's AdaptiveLogSoftmaxWithLoss has no tied weights)",
                         "model.tieWeights", "model.softmax")
            }
            do { try softmax.validate(vocabularySize: m.vocabularySize) } catch { try fail("model.softmax: \(error)", "model.softmax") }
        }
        // Sizes too large to allocate (the same bound config.json is read back with).
        do { try config.checkSizes() } catch let e as RunConfigError { try fail(e.message) }
    }
}

/// Which files hold a run's training, validation and test data, and how to read and tokenize
/// them: the `files → records → tokens → ids` part of the training data path.
///
/// Two kinds of source, which may be combined:
/// - `corpus` (`--corpus`): every file is split by records, by each record's `split` field
///   (JSONL) or else by `BlockSplit` (blocks of 100 records in reading order: 8 of every 10
///   blocks train, 1 valid, 1 test);
/// - `train`, `valid`, `test` (`--train/--valid/--test`): each file belongs to that split whole.
///
/// A split's ids are the split's records of `corpus` followed by its explicit files, in order.
///
/// In a run's `config.json` (`RunConfig.CorpusPaths`) a `corpus` file is listed under all three
/// splits, an explicit file under its own split only; `init(paths:…)` reads that back. The same
/// explicit file for all three splits is therefore refused (give it with `--corpus` instead).
///
///     let data = CorpusSelection(corpus: ["domains.jsonl.zst"])
///     let vocabulary = try data.buildVocabulary(minCount: 2, maxSize: nil)
///     let train = try data.load(.train, vocabulary: vocabulary)
public struct CorpusSelection: Sendable {
    public var corpus: [String]
    public var train: [String]
    public var valid: [String]
    public var test: [String]
    public var readOptions: ReadOptions
    public var tokenization: TokenizationOptions

    public init(corpus: [String] = [], train: [String] = [], valid: [String] = [], test: [String] = [],
                readOptions: ReadOptions = ReadOptions(), tokenization: TokenizationOptions = TokenizationOptions()) {
        self.corpus = corpus
        self.train = train
        self.valid = valid
        self.test = test
        self.readOptions = readOptions
        self.tokenization = tokenization
    }

    /// Reads back the selection a run's `config.json` records: a path listed under all three
    /// splits is a `corpus` file, any other is an explicit file of its split(s).
    public init(paths: RunConfig.CorpusPaths, readOptions: ReadOptions = ReadOptions(),
                tokenization: TokenizationOptions) {
        let shared = paths.train.filter { paths.valid.contains($0) && paths.test.contains($0) }
        self.init(corpus: shared,
                  train: paths.train.filter { !shared.contains($0) },
                  valid: paths.valid.filter { !shared.contains($0) },
                  test: paths.test.filter { !shared.contains($0) },
                  readOptions: readOptions, tokenization: tokenization)
    }

    /// The paths as a run's `config.json` records them (see the type's discussion).
    public var runPaths: RunConfig.CorpusPaths {
        RunConfig.CorpusPaths(train: corpus + train, valid: corpus + valid, test: corpus + test)
    }

    /// The entries of the selection's directories that are skipped because they are not regular
    /// files (a FIFO, a socket, a broken link; `CorpusFiles.expandReportingSkipped`), for the
    /// caller to report: reading one could block forever.
    public func skippedEntries() throws -> [CorpusFiles.Skipped] {
        let all = corpus + train + valid + test
        return all.isEmpty ? [] : try CorpusFiles.expandReportingSkipped(all).skipped
    }

    /// Throws unless there is a training source and a validation source, and the lists can be
    /// recorded unambiguously. The errors name the lists as fields of a `TrainingRequest`
    /// (`data.corpus`, `data.train`, ...).
    public func check() throws {
        if corpus.isEmpty && train.isEmpty { throw CorpusSelection.noTrainingData }
        if corpus.isEmpty && valid.isEmpty {
            throw TrainingSetupError("no validation data: give data.valid PATH, or data.corpus PATH to split a corpus by records",
                                     fields: ["data.valid", "data.corpus"])
        }
        for path in train where valid.contains(path) && test.contains(path) {
            throw TrainingSetupError("\(path) is given as data.train, data.valid and data.test: use data.corpus \(path) to split it by records",
                                     fields: ["data.train", "data.valid", "data.test", "data.corpus"])
        }
        for path in corpus where train.contains(path) || valid.contains(path) || test.contains(path) {
            throw TrainingSetupError("\(path) is given both with data.corpus and as an explicit split", fields: ["data.corpus"])
        }
    }

    static let noTrainingData = TrainingSetupError("no training data: give data.corpus PATH (split by records) or data.train PATH",
                                                   fields: ["data.corpus", "data.train"])

    /// Whether `split` has any source (a test split may have none).
    public func hasSource(_ split: Split) -> Bool {
        !corpus.isEmpty || !explicitFiles(split).isEmpty
    }

    func explicitFiles(_ split: Split) -> [String] {
        switch split {
        case .train: return train
        case .valid: return valid
        case .test: return test
        }
    }

    /// The ids of `split`: its records of `corpus`, then its explicit files.
    public func load(_ split: Split, vocabulary: Vocabulary) throws -> EncodedCorpus {
        var data = EncodedCorpus()
        if !corpus.isEmpty {
            let reader = try CorpusReader(paths: corpus, options: readOptions)
            data.append(try EncodedCorpus(reader, vocabulary: vocabulary, tokenization: tokenization, split: split))
        }
        let files = explicitFiles(split)
        if !files.isEmpty {
            let reader = try CorpusReader(paths: files, options: readOptions)
            data.append(try EncodedCorpus(reader, vocabulary: vocabulary, tokenization: tokenization))
        }
        return data
    }

    /// A vocabulary built from the training split (`--min-count`, `--max-size`; see
    /// `Vocabulary.init(counter:endOfSentenceCount:minCount:maxSize:)`).
    public func buildVocabulary(minCount: Int = 1, maxSize: Int? = nil) throws -> Vocabulary {
        var counter = TokenCounter()
        var endOfSentenceCount = 0
        if !corpus.isEmpty {
            let (stats, c) = try CorpusStatistics.computeWithCounts(try CorpusReader(paths: corpus, options: readOptions),
                                                                    split: .train, tokenization: tokenization)
            counter.merge(c)
            endOfSentenceCount += stats.endOfSentenceCount
        }
        if !train.isEmpty {
            let (stats, c) = try CorpusStatistics.computeWithCounts(try CorpusReader(paths: train, options: readOptions),
                                                                    tokenization: tokenization)
            counter.merge(c)
            endOfSentenceCount += stats.endOfSentenceCount
        }
        return try Vocabulary(counter: counter, endOfSentenceCount: endOfSentenceCount, minCount: minCount, maxSize: maxSize)
    }
}

/// Reading flags given on the command line: nil where a flag was left out.
public struct ReadingFlags: Sendable {
    public var format: RecordFormat?
    public var replaceInvalid: Bool?
    public var maxLineBytes: Int?

    public init(format: RecordFormat? = nil, replaceInvalid: Bool? = nil, maxLineBytes: Int? = nil) {
        self.format = format
        self.replaceInvalid = replaceInvalid
        self.maxLineBytes = maxLineBytes
    }

    /// `base` with the flags given put in.
    public func applied(to base: ReadOptions) -> ReadOptions {
        ReadOptions(format: format ?? base.format, replaceInvalidUTF8: replaceInvalid ?? base.replaceInvalidUTF8,
                    maxLineBytes: maxLineBytes ?? base.maxLineBytes)
    }
}
