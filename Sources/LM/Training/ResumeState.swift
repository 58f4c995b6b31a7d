import Foundation
import GLoMoGraph
import NN
import Support

/// Where a run stands, stored in `last.safetensors`'s metadata so that `--resume` continues
/// exactly where an uninterrupted run would be: the schedule, the optimizer step, how far into
/// the current epoch, and the time and tokens spent so far. (Parameters, optimizer buffers and
/// random generators are tensors of the same checkpoint; see `NN.TrainingCheckpoint`.)
///
///     try TrainingCheckpoint.save(to: run.lastCheckpointPath, parameters: store, optimizer: sgd,
///                                 rngs: ["dropout": rng], metadata: state.metadata)
///     let (rngs, metadata) = try TrainingCheckpoint.restore(from: run.lastCheckpointPath, parameters: store, optimizer: sgd)
///     let state = try ResumeState(metadata: metadata, path: run.lastCheckpointPath)
public struct ResumeState: Codable, Equatable, Sendable {
    /// The checkpoint metadata key holding the JSON form.
    public static let metadataKey = "resume"

    public var schedule: ScheduleState
    /// Optimizer steps done in the whole run.
    public var step: Int
    /// Batches done in the epoch in progress (0 at an epoch boundary).
    public var batchInEpoch: Int
    /// Training tokens processed in the whole run.
    public var tokens: Int
    /// Training time in the whole run, summed over sessions.
    public var elapsedSeconds: Double

    /// Σ training loss (nats) over the epoch in progress so far, for its `train` metrics record.
    public var epochLossSum: Double = 0
    /// Training targets of the epoch in progress so far.
    public var epochTargets: Int = 0
    /// Seconds spent in training steps in the epoch in progress (its tokens per second).
    public var epochSeconds: Double = 0
    /// `--train-tokens` of the run (nil = the whole training split); a resumed run must use the same.
    public var trainTokens: Int?
    /// The `metrics.jsonl` records of the last completed epoch, written after this checkpoint:
    /// a run killed in between appends them when it resumes.
    public var lastEpochRecords: [MetricsRecord]?
    /// `EncodedCorpus.fingerprint(vocabularyHash:)` of the training data (after `--train-tokens`) the
    /// run trains on; a resumed run must give the same. Absent in checkpoints written before
    /// fingerprints existed (then `--resume` warns and records it from then on).
    public var dataFingerprint: String?
    /// The same fingerprint of the validation data: the schedule and the best model compare
    /// validation losses across sessions, so a resumed run must give the same. Absent in
    /// checkpoints written before it existed (then `--resume` warns and records it from then on).
    public var validFingerprint: String?
    /// The same fingerprint of the test split (nil without one, or in checkpoints written before
    /// it existed): the run's final figure is of that split, so a resumed run must give the same
    /// (a relative path resolved from another directory must not test on another file).
    public var testFingerprint: String?
    /// Windows of the last epoch left untrained because `--time-limit` ended it early (nil:
    /// none); `step` counts the windows trained, so it is that many short of whole epochs.
    public var windowsSkipped: Int?

    public init(schedule: ScheduleState, step: Int = 0, batchInEpoch: Int = 0, tokens: Int = 0, elapsedSeconds: Double = 0) {
        self.schedule = schedule
        self.step = step
        self.batchInEpoch = batchInEpoch
        self.tokens = tokens
        self.elapsedSeconds = elapsedSeconds
    }

    /// Decodes the JSON form; the per-epoch fields may be absent (0 / nil).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schedule = try c.decode(ScheduleState.self, forKey: .schedule)
        step = try c.decode(Int.self, forKey: .step)
        batchInEpoch = try c.decode(Int.self, forKey: .batchInEpoch)
        tokens = try c.decode(Int.self, forKey: .tokens)
        elapsedSeconds = try c.decode(Double.self, forKey: .elapsedSeconds)
        epochLossSum = try c.decodeIfPresent(Double.self, forKey: .epochLossSum) ?? 0
        epochTargets = try c.decodeIfPresent(Int.self, forKey: .epochTargets) ?? 0
        epochSeconds = try c.decodeIfPresent(Double.self, forKey: .epochSeconds) ?? 0
        trainTokens = try c.decodeIfPresent(Int.self, forKey: .trainTokens)
        lastEpochRecords = try c.decodeIfPresent([MetricsRecord].self, forKey: .lastEpochRecords)
        dataFingerprint = try c.decodeIfPresent(String.self, forKey: .dataFingerprint)
        validFingerprint = try c.decodeIfPresent(String.self, forKey: .validFingerprint)
        testFingerprint = try c.decodeIfPresent(String.self, forKey: .testFingerprint)
        windowsSkipped = try c.decodeIfPresent(Int.self, forKey: .windowsSkipped)
    }

    /// The 1-based epoch in progress (or next to start).
    public var epoch: Int { schedule.epoch + 1 }

    /// `[ResumeState.metadataKey: <compact JSON, sorted keys>]`, for `TrainingCheckpoint.save`.
    public var metadata: [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Non-finite values (a validation loss in `lastEpochRecords`) are written as strings, as in
        // metrics.jsonl, so this cannot fail.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return [ResumeState.metadataKey: String(decoding: try! encoder.encode(self), as: UTF8.self)]
    }

    /// Reads the state from checkpoint `metadata`; `path` names the checkpoint in errors.
    public init(metadata: [String: String], path: String) throws {
        guard let json = metadata[ResumeState.metadataKey] else {
            throw FileError(path: path, message: "not a resumable checkpoint (no '\(ResumeState.metadataKey)' metadata)")
        }
        do {
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            self = try decoder.decode(ResumeState.self, from: Data(json.utf8))
        } catch {
            throw FileError(path: path, message: "bad '\(ResumeState.metadataKey)' metadata: \(RunDirectory.describe(error))")
        }
        // The trainer counts on from these (step += 1, epoch + 1, windows from batchInEpoch):
        // each must be a count far from overflowing.
        let counts = [("step", step), ("batchInEpoch", batchInEpoch), ("tokens", tokens), ("epochTargets", epochTargets),
                      ("schedule.epoch", schedule.epoch), ("schedule.epochsWithoutImprovement", schedule.epochsWithoutImprovement)]
            + (trainTokens.map { [("trainTokens", $0)] } ?? []) + (windowsSkipped.map { [("windowsSkipped", $0)] } ?? [])
        for (name, value) in counts where !(0...ResumeState.maxCount).contains(value) {
            throw FileError(path: path, message: "bad '\(ResumeState.metadataKey)' metadata: \(name) \(value) is not in 0...\(ResumeState.maxCount)")
        }
        // The trainer adds to and prints these: times and the learning rate are finite and not
        // negative; the epoch's loss sum and the best validation loss (sums and means of
        // −log p, which rounding can leave a hair below 0 for a near-certain model) finite and
        // not below 0 by more than that.
        let lossSlack = 1e-4
        let amounts: [(String, Double, Double)] = [
            ("elapsedSeconds", elapsedSeconds, 0), ("epochSeconds", epochSeconds, 0),
            ("schedule.learningRate", Double(schedule.learningRate), 0),
            ("epochLossSum", epochLossSum, -lossSlack * Double(Swift.max(1, epochTargets))),
        ] + (schedule.bestValidationLoss.map { [("schedule.bestValidationLoss", $0, -lossSlack)] } ?? [])
        for (name, value, least) in amounts where !(value.isFinite && value >= least) {
            throw FileError(path: path, message: "bad '\(ResumeState.metadataKey)' metadata: \(name) \(value) is not a finite number ≥ 0")
        }
        // The decaying learning rate is recomputed by one multiplication per epoch: a damaged epoch
        // count must not turn that into billions.
        if schedule.epoch > ResumeState.maxEpochs {
            throw FileError(path: path, message: "bad '\(ResumeState.metadataKey)' metadata: schedule.epoch \(schedule.epoch) is beyond \(ResumeState.maxEpochs) epochs")
        }
    }

    /// Throws a one-line `FileError` naming `path` (the run's `last.safetensors`) unless these
    /// counters lie inside the run they are resumed in: an epoch of `windowsPerEpoch` windows
    /// (the same in every epoch), `epochs` epochs. `ResumeState(metadata:path:)` only checks that
    /// each counter is a plausible number; this checks that together they are a point of this
    /// run: at most `epochs` epochs done (all of them only when the schedule has finished), the
    /// window inside the epoch, and `step` = epochs done × windows per epoch + the window.
    public func checkFits(windowsPerEpoch: Int, epochs: Int, path: String) throws {
        func fail(_ message: String) throws { throw FileError(path: path, message: "resume state does not fit this run: " + message) }
        let done = schedule.epoch
        if done > epochs { try fail("\(done) epochs done, but the run has \(epochs) (config.json training.epochs)") }
        if done == epochs && !schedule.finished { try fail("all \(epochs) epochs done, but the schedule is not finished") }
        if schedule.finished && batchInEpoch != 0 { try fail("the schedule is finished, but \(batchInEpoch) windows of another epoch are done") }
        if batchInEpoch >= windowsPerEpoch {
            try fail("window \(batchInEpoch) of epoch \(epoch), which has \(windowsPerEpoch) windows")
        }
        let (expected, overflow) = done.multipliedReportingOverflow(by: windowsPerEpoch)
        let skipped = windowsSkipped ?? 0
        if skipped > 0 && !(schedule.finished && skipped < windowsPerEpoch && done > 0) {
            try fail("\(skipped) windows skipped by a time limit, but the schedule is not finished or an epoch has \(windowsPerEpoch) windows")
        }
        if overflow || step != expected + batchInEpoch - skipped {
            let cut = skipped > 0 ? " − \(skipped) windows cut by the time limit" : ""
            try fail("step \(step) is not \(done) epochs of \(windowsPerEpoch) windows + \(batchInEpoch) windows\(cut)")
        }
        for (name, value) in [("dataFingerprint", dataFingerprint), ("validFingerprint", validFingerprint), ("testFingerprint", testFingerprint)] {
            if let f = value, f.utf8.count != 64 || !f.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) {
                try fail("\(name) is not 64 lowercase hex digits")
            }
        }
    }

    /// Throws a one-line `FileError` naming `path` (the run's `last.safetensors`) when
    /// `trainTokens` (`--train-tokens`, nil when not given) differs from the run's.
    public func checkTrainTokens(_ trainTokens: Int?, path: String) throws {
        if let trainTokens, trainTokens != self.trainTokens {
            throw FileError(path: path, message: "--resume with a different --train-tokens: \(self.trainTokens.map(String.init) ?? "(all)") → \(trainTokens)")
        }
    }

    /// The epoch count the restored schedule ends at (`config.json` training.epochs when the
    /// checkpoint was written).
    public var scheduledEpochs: Int { schedule.config.epochs }

    /// Moves the end of the schedule to `epochs` (`train --resume --epochs N`), as if the run had
    /// been started with `epochs`: a run that finished because its epochs were done continues
    /// (the learning rate of the next epoch is already the schedule's), one that stopped early
    /// (`--patience`) stays finished. Nothing else changes, so the extended run trains exactly as
    /// a run started with `epochs` would have.
    ///
    /// - Throws: a one-line `TrainingSetupError` when `epochs` is fewer than the epochs done (or
    ///   than the epoch in progress).
    public mutating func extend(toEpochs epochs: Int) throws {
        let done = schedule.epoch
        let needed = batchInEpoch > 0 ? done + 1 : done
        if epochs < needed {
            let what = batchInEpoch > 0 ? "the run is in epoch \(done + 1)" : "the run has done \(done) epochs"
            throw TrainingSetupError("--epochs \(epochs) is fewer than the run's epochs: \(what); give --epochs \(needed) or more")
        }
        schedule.config.epochs = epochs
        let patienceExhausted = schedule.config.patience.map { schedule.epochsWithoutImprovement >= $0 && done > 0 } ?? false
        if done >= epochs {
            if schedule.stopReason == nil { schedule.stopReason = "finished \(epochs) epochs" }
        } else if !patienceExhausted {
            schedule.stopReason = nil
        }
    }

    /// The largest counter a checkpoint may hold (2⁵³: exact as a Double, and far from `Int.max`).
    public static let maxCount = 1 << 53
    /// The most epochs a checkpoint may have finished.
    public static let maxEpochs = 1_000_000
}

/// The learning-rate schedule and early stopping between epochs, as one small Codable value that
/// a checkpoint stores so that `--resume` continues exactly where an uninterrupted run would be.
///
/// Epochs are 1-based. `learningRate` is the rate the *next* epoch trains with; call
/// `endEpoch(validationLoss:)` once after each epoch's validation:
///
/// - `.constant`: the rate never changes.
/// - `.decayAfter(epoch: n, factor: f)`: epoch e trains with lr · f^max(e − n, 0) (TensorFlow's
///   ptb_word_lm), whatever the validation loss.
/// - `.plateau(factor: f)`: the rate is multiplied by f after every epoch whose validation loss is
///   not strictly below the best so far (pytorch/examples:
///   `if not best_val_loss or val_loss < best_val_loss: save … else: lr /= 4`).
///
/// Early stopping (`TrainingConfig.patience`): training stops once `patience` consecutive
/// epochs have not improved on the best validation loss. It also stops after `epochs` epochs.
///
///     var state = ScheduleState(config: training)
///     while !state.finished {
///         trainOneEpoch(learningRate: state.learningRate)
///         let decision = state.endEpoch(validationLoss: validate())
///         if decision.improved { saveBestModel() }
///     }
public struct ScheduleState: Codable, Equatable, Sendable {
    /// The learning rate of the next epoch.
    public var learningRate: Float
    /// The lowest validation loss seen so far (nil before the first validation).
    public var bestValidationLoss: Double?
    /// Epochs since the last improvement of the validation loss.
    public var epochsWithoutImprovement: Int
    /// The number of completed epochs (0 before training).
    public var epoch: Int
    /// Set when training must stop (all epochs done, or patience exhausted), with the reason.
    public var stopReason: String?

    public var finished: Bool { stopReason != nil }

    /// The state before the first epoch of a run configured by `config`.
    public init(config: TrainingConfig) {
        self.learningRate = ScheduleState.learningRate(epoch: 1, base: config.learningRate, schedule: config.schedule)
        self.bestValidationLoss = nil
        self.epochsWithoutImprovement = 0
        self.epoch = 0
        self.stopReason = config.epochs <= 0 ? "no epochs to train" : nil
        self.config = Options(config)
    }

    /// What `endEpoch` decided.
    public struct Decision: Equatable, Sendable {
        /// The validation loss is a new best: save the model as the best one.
        public var improved: Bool
        /// The learning rate for the next epoch.
        public var learningRate: Float
        /// Why training stops now, or nil to go on.
        public var stopReason: String?
    }

    /// Records the end of an epoch with its validation loss and moves to the next epoch.
    public mutating func endEpoch(validationLoss: Double) -> Decision {
        epoch += 1
        let improved = validationLoss.isFinite && (bestValidationLoss.map { validationLoss < $0 } ?? true)
        if improved {
            bestValidationLoss = validationLoss
            epochsWithoutImprovement = 0
        } else {
            epochsWithoutImprovement += 1
        }
        switch config.schedule {
        case .constant:
            break
        case .decayAfter:
            learningRate = ScheduleState.learningRate(epoch: epoch + 1, base: config.baseLearningRate, schedule: config.schedule)
        case .plateau(let factor):
            if !improved { learningRate *= factor }
        }
        if epoch >= config.epochs {
            stopReason = "finished \(config.epochs) epochs"
        } else if let patience = config.patience, epochsWithoutImprovement >= patience {
            stopReason = "early stop: validation loss has not improved for \(epochsWithoutImprovement) epochs"
        }
        return Decision(improved: improved, learningRate: learningRate, stopReason: stopReason)
    }

    /// The learning rate of 1-based epoch `epoch` under a schedule that does not depend on the
    /// validation loss: `base` for `.constant` and `.plateau` (before any plateau), and
    /// base · factor^max(epoch − after, 0) for `.decayAfter(epoch: after, factor:)`.
    ///
    ///     ScheduleState.learningRate(epoch: 6, base: 20, schedule: .decayAfter(epoch: 4, factor: 0.5))  // 5
    public static func learningRate(epoch: Int, base: Float, schedule: TrainingConfig.Schedule) -> Float {
        guard case .decayAfter(let after, let factor) = schedule else { return base }
        var lr = base
        for _ in 0..<max(epoch - after, 0) { lr *= factor }
        return lr
    }

    /// The checkpoint metadata key under which `metadataValue` is stored.
    public static let metadataKey = "schedule"

    /// The state as a compact JSON string with sorted keys, for checkpoint metadata.
    public var metadataValue: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Every field is finite or nil (a non-finite loss never becomes the best), so this cannot fail.
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }

    /// Restores a state from `metadataValue`; throws if the string is not one.
    public init(metadataValue: String) throws {
        self = try JSONDecoder().decode(ScheduleState.self, from: Data(metadataValue.utf8))
    }

    /// The parts of the training configuration the schedule needs, kept so a resumed run can be
    /// checked against them and `endEpoch` needs no arguments besides the loss.
    struct Options: Codable, Equatable, Sendable {
        var baseLearningRate: Float
        var schedule: TrainingConfig.Schedule
        var epochs: Int
        var patience: Int?
        init(_ c: TrainingConfig) {
            baseLearningRate = c.learningRate
            schedule = c.schedule
            epochs = c.epochs
            patience = c.patience
        }
    }
    var config: Options
}

/// A loss that is NaN or infinite: training stops, the best model is kept.
///
/// Its description is one line, e.g. `training stopped: the loss is nan at step 1234 (epoch 2)`.
public struct NonFiniteLossError: Error, CustomStringConvertible, Equatable, Sendable {
    public var loss: Double
    public var step: Int
    public var epoch: Int?

    public var description: String {
        "training stopped: the loss is \(loss) at step \(step)" + (epoch.map { " (epoch \($0))" } ?? "")
    }

    /// Throws `NonFiniteLossError` unless `loss` is finite.
    ///
    ///     try NonFiniteLossError.check(loss, step: step, epoch: epoch)
    public static func check(_ loss: Double, step: Int, epoch: Int? = nil) throws {
        if !loss.isFinite { throw NonFiniteLossError(loss: loss, step: step, epoch: epoch) }
    }
}

/// The whole state of a training run in `last.safetensors`, for an exact `--resume`:
/// `NN.TrainingCheckpoint`'s layout (parameters under their PyTorch names, `optimizer.…`,
/// `rng.dropout`) plus the LSTM state carried into the next window and the `ResumeState`:
///
/// | name | dtype, shape | what |
/// | --- | --- | --- |
/// | `encoder.weight`, `rnn.…`, `decoder.…` | F32, as the model | parameters (docs/lm-model.md) |
/// | `optimizer.step`, `optimizer.<buffer>.<param>` | I64 [], F32 | optimizer state (docs/nn-core.md) |
/// | `rng.dropout` | U64 [4] | the training random generator (dropout masks) |
/// | `state.h_l{k}`, `state.c_l{k}` | F32 [B, H] | carried hidden and cell state of LSTM layer k |
/// | `state.glomo_count`, `state.glomo_ids`, `state.glomo_features` | I64 [], I32 [C, B], F32 [C, B, D] | with `--glomo`: the carried graph context (docs/glomo.md) |
/// | `__metadata__.resume` | JSON string | `ResumeState` |
///
/// The file is written atomically (`SafetensorsFile.write`). `NN.TrainingCheckpoint` is the generic
/// serializer (any parameters, optimizer, generators, metadata) that `model.safetensors` uses; this
/// is the language model trainer's own resume file on top of the same layout.
///
///     try LMResumeCheckpoint.save(to: run.lastCheckpointPath, model: model, optimizer: sgd, rng: rng, state: state)
///     let (rng, state) = try LMResumeCheckpoint.restore(from: run.lastCheckpointPath, model: model, optimizer: sgd)
public enum LMResumeCheckpoint {
    /// The name of the training random generator in the checkpoint (`rng.dropout`).
    public static let rngName = "dropout"

    /// Writes parameters, optimizer state, `rng`, the carried LSTM state and `state` to `path`.
    public static func save(to path: String, model: LanguageModel, optimizer: any Optimizer, rng: RNG,
                            state: ResumeState) throws {
        var file = SafetensorsFile(tensors: model.store.checkpointTensors(), metadata: state.metadata)
        for (k, v) in optimizer.stateTensors(for: model.store, prefix: "optimizer.") { file.tensors[k] = v }
        file.tensors["rng." + rngName] = rng.checkpointTensor
        for (l, lstm) in model.lstms.enumerated() {
            let shape = [lstm.batchSize, lstm.hiddenSize]
            file.tensors["state.h_l\(l)"] = SafeTensor(lstm.hiddenState, shape: shape)
            file.tensors["state.c_l\(l)"] = SafeTensor(lstm.cellState, shape: shape)
        }
        for (k, v) in model.glomo?.checkpointTensors() ?? [:] { file.tensors[k] = v }
        try file.write(to: path)
    }

    /// The names of every tensor `save` writes for `model` and `optimizer`.
    static func tensorNames(model: LanguageModel, optimizer: any Optimizer) -> Set<String> {
        var names = Set(model.store.views.map(\.name))
        names.formUnion(optimizer.stateTensors(for: model.store, prefix: "optimizer.").keys)
        names.insert("rng." + rngName)
        for l in model.lstms.indices { names.formUnion(["state.h_l\(l)", "state.c_l\(l)"]) }
        if let glomo = model.glomo { names.formUnion(glomo.checkpointTensors().keys) }
        return names
    }

    /// Reads `path` into `model` (parameters and carried state) and `optimizer`, and returns the
    /// random generator and the resume state. Throws `FileError` naming the file when it is
    /// unreadable, malformed, does not fit the model, holds a tensor `save` would not write, or
    /// a NaN or infinite parameter (then the model may be half-loaded: the caller stops).
    public static func restore(from path: String, model: LanguageModel, optimizer: any Optimizer) throws
        -> (rng: RNG, state: ResumeState)
    {
        let file = try SafetensorsFile(contentsOf: path)
        let state = try ResumeState(metadata: file.metadata, path: path)
        do {
            // Exactly the tensors `save` writes for this model and optimizer: a tensor the
            // configuration does not imply means the checkpoint belongs to another model.
            let expected = tensorNames(model: model, optimizer: optimizer)
            if let extra = file.tensors.keys.sorted().first(where: { !expected.contains($0) }) {
                throw CheckpointError("unexpected tensor '\(extra)': not part of the model config.json describes (or its training state)")
            }
            guard let rngTensor = file.tensors["rng." + rngName] else { throw CheckpointError("no 'rng.\(rngName)' tensor") }
            let rng = try RNG(checkpointTensor: rngTensor)
            var carried: [(h: [Float], c: [Float])] = []
            for (l, lstm) in model.lstms.enumerated() {
                let shape = [lstm.batchSize, lstm.hiddenSize]
                var pair: [[Float]] = []
                for name in ["state.h_l\(l)", "state.c_l\(l)"] {
                    guard let t = file.tensors[name], t.dtype == .f32, t.shape == shape else {
                        throw CheckpointError("no F32 tensor '\(name)' of shape \(shape) (the carried LSTM state)")
                    }
                    pair.append(try t.values(as: Float.self))
                }
                carried.append((pair[0], pair[1]))
            }
            try optimizer.loadState(from: file.tensors, for: model.store, prefix: "optimizer.")
            try model.store.load(from: file.tensors)
            try model.store.requireFinite(file: path)
            for (lstm, s) in zip(model.lstms, carried) {
                lstm.hiddenState = s.h
                lstm.cellState = s.c
            }
            try model.glomo?.restoreCheckpoint(from: file.tensors)
            return (rng, state)
        } catch let e as GLoMoTransferError {
            throw FileError(path: path, message: e.message)
        } catch let e as CheckpointError {
            throw FileError(path: path, message: e.message)
        } catch let e as SafeTensorTypeError {
            throw FileError(path: path, message: e.description)
        }
    }
}
