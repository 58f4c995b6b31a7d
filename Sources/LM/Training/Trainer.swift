import Corpus
import Foundation
import NN
import Support

/// How a `Trainer` runs, besides the run's configuration (none of this changes the result).
public struct TrainerOptions: Sendable {
    /// Save `last.safetensors` at least this often (seconds of wall time), besides every epoch end.
    public var checkpointEvery: Double = 600
    /// Columns of the validation and test evaluation (pytorch/examples uses 10).
    public var evaluationBatchSize = 10
    /// Stop cleanly (saving `last.safetensors`, as on a signal) after this many optimizer steps in
    /// this session; nil = never. For tests and for splitting a run into bounded sessions.
    public var stopAfterSteps: Int?

    public init() {}
}

/// How a call to `Trainer.train()` ended.
public enum TrainingOutcome: Equatable, Sendable {
    /// The run is complete: `summary.json` is written.
    case finished(RunSummary)
    /// Stopped early with the state saved in `last.safetensors` (continue with `--resume`):
    /// by `signal` (SIGINT or SIGTERM), or by `TrainerOptions.stopAfterSteps` (signal nil).
    case stopped(signal: Int32?, step: Int)
}

/// Trains a run's language model: the loop, the per-epoch validation, the schedule, early
/// stopping, checkpoints and the final test evaluation. Build one with
/// `TrainingRequest.prepare()` (which reads the data and creates or opens the run directory).
///
/// Per training window (one optimizer step):
/// `zeroGradients → forward(training) → (stop on a non-finite loss) → backward → clip → step(lr)`.
/// Per epoch: validation (no dropout, state zeroed at the start and carried in discourse mode),
/// `ScheduleState.endEpoch`, the best model to `model.safetensors`, the whole state to
/// `last.safetensors`, then a `train` and a `valid` record in `metrics.jsonl`. `last.safetensors`
/// is also saved every `checkpointEvery` seconds and when a stop is requested (`StopRequest`:
/// SIGINT/SIGTERM, once the caller has installed its handler, as `lmtool train` does; then
/// `train()` returns `.stopped`). At the end the best model is scored on the test split: a `test` record,
/// `test-sentences.tsv`, and `summary.json` last.
///
/// A resumed run (`last.safetensors`: parameters, optimizer, random generator, carried LSTM
/// state, `ResumeState`) continues at the window where it stopped and ends with the same
/// parameters as an uninterrupted run (bitwise with one BLAS thread).
///
///     let trainer = try request.prepare(log: { print($0) })
///     switch try trainer.train() {
///     case .finished(let summary): print(summary.validPerplexity, summary.testPerplexity ?? .nan)
///     case .stopped(let signal, let step): print("stopped at step \(step) by \(signal ?? 0)")
///     }
public final class Trainer {
    public let run: RunDirectory
    public let config: RunConfig
    public let vocabulary: Vocabulary
    public let options: TrainerOptions
    /// Where progress goes after every step (the CLI draws it: a bar on a terminal, plain
    /// lines otherwise); nil = none.
    public var progress: (any TrainingProgress)?
    /// The model being trained (batch size and window length of the configuration).
    public let model: LanguageModel
    public let optimizer: any Optimizer
    /// Where training stands (saved with every checkpoint).
    public private(set) var state: ResumeState
    /// Log lines (setup, one per epoch, the result).
    public var log: (String) -> Void

    /// The training data (after `--train-tokens`), validation and test data.
    public let trainData: EncodedCorpus
    public let validData: EncodedCorpus
    public let testData: EncodedCorpus?
    /// The training random generator (dropout masks).
    private var rng: RNG
    /// A second model with `options.evaluationBatchSize` columns for validation; the training
    /// parameters are copied into it before each evaluation.
    private let evaluationModel: LanguageModel

    /// Builds the model and optimizer; for a new run (`resume` false) initialises the model from
    /// the seed and `InputFactory.initialize`; for a resumed run restores `last.safetensors` when
    /// there is one (a run stopped before its first checkpoint starts from the beginning). For a
    /// new run nothing is read from or written to `run` here (`TrainingRequest.prepare` builds
    /// the trainer before it creates the directory).
    ///
    /// - Parameter trainTokens: use only the first N training tokens (whole sentences); nil = all
    ///   (on resume: as the checkpoint says; a different value is an error).
    public init(run: RunDirectory, config: RunConfig, vocabulary: Vocabulary, train: EncodedCorpus, valid: EncodedCorpus,
                test: EncodedCorpus?, trainTokens: Int?, resume: Bool, options: TrainerOptions = TrainerOptions(),
                log: @escaping (String) -> Void = { _ in }) throws {
        self.run = run
        self.config = config
        self.vocabulary = vocabulary
        self.options = options
        self.validData = valid
        self.testData = test
        self.log = log
        let t = config.training
        var rng = RNG(seed: t.seed)
        model = try RunDirectory.makeModel(config: config, batchSize: t.batchSize, maxSteps: t.bptt, rng: &rng)
        optimizer = Trainer.makeOptimizer(t)
        var unused = RNG(seed: 0)
        evaluationModel = try RunDirectory.makeModel(config: config, batchSize: options.evaluationBatchSize, maxSteps: t.bptt, rng: &unused)
        var state = ResumeState(schedule: ScheduleState(config: t))
        state.trainTokens = trainTokens
        let resumed = resume && FileManager.default.fileExists(atPath: run.lastCheckpointPath)
        if resumed {
            let restored = try LMResumeCheckpoint.restore(from: run.lastCheckpointPath, model: model, optimizer: optimizer)
            try restored.state.checkTrainTokens(trainTokens, path: run.lastCheckpointPath)
            // After a validated epoch the best model so far is model.safetensors: without it the
            // run would train every remaining epoch and fail only at its final test.
            if restored.state.schedule.bestValidationLoss != nil && !FileManager.default.fileExists(atPath: run.modelPath) {
                throw FileError(path: run.modelPath, message: "missing: it holds the run's best model so far (\(restored.state.schedule.epoch) epochs validated), so --resume cannot finish the run; start it again with --force")
            }
            rng = restored.rng
            state = restored.state
            log("resuming from \(run.lastCheckpointPath): epoch \(state.epoch), step \(state.step), window \(state.batchInEpoch) of the epoch")
            if state.scheduledEpochs != t.epochs {
                // `--resume --epochs N`: the schedule runs on to N epochs (config.json says N).
                let before = state.scheduledEpochs
                try state.extend(toEpochs: t.epochs)
                log("epochs: \(before) → \(t.epochs)" + (state.schedule.finished ? " (\(state.schedule.stopReason ?? "finished"): nothing more to train)" : ""))
            }
            // A run whose time limit is spent trains no further, even with more epochs.
            if let limit = t.timeLimitSeconds, state.elapsedSeconds >= limit, state.batchInEpoch == 0, !state.schedule.finished {
                state.schedule.stopReason = Trainer.timeLimitReason(limit, epoch: state.schedule.epoch)
                log("\(state.schedule.stopReason!): nothing more to train")
            }
        } else {
            if resume { log("no checkpoint in \(run.path) yet: starting from the beginning") }
            for line in try InputFactory.initialize(model, config: config, vocabulary: vocabulary) { log(line) }
        }
        self.rng = rng
        self.state = state
        trainData = try Trainer.usableTrainingData(train, trainTokens: state.trainTokens, training: t)
        if let n = state.trainTokens { log("train: using the first \(trainData.tokenCount) tokens (--train-tokens \(n))") }
        let fingerprint = trainData.fingerprint(vocabularyHash: config.vocabularyHash)
        let validFingerprint = valid.fingerprint(vocabularyHash: config.vocabularyHash)
        let testFingerprint = test?.fingerprint(vocabularyHash: config.vocabularyHash)
        if resumed { try checkResumed(fingerprint: fingerprint, validFingerprint: validFingerprint, testFingerprint: testFingerprint) }
        self.state.dataFingerprint = fingerprint
        self.state.validFingerprint = validFingerprint
        self.state.testFingerprint = testFingerprint
        log("model: \(model.store.count) parameters (embedding \(config.model.embeddingSize), hidden \(config.model.hiddenSize), \(config.model.layers) layers, vocabulary \(config.model.vocabularySize))")
    }

    /// Throws (naming `last.safetensors`, which is left as it is) unless the restored state is a
    /// point of this run on this data: the checkpoint's data fingerprint must be `fingerprint`
    /// (the same training tokens in the same order, the same vocabulary), its validation
    /// fingerprint `validFingerprint` (the schedule and the best model compare this session's
    /// validation losses with the earlier ones), and its counters must fit this data's epoch
    /// length and the configured epochs (`ResumeState.checkFits`). A checkpoint written before
    /// either fingerprint existed is accepted with a warning in the log. The test split's
    /// fingerprint, when the checkpoint has one, must be `testFingerprint` too.
    private func checkResumed(fingerprint: String, validFingerprint: String, testFingerprint: String?) throws {
        let path = run.lastCheckpointPath
        /// Refuses a split whose recorded fingerprint `saved` is not `now` (nothing when none was recorded).
        func refuseChanged(_ split: String, saved: String?, now: String?, files: [String], checkpoint: String, why: String) throws {
            guard let saved, saved != now else { return }
            let names = files.isEmpty ? "the corpus" : files.joined(separator: ", ")
            throw FileError(path: path, message: "--resume on different \(split) data: \(checkpoint) data fingerprint \(saved.prefix(16)), \(names) now give \(now.map { String($0.prefix(16)) } ?? "no \(split) split") (\(why)); start a new run instead")
        }
        try refuseChanged("training", saved: state.dataFingerprint, now: fingerprint, files: config.corpus.train,
                          checkpoint: "the checkpoint was trained on", why: "a changed, reordered or other training file, or another vocabulary")
        try refuseChanged("validation", saved: state.validFingerprint, now: validFingerprint, files: config.corpus.valid,
                          checkpoint: "the checkpoint was validated on",
                          why: "a changed or other validation file, or another vocabulary: its losses would not compare with the run's")
        try refuseChanged("test", saved: state.testFingerprint, now: testFingerprint, files: config.corpus.test,
                          checkpoint: "the checkpoint's run tests on", why: "a changed or other test file: the run's test figure would be of other text")
        if state.dataFingerprint == nil {
            log("warning: \(path) predates data fingerprints: the training and validation data cannot be checked against it (they are recorded from now on)")
        } else if state.validFingerprint == nil {
            log("warning: \(path) predates validation-data fingerprints: the validation data cannot be checked against it (it is recorded from now on)")
        }
        try state.checkFits(windowsPerEpoch: epochWindows(state.epoch).windowCount, epochs: config.training.epochs, path: path)
    }

    /// The training data after `--train-tokens` (whole sentences); throws when it leaves nothing
    /// to train on with the configured batching.
    public static func usableTrainingData(_ train: EncodedCorpus, trainTokens: Int?, training t: TrainingConfig) throws -> EncodedCorpus {
        let data = trainTokens.map { train.prefix(tokens: $0) } ?? train
        if data.tokenCount < 2 {
            throw TrainingSetupError("--train-tokens \(trainTokens ?? 0) keeps \(data.tokenCount) tokens (whole sentences): too few to train on")
        }
        if t.batching == .discourse && data.tokenCount / t.batchSize < 2 {
            throw TrainingSetupError("the training data (\(data.tokenCount) tokens) is too small for --batch-size \(t.batchSize): discourse batching needs at least 2 tokens per column")
        }
        return data
    }

    /// The optimizer `config` names (`--optimizer`, `--momentum`, `--weight-decay`).
    public static func makeOptimizer(_ t: TrainingConfig) -> any Optimizer {
        switch t.optimizer {
        case .sgd: return SGD(momentum: t.momentum, weightDecay: t.weightDecay)
        case .adam: return Adam(weightDecay: t.weightDecay)
        case .adagrad: return Adagrad(weightDecay: t.weightDecay)
        }
    }

    /// The windows of 1-based `epoch`.
    public func epochWindows(_ epoch: Int) -> any TrainingEpoch {
        let t = config.training
        switch t.batching {
        case .discourse:
            return DiscourseTrainingEpoch(tokens: trainData.ids, batchSize: t.batchSize, bptt: t.bptt)
        case .sentence:
            return SentenceTrainingEpoch(sentences: trainData.sentences, batchSize: t.batchSize, bptt: t.bptt,
                                         seed: SentenceTrainingEpoch.shuffleSeed(runSeed: t.seed, epoch: epoch))
        }
    }

    // MARK: - The run

    /// Trains until the schedule finishes (all epochs, or early stopping), then evaluates the
    /// best model on the test split and writes `summary.json`; or stops early on a signal or
    /// `stopAfterSteps`, with `last.safetensors` saved.
    ///
    /// - Throws: `NonFiniteLossError` (training stops; `model.safetensors` keeps the best model
    ///   and `last.safetensors` the last good state), and file errors.
    public func train() throws -> TrainingOutcome {
        if run.isFinished && state.schedule.finished {
            let summary = try run.readSummary()
            log("the run is already complete: valid ppl \(summary.validPerplexity), test ppl \(summary.testPerplexity.map { "\($0)" } ?? "-")")
            return .finished(summary)
        }
        try recoverMetrics()
        let sessionStart = monotonicSeconds()
        let elapsedBefore = state.elapsedSeconds
        var lastCheckpoint = sessionStart
        var stop = SessionStop(stepLimit: options.stopAfterSteps)
        func elapsed() -> Double { elapsedBefore + monotonicSeconds() - sessionStart }
        func stopped(_ reason: SessionStop.Reason) throws -> TrainingOutcome {
            state.elapsedSeconds = elapsed()
            try saveLast()
            progress?.finish()
            // After the last epoch (a signal during its validation) the next epoch does not exist.
            let position = state.schedule.finished ? "the end of epoch \(state.schedule.epoch), before the final test"
                                                   : "epoch \(state.epoch)"
            log(SessionStop.line(reason, at: "\(position), step \(state.step)", checkpoint: run.lastCheckpointPath))
            return .stopped(signal: reason.signal, step: state.step)
        }

        // `--time-limit`, checked before each window after the first of an epoch; the epoch then
        // ends there (`endEpoch` validates it and finishes the schedule).
        func outOfTime() -> Bool { config.training.timeLimitSeconds.map { elapsed() >= $0 } ?? false }

        while !state.schedule.finished {
            var windowsSkipped: Int?
            let epoch = state.epoch
            let windows = epochWindows(epoch)
            let lr = state.schedule.learningRate
            var index = state.batchInEpoch
            while index < windows.windowCount {
                if let reason = stop.check() { return try stopped(reason) }
                if index > 0 && outOfTime() {
                    windowsSkipped = windows.windowCount - index
                    progress?.finish()
                    log("time limit reached after window \(index) of \(windows.windowCount) in epoch \(epoch): the epoch ends here")
                    break
                }
                let w = windows.window(index)
                let start = monotonicSeconds()
                let (lossSum, count) = try step(w, learningRate: lr, epoch: epoch)
                let now = monotonicSeconds()
                index += 1
                state.step += 1
                state.batchInEpoch = index
                state.tokens += count
                state.epochLossSum += lossSum
                state.epochTargets += count
                state.epochSeconds += now - start
                progress?.update(ProgressSnapshot(epoch: epoch, epochs: config.training.epochs, tokensDone: state.epochTargets,
                                                  tokensTotal: windows.targetCount, elapsedSeconds: state.epochSeconds,
                                                  loss: state.epochLossSum / Double(max(state.epochTargets, 1))), now: now)
                if now - lastCheckpoint >= options.checkpointEvery && index < windows.windowCount {
                    state.elapsedSeconds = elapsed()
                    try saveLast()
                    lastCheckpoint = monotonicSeconds()
                    progress?.finish()
                    log("saved \(run.lastCheckpointPath) at step \(state.step) (epoch \(epoch), window \(index) of \(windows.windowCount))")
                }
            }
            progress?.finish()
            try endEpoch(epoch: epoch, learningRate: lr, elapsed: elapsed, windowsSkipped: windowsSkipped)
            lastCheckpoint = monotonicSeconds()
        }
        if let signal = StopRequest.signal { return try stopped(.signal(signal)) }
        state.elapsedSeconds = elapsed()
        return .finished(try finish())
    }

    /// One optimizer step on window `w`; returns the summed loss and the number of targets.
    private func step(_ w: BatchWindow, learningRate: Float, epoch: Int) throws -> (Double, Int) {
        if w.resetsState { model.resetState() }
        model.store.zeroGradients()
        let (lossSum, count) = model.forward(inputs: w.inputs, targets: w.targets, mask: w.mask, steps: w.steps,
                                             training: true, rng: &rng)
        try NonFiniteLossError.check(lossSum, step: state.step + 1, epoch: epoch)
        model.backward()
        if config.training.clip > 0 { _ = model.store.clipGradientNorm(maxNorm: config.training.clip) }
        optimizer.step(model.store, learningRate: learningRate)
        return (lossSum, count)
    }

    /// Validation, schedule, best model, checkpoint and metrics at the end of `epoch`; when the
    /// time limit cut the epoch short (`windowsSkipped`) or is spent now, the schedule finishes.
    private func endEpoch(epoch: Int, learningRate lr: Float, elapsed: () -> Double, windowsSkipped: Int?) throws {
        let validation = evaluate(validData)
        let decision = state.schedule.endEpoch(validationLoss: validation.loss)
        if decision.improved { try run.saveModel(model, config: config, metadata: ["epoch": "\(epoch)", "step": "\(state.step)"]) }
        let trainLoss = state.epochLossSum / Double(max(state.epochTargets, 1))
        let rate = state.epochSeconds > 0 ? Double(state.epochTargets) / state.epochSeconds : 0
        let seconds = elapsed()
        let records = [
            MetricsRecord(epoch: epoch, step: state.step, split: "train", loss: trainLoss, lr: Double(lr),
                          tokensPerSecond: rate, elapsedSeconds: seconds),
            MetricsRecord(epoch: epoch, step: state.step, split: "valid", loss: validation.loss, lr: Double(lr),
                          tokensPerSecond: rate, elapsedSeconds: seconds),
        ]
        state.batchInEpoch = 0
        state.epochLossSum = 0
        state.epochTargets = 0
        state.epochSeconds = 0
        state.elapsedSeconds = seconds
        state.lastEpochRecords = records
        if let limit = config.training.timeLimitSeconds, windowsSkipped != nil || (!state.schedule.finished && seconds >= limit) {
            state.windowsSkipped = windowsSkipped
            state.schedule.stopReason = Trainer.timeLimitReason(limit, epoch: epoch)
        }
        try saveLast()
        for r in records { try run.appendMetrics(r) }
        log("epoch \(epoch)/\(config.training.epochs): train ppl \(Trainer.format(exp(trainLoss))), valid ppl \(Trainer.format(validation.perplexity)), lr \(lr), \(Int(rate.rounded())) tok/s, \(Int(seconds.rounded()))s\(decision.improved ? " (best, saved)" : "")")
        if let reason = state.schedule.stopReason { log(reason) }
    }

    /// The final phase: the best model on the test split, `test` record, `test-sentences.tsv`,
    /// `summary.json`.
    private func finish() throws -> RunSummary {
        guard let best = state.schedule.bestValidationLoss else {
            throw FileError(path: run.modelPath, message: "no epoch gave a finite validation loss: there is no best model")
        }
        let t = config.training
        let bestModel = try run.loadModel(config: config, batchSize: options.evaluationBatchSize, maxSteps: t.bptt)
        var testPerplexity: Double?
        var testByDomain: [String: DomainPerplexity]?
        if let test = testData {
            let result = Evaluator.scoreSplit(bestModel, data: test, batching: t.batching, perSentence: true)
            testPerplexity = result.perplexity
            testByDomain = Evaluator.byDomain(result, data: test)
            let log = try run.readMetrics()
            if !log.records.contains(where: { $0.split == "test" && $0.step == state.step }) {
                try run.appendMetrics(MetricsRecord(epoch: state.schedule.epoch, step: state.step, split: "test", loss: result.loss,
                                                    lr: Double(state.schedule.learningRate), tokensPerSecond: 0,
                                                    elapsedSeconds: state.elapsedSeconds))
            }
            try run.writeTestSentences(result.sentences ?? [])
        }
        let summary = RunSummary(validPerplexity: exp(best), testPerplexity: testPerplexity, parameters: model.store.count,
                                 trainableParameters: Trainer.trainableParameterCount(model), seconds: state.elapsedSeconds,
                                 epochs: state.schedule.epoch, testByDomain: testByDomain, stopReason: state.schedule.stopReason)
        try run.writeSummary(summary)
        log("valid ppl \(Trainer.format(summary.validPerplexity)), test ppl \(testPerplexity.map(Trainer.format) ?? "-")")
        return summary
    }

    /// The stop reason of a run whose `--time-limit` of `limit` seconds is spent, `epoch` epochs done.
    static func timeLimitReason(_ limit: Double, epoch: Int) -> String {
        "time limit of \(limit == limit.rounded() ? String(Int(limit)) : String(limit)) s reached in epoch \(epoch)"
    }

    /// Parameters the optimizer updates. Every parameter of the store is trained today; a frozen
    /// pretrained table must be left out here once the store can mark one.
    static func trainableParameterCount(_ model: LanguageModel) -> Int { model.store.trainableCount }

    /// Scores `data` with the current parameters (a copy in the evaluation model, whose batch
    /// size is `options.evaluationBatchSize`), without dropout.
    public func evaluate(_ data: EncodedCorpus, perSentence: Bool = false) -> EvaluationResult {
        let eval = evaluationModel
        eval.store.values.baseAddress!.update(from: model.store.values.baseAddress!, count: model.store.count)
        return Evaluator.scoreSplit(eval, data: data, batching: config.training.batching, perSentence: perSentence)
    }

    private func saveLast() throws {
        try LMResumeCheckpoint.save(to: run.lastCheckpointPath, model: model, optimizer: optimizer, rng: rng, state: state)
    }

    /// A run killed after saving an epoch's checkpoint but before appending its metrics gets the
    /// missing records now.
    private func recoverMetrics() throws {
        guard let records = state.lastEpochRecords else { return }
        let log = try run.readMetrics()
        // Only those not written: a kill between the epoch's two appends leaves its `train` record.
        for r in records where !log.records.contains(where: { $0.epoch == r.epoch && $0.split == r.split }) {
            try run.appendMetrics(r)
        }
    }

    /// `123.456` → `123.46`.
    static func format(_ x: Double) -> String { x.isFinite ? String(format: "%.2f", x) : "\(x)" }
}
