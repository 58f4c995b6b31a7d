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

    public init(schedule: ScheduleState, step: Int = 0, batchInEpoch: Int = 0, tokens: Int = 0, elapsedSeconds: Double = 0) {
        self.schedule = schedule
        self.step = step
        self.batchInEpoch = batchInEpoch
        self.tokens = tokens
        self.elapsedSeconds = elapsedSeconds
    }

    /// The 1-based epoch in progress (or next to start).
    public var epoch: Int { schedule.epoch + 1 }

    /// `[ResumeState.metadataKey: <compact JSON, sorted keys>]`, for `TrainingCheckpoint.save`.
    public var metadata: [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Every field is finite or nil (a non-finite loss never becomes the best), so this cannot fail.
        return [ResumeState.metadataKey: String(decoding: try! encoder.encode(self), as: UTF8.self)]
    }

    /// Reads the state from checkpoint `metadata`; `path` names the checkpoint in errors.
    public init(metadata: [String: String], path: String) throws {
        guard let json = metadata[ResumeState.metadataKey] else {
            throw FileError(path: path, message: "not a resumable checkpoint (no '\(ResumeState.metadataKey)' metadata)")
        }
        do {
            self = try JSONDecoder().decode(ResumeState.self, from: Data(json.utf8))
        } catch {
            throw FileError(path: path, message: "bad '\(ResumeState.metadataKey)' metadata: \(RunDirectory.describe(error))")
        }
    }
}
