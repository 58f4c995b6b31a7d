import Foundation
import NN
import Support

/// Where a pretraining run stands, stored as JSON in `last.safetensors`'s metadata (`resume`).
public struct GLoMoPretrainingState: Codable, Equatable, Sendable {
    /// Optimizer steps done.
    public var step = 0
    /// 0-based epoch in progress and batches done in it.
    public var epoch = 0
    public var batchInEpoch = 0
    /// Tokens read by the encoder so far (B·T per step).
    public var tokens = 0
    /// Training time over all sessions.
    public var elapsedSeconds = 0.0
    /// Sum and count of the training losses since the last `train` metrics record.
    public var lossSum = 0.0
    public var lossCount = 0
    /// Mean training loss of the last completed checkpoint interval.
    public var lastTrainLoss: Double?
    /// `GLoMoPretrainer.fingerprint` of the training tokens (after `--train-tokens`); a resumed
    /// run must give the same. Absent in checkpoints written before fingerprints existed.
    public var dataFingerprint: String?
    /// The lowest validation loss of a checkpoint so far and its step (nil before the first;
    /// absent in checkpoints written before early stopping existed).
    public var bestValidLoss: Double?
    public var bestStep: Int?
    /// Validations in a row since the best (nil: 0).
    public var validationsWithoutImprovement: Int?

    public init() {}

    static let metadataKey = "resume"
}
/// How a call to `GLoMoPretrainer.train` ended.
public enum GLoMoPretrainingOutcome: Equatable {
    /// All steps done; `summary.json` written.
    case finished(GLoMoSummary)
    /// Stopped early (`SessionStop`: by `signal`, or the step limit with signal nil); a
    /// checkpoint was written after `step` steps.
    case stopped(signal: Int32?, step: Int)
}

/// Context-prediction pretraining of a GLoMo graph model: Adam over the whole
/// `ContextPredictionModel`, gradient-norm clipping, a checkpoint (`last.safetensors` and
/// `model.safetensors`, a `train` and a `valid` metrics record) every `checkpointEvery` steps
/// and at the end, then `summary.json`.
///
/// Early stopping (`patience`): every checkpoint's validation loss is compared with the best so
/// far; `model.safetensors` is written only when it improves (so it holds the best model), and
/// training stops once `patience` validations in a row have not improved. The counter and the
/// best are part of the checkpointed state, so a resumed run stops where an uninterrupted one
/// would. Without `patience` every checkpoint writes `model.safetensors` (the last model).
///
/// Batches: the windows of the training tokens in a shuffled order per epoch (from the seed and
/// the epoch), B at a time (the last batch of an epoch may be smaller); positions drawn per
/// window from a generator saved in every checkpoint, so a stopped and resumed run is identical
/// to an uninterrupted one. Validation: the first `validationSequences` windows of the valid
/// tokens, with positions fixed by the seed.
///
///     let dir = try GLoMoModelDirectory.create(at: "glomo", config: config, vocabulary: vocab)
///     let trainer = try GLoMoPretrainer(directory: dir, config: config, train: ids, valid: validIDs)
///     let outcome = try trainer.train(log: { print($0) }, stop: SessionStop(stepLimit: 100))
public final class GLoMoPretrainer {

    public let directory: GLoMoModelDirectory
    public let config: GLoMoModelConfig
    public let model: ContextPredictionModel
    public let trainData: ContextPredictionData
    public let valid: ContextPredictionData?
    public private(set) var state = GLoMoPretrainingState()
    /// Optimizer steps the run makes in total.
    public let totalSteps: Int
    /// Batches in one epoch.
    public let batchesPerEpoch: Int
    private let adam = Adam()
    private var rng: RNG
    private var validBatches: [ContextPredictionBatch] = []
    /// Set when `--resume` could not check the data (a checkpoint from before data fingerprints).
    public private(set) var resumeWarning: String?

    /// SHA-256 (hex) of the vocabulary hash and the training token ids in order: a resumed run
    /// compares it with its checkpoint's, so that other, changed or reordered training data is
    /// refused.
    public static func fingerprint(tokens: [Int32], vocabularyHash: String) -> String {
        var hash = SHA256()
        hash.update("lmtool glomo training data v1\0\(vocabularyHash)\0\(tokens.count)\0")
        tokens.withUnsafeBytes { hash.update($0) }
        return hash.hexDigest()
    }

    /// Builds the model and data; with `resume`, restores the state of `last.safetensors`,
    /// otherwise initialises the model from the seed.
    ///
    /// - Throws: `FileError` when there are too few training tokens for one window (naming the
    ///   directory) or the checkpoint cannot be restored (naming it).
    public init(directory: GLoMoModelDirectory, config: GLoMoModelConfig, train trainTokens: [Int32], valid validTokens: [Int32] = [],
                resume: Bool = false) throws {
        let p = config.pretraining
        self.directory = directory
        self.config = config
        var tokens = trainTokens
        if let n = p.trainTokens, n < tokens.count { tokens = Array(tokens.prefix(n)) }
        trainData = ContextPredictionData(tokens: tokens, steps: p.sequenceLength, predictTokens: p.predictTokens)
        if trainData.windowCount == 0 {
            throw FileError(path: directory.path, message: "the training split has \(tokens.count) tokens, fewer than sequence length \(p.sequenceLength) + \(p.predictTokens) predicted tokens")
        }
        let v = ContextPredictionData(tokens: validTokens, steps: p.sequenceLength, predictTokens: p.predictTokens)
        valid = v.windowCount > 0 && p.validationSequences > 0 ? v : nil
        if p.patience != nil && valid == nil {
            throw FileError(path: directory.path, message: "patience needs validation windows, but the valid split has none of \(p.sequenceLength) + \(p.predictTokens) tokens (or validationSequences is 0)")
        }
        batchesPerEpoch = (trainData.windowCount + p.batchSize - 1) / p.batchSize
        totalSteps = p.steps ?? (p.epochs ?? 1) * batchesPerEpoch
        let batch = min(p.batchSize, trainData.windowCount)
        model = ContextPredictionModel(vocabularySize: config.vocabularySize, graph: config.graph, maxSteps: p.sequenceLength,
                                       maxBatch: max(batch, valid == nil ? 1 : min(p.batchSize, p.validationSequences)),
                                       predictTokens: p.predictTokens, maxPositions: p.positionsPerSequence, softmax: config.softmax)
        var initRNG = RNG(seed: p.seed)
        model.initialize(rng: &initRNG)
        rng = RNG(seed: p.seed &+ 0x5851_F42D_4C95_7F2D)
        if let valid {
            var vrng = RNG(seed: p.seed &+ 0x1405_7B7E_F767_814F)
            let windows = Array(0..<min(p.validationSequences, valid.windowCount))
            for start in stride(from: 0, to: windows.count, by: p.batchSize) {
                let part = Array(windows[start..<min(start + p.batchSize, windows.count)])
                validBatches.append(valid.batch(windows: part, positionsPerSequence: p.positionsPerSequence, rng: &vrng))
            }
        }
        let fingerprint = GLoMoPretrainer.fingerprint(tokens: tokens, vocabularyHash: config.vocabularyHash)
        if resume {
            let path = directory.lastCheckpointPath
            guard FileManager.default.fileExists(atPath: path) else {
                throw FileError(path: path, message: "nothing to resume (no checkpoint yet); start without --resume")
            }
            let (rngs, metadata) = try TrainingCheckpoint.restore(from: path, parameters: model.store, optimizer: adam)
            guard let json = metadata[GLoMoPretrainingState.metadataKey],
                  let s = try? JSONDecoder().decode(GLoMoPretrainingState.self, from: Data(json.utf8)) else {
                throw FileError(path: path, message: "not a GLoMo pretraining checkpoint (no valid 'resume' metadata)")
            }
            guard let r = rngs["positions"] else { throw FileError(path: path, message: "checkpoint lacks rng.positions") }
            try GLoMoPretrainer.checkResumed(s, fingerprint: fingerprint, batchesPerEpoch: batchesPerEpoch, totalSteps: totalSteps, path: path)
            if s.dataFingerprint == nil {
                resumeWarning = "warning: \(path) predates data fingerprints: the training data cannot be checked against it (it is recorded from now on)"
            }
            state = s
            rng = r
        }
        state.dataFingerprint = fingerprint
    }

    /// Throws a one-line `FileError` naming `path` (the checkpoint, which is left as it is) unless
    /// the restored state belongs to this run: the same training data (`fingerprint`, when the
    /// checkpoint has one), counters that are a point of it (no negative count, the batch inside
    /// an epoch of `batchesPerEpoch` batches, `step` = epoch × batchesPerEpoch + batch, at most
    /// `totalSteps` steps).
    static func checkResumed(_ s: GLoMoPretrainingState, fingerprint: String, batchesPerEpoch: Int, totalSteps: Int, path: String) throws {
        if let saved = s.dataFingerprint, saved != fingerprint {
            throw FileError(path: path, message: "--resume on different training data: the checkpoint was trained on data fingerprint \(saved.prefix(16)), the corpus now gives \(fingerprint.prefix(16)) (a changed, reordered or other file, or another vocabulary); start a new model instead")
        }
        func fail(_ message: String) throws { throw FileError(path: path, message: "resume state does not fit this run: " + message) }
        if [s.step, s.epoch, s.batchInEpoch, s.tokens, s.lossCount].contains(where: { $0 < 0 }) { try fail("a negative count") }
        if s.batchInEpoch >= batchesPerEpoch { try fail("batch \(s.batchInEpoch) of an epoch of \(batchesPerEpoch) batches") }
        let (whole, overflow) = s.epoch.multipliedReportingOverflow(by: batchesPerEpoch)
        if overflow || s.step != whole + s.batchInEpoch {
            try fail("step \(s.step) is not \(s.epoch) epochs of \(batchesPerEpoch) batches + \(s.batchInEpoch) batches")
        }
        if s.step > totalSteps { try fail("step \(s.step) is beyond the run's \(totalSteps) steps") }
        if (s.validationsWithoutImprovement ?? 0) < 0 { try fail("a negative count") }
        if let best = s.bestStep, best < 1 || best > s.step { try fail("best step \(best) outside 1...\(s.step)") }
    }

    /// Whether early stopping ends the run now: `patience` validations in a row without a
    /// better loss.
    public var patienceExhausted: Bool {
        guard let patience = config.pretraining.patience else { return false }
        return (state.validationsWithoutImprovement ?? 0) >= patience
    }

    /// Trainable parameters (all of the model's).
    public var parameterCount: Int { model.store.count }

    /// The mean loss over the validation windows (nil without validation data).
    public func validationLoss() -> Double? {
        guard !validBatches.isEmpty else { return nil }
        var sum = 0.0, count = 0
        for b in validBatches {
            let n = b.positions.count * config.pretraining.predictTokens
            sum += model.forward(b) * Double(n)
            count += n
        }
        return sum / Double(count)
    }

    /// Trains until `totalSteps` (or until `stop` says so, checked before every step: a signal
    /// or its step limit), printing a progress line through `log` every `logEvery` steps.
    ///
    /// - Throws: a `FileError` if a file cannot be written, or if the loss becomes NaN.
    public func train(logEvery: Int = 10, log: (String) -> Void = { _ in },
                    stop: SessionStop = SessionStop()) throws -> GLoMoPretrainingOutcome {
        var stop = stop
        let p = config.pretraining
        let clock = ContinuousClock()
        var sessionStart = clock.now, sessionElapsedBase = state.elapsedSeconds
        var order = trainData.order(epoch: state.epoch, seed: p.seed), orderEpoch = state.epoch
        var intervalStart = (time: state.elapsedSeconds, tokens: state.tokens)
        func elapsed() -> Double { sessionElapsedBase + (clock.now - sessionStart).seconds }

        // The loss before any training, as the first valid record (not on resume).
        if state.step == 0, state.lossCount == 0, let v = validationLoss() {
            try directory.appendMetrics(GLoMoMetricsRecord(step: 0, epoch: 1, split: "valid", loss: v, tokensPerSecond: nil, elapsedSeconds: 0))
            log(String(format: "step 0: valid loss %.3f", v))
            sessionStart = clock.now
        }

        while state.step < totalSteps && !patienceExhausted {
            if let reason = stop.check() {
                state.elapsedSeconds = elapsed()
                try checkpoint(saveModel: p.patience == nil)
                log(SessionStop.line(reason, at: "step \(state.step)", checkpoint: directory.lastCheckpointPath))
                return .stopped(signal: reason.signal, step: state.step)
            }
            if orderEpoch != state.epoch { order = trainData.order(epoch: state.epoch, seed: p.seed); orderEpoch = state.epoch }
            let first = state.batchInEpoch * p.batchSize
            let windows = Array(order[first..<min(first + p.batchSize, order.count)])
            let batch = trainData.batch(windows: windows, positionsPerSequence: p.positionsPerSequence, rng: &rng)
            model.store.zeroGradients()
            let loss = model.forward(batch)
            guard loss.isFinite else {
                throw FileError(path: directory.path, message: "the training loss became \(loss) at step \(state.step + 1); try a smaller --lr")
            }
            model.backward()
            model.store.clipGradientNorm(maxNorm: p.clip)
            adam.step(model.store, learningRate: p.learningRate)
            state.step += 1
            state.tokens += windows.count * p.sequenceLength
            state.lossSum += loss
            state.lossCount += 1
            state.batchInEpoch += 1
            if state.batchInEpoch == batchesPerEpoch { state.epoch += 1; state.batchInEpoch = 0 }
            state.elapsedSeconds = elapsed()

            if state.step % logEvery == 0 || state.step == totalSteps {
                let rate = Double(state.tokens - intervalStart.tokens) / max(state.elapsedSeconds - intervalStart.time, 1e-9)
                let eta = Double(totalSteps - state.step) * Double(p.batchSize * p.sequenceLength) / max(rate, 1e-9)
                log(String(format: "step %d/%d  epoch %d  loss %.3f  %.0f tok/s  ETA %@", state.step, totalSteps, state.epoch + 1,
                           state.lossSum / Double(max(state.lossCount, 1)), rate, GLoMoPretrainer.duration(eta)))
            }
            if state.step % p.checkpointEvery == 0 || state.step == totalSteps {
                let rate = Double(state.tokens - intervalStart.tokens) / max(state.elapsedSeconds - intervalStart.time, 1e-9)
                let trainLoss = state.lossSum / Double(max(state.lossCount, 1))
                try directory.appendMetrics(GLoMoMetricsRecord(step: state.step, epoch: state.epoch + 1, split: "train", loss: trainLoss,
                                                               tokensPerSecond: rate, elapsedSeconds: state.elapsedSeconds))
                state.lastTrainLoss = trainLoss
                state.lossSum = 0; state.lossCount = 0
                // Validation time is not training time: restart the clock after it.
                var improved = false
                if let v = validationLoss() {
                    try directory.appendMetrics(GLoMoMetricsRecord(step: state.step, epoch: state.epoch + 1, split: "valid", loss: v,
                                                                   tokensPerSecond: nil, elapsedSeconds: state.elapsedSeconds))
                    improved = v.isFinite && (state.bestValidLoss.map { v < $0 } ?? true)
                    if improved {
                        state.bestValidLoss = v; state.bestStep = state.step; state.validationsWithoutImprovement = 0
                    } else {
                        state.validationsWithoutImprovement = (state.validationsWithoutImprovement ?? 0) + 1
                    }
                    log(String(format: "step %d: valid loss %.3f", state.step, v) + (improved && p.patience != nil ? " (best, saved)" : ""))
                }
                try checkpoint(saveModel: p.patience == nil || improved)
                if patienceExhausted, let best = state.bestStep {
                    log("early stop: the validation loss has not improved for \(state.validationsWithoutImprovement ?? 0) validations (best at step \(best))")
                }
                sessionStart = clock.now; sessionElapsedBase = state.elapsedSeconds
                intervalStart = (state.elapsedSeconds, state.tokens)
            }
        }
        // --steps 0: the model at its initialisation (the untrained control), saved like any other.
        if totalSteps == 0 && state.step == 0 { try checkpoint(saveModel: true) }
        // With early stopping model.safetensors holds the best model: continue with it.
        if p.patience != nil { try directory.loadModel(into: model.store, config: config) }
        var summary = GLoMoSummary(steps: state.step, epochs: Double(state.step) / Double(batchesPerEpoch), tokens: state.tokens,
                                   seconds: state.elapsedSeconds, trainLoss: state.lastTrainLoss,
                                   validLoss: validationLoss(), parameters: parameterCount)
        summary.stopped = patienceExhausted ? "patience" : p.steps != nil ? "max_steps" : "epochs"
        summary.bestValidLoss = state.bestValidLoss
        summary.bestStep = state.bestStep
        try directory.writeSummary(summary)
        return .finished(summary)
    }

    /// Writes `last.safetensors` (parameters, Adam, the position generator, the state) and, with
    /// `saveModel`, `model.safetensors`.
    public func checkpoint(saveModel: Bool = true) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(state), as: UTF8.self)
        try TrainingCheckpoint.save(to: directory.lastCheckpointPath, parameters: model.store, optimizer: adam,
                                    rngs: ["positions": rng], metadata: [GLoMoPretrainingState.metadataKey: json])
        if saveModel { try directory.saveModel(model.store, config: config) }
    }

    /// `83` → `1m23s`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h\(String(format: "%02d", (s % 3600) / 60))m" }
        if s >= 60 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s)s"
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
