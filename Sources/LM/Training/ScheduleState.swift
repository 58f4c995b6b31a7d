import Foundation

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
        self.config = Settings(config)
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
    struct Settings: Codable, Equatable, Sendable {
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
    var config: Settings
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
