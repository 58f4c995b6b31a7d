import Foundation
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
        if let f = dataFingerprint, f.utf8.count != 64 || !f.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) {
            try fail("dataFingerprint is not 64 lowercase hex digits")
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
