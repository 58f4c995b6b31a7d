import Corpus
import Foundation
import NN

/// Settings of context-prediction pretraining (recorded in a GLoMo model directory's
/// `config.json` under `pretraining`).
///
/// Training cuts windows of `sequenceLength + predictTokens` tokens from the token stream (one
/// window starts every `sequenceLength` tokens); the graph and feature predictors read the first
/// `sequenceLength`, and at `positionsPerSequence` positions t sampled per window a GRU decoder
/// started from f^L_t predicts tokens t+1 … t+`predictTokens`.
///
///     var p = GLoMoPretrainingConfig()
///     p.steps = 500
///     try p.validate()
public struct GLoMoPretrainingConfig: Codable, Equatable, Sendable {
    /// Tokens T the graph predictor sees per sequence.
    public var sequenceLength: Int = 64
    /// Sequences B per batch.
    public var batchSize: Int = 16
    /// Tokens D the decoder predicts after each sampled position (the paper's D; default 3).
    public var predictTokens: Int = 3
    /// Positions sampled (without replacement) per sequence and step; at most `sequenceLength`.
    public var positionsPerSequence: Int = 8
    /// Adam learning rate.
    public var learningRate: Float = 2e-3
    /// Largest gradient norm (clipped above it).
    public var clip: Float = 5
    /// Stop after this many optimizer steps (nil: after `epochs`; 0: save the initialised model).
    public var steps: Int?
    /// Stop after this many passes over the windows (used when `steps` is nil; default 1).
    public var epochs: Int?
    /// Use only the first N tokens of the training stream.
    public var trainTokens: Int?
    /// Seed of the initialisation, the window order and the sampled positions.
    public var seed: UInt64 = 1
    /// Write `last.safetensors` and `model.safetensors` (and a validation record) every N steps.
    public var checkpointEvery: Int = 200
    /// Validation windows scored at each checkpoint (from the valid split, when there is one).
    public var validationSequences: Int = 64
    /// Early stopping: stop once this many validations in a row (one per checkpoint) have not
    /// improved on the best validation loss; `model.safetensors` then holds the best model.
    /// nil (absent from `config.json`): train all the steps, `model.safetensors` the last model.
    public var patience: Int?

    public init() {}

    /// Throws a `GLoMoConfigError` naming the first invalid field.
    public func validate() throws {
        func positive(_ name: String, _ v: Int) throws {
            if v <= 0 { throw GLoMoConfigError(message: "pretraining: \(name) must be positive, got \(v)") }
        }
        try positive("sequenceLength", sequenceLength)
        try positive("batchSize", batchSize)
        try positive("predictTokens", predictTokens)
        try positive("positionsPerSequence", positionsPerSequence)
        try positive("checkpointEvery", checkpointEvery)
        if positionsPerSequence > sequenceLength {
            throw GLoMoConfigError(message: "pretraining: positionsPerSequence (\(positionsPerSequence)) exceeds sequenceLength (\(sequenceLength))")
        }
        if validationSequences < 0 { throw GLoMoConfigError(message: "pretraining: validationSequences must not be negative") }
        // 0 steps: the initialised model is saved untrained (the control of an ablation).
        if let steps, steps < 0 { throw GLoMoConfigError(message: "pretraining: steps must not be negative, got \(steps)") }
        if let epochs { try positive("epochs", epochs) }
        if let trainTokens { try positive("trainTokens", trainTokens) }
        if let patience { try positive("patience", patience) }
        if !(learningRate > 0 && learningRate.isFinite) {
            throw GLoMoConfigError(message: "pretraining: learningRate must be positive, got \(learningRate)")
        }
        if !(clip > 0) { throw GLoMoConfigError(message: "pretraining: clip must be positive, got \(clip)") }
    }

    /// The same settings without the stopping criteria (`steps`, `epochs`, `patience`) and the
    /// checkpoint interval, which `--resume` may change.
    public var resumeInvariant: GLoMoPretrainingConfig {
        var c = self
        c.steps = nil; c.epochs = nil; c.checkpointEvery = 1; c.patience = nil
        return c
    }
}

/// An invalid GLoMo configuration; the description is one line naming the field.
public struct GLoMoConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// The output layer of context prediction.
///
/// - `full`: a softmax over the whole vocabulary, its weights tied to the input embedding (plus a
///   bias): the default, and what every model directory without `adaptive_softmax` in its
///   `config.json` has.
/// - `adaptive`: `NN.AdaptiveLogSoftmax` with these cutoffs and division value, untied from the
///   embedding (exact log-probabilities; the head's cost replaces most of the V-wide product).
///
///     try GLoMoSoftmax.parse("adaptive:2000,10000", counts: vocab.counts, source: "vocab.txt")  // .adaptive([2000, 10000], 4)
public enum GLoMoSoftmax: Equatable, Sendable, CustomStringConvertible {
    case full
    case adaptive(cutoffs: [Int], divValue: Double)

    /// PyTorch's default division value, used by `parse`.
    public static let defaultDivValue = 4.0

    /// `full`, `adaptive` (cutoffs chosen from `counts` by `AdaptiveLogSoftmax.chooseCutoffs`)
    /// or `adaptive:C1,C2,...`; throws a one-line `GLoMoConfigError` for anything else or for
    /// cutoffs that do not fit a vocabulary of `counts.count` words. `adaptive` needs ids sorted
    /// by descending count, as built vocabularies are: a `--vocab` file that is not, or has no
    /// counts, is refused with `train`'s `VocabularyError` naming `source` (the vocabulary file)
    /// and the line (`Vocabulary.checkCountsForAdaptiveCutoffs`).
    public static func parse(_ text: String, counts: [Int], source: String) throws -> GLoMoSoftmax {
        if text == "full" { return .full }
        let cutoffs: [Int]
        if text == "adaptive" {
            try Vocabulary.checkCountsForAdaptiveCutoffs(counts, source: source)
            do { cutoffs = try AdaptiveLogSoftmax.chooseCutoffs(counts: counts) } catch {
                throw GLoMoConfigError(message: "--softmax adaptive: \(error)")
            }
        } else if text.hasPrefix("adaptive:") {
            let list = text.dropFirst("adaptive:".count).split(separator: ",", omittingEmptySubsequences: false)
            var parsed: [Int] = []
            for item in list {
                guard let c = Int(item.trimmingCharacters(in: .whitespaces)) else {
                    throw GLoMoConfigError(message: "--softmax \(text): '\(item)' is not a whole number (cutoffs are word ids, e.g. adaptive:2000,10000)")
                }
                parsed.append(c)
            }
            cutoffs = parsed
        } else {
            throw GLoMoConfigError(message: "--softmax '\(text)': expected full, adaptive or adaptive:C1,C2,...")
        }
        do { try AdaptiveLogSoftmax.validate(cutoffs: cutoffs, classCount: counts.count) } catch {
            throw GLoMoConfigError(message: "--softmax \(text): \(error)")
        }
        return .adaptive(cutoffs: cutoffs, divValue: defaultDivValue)
    }

    public var description: String {
        switch self {
        case .full: return "full"
        case .adaptive(let cutoffs, _): return "adaptive:" + cutoffs.map(String.init).joined(separator: ",")
        }
    }
}

/// `config.json`'s `adaptive_softmax` (absent for the full softmax).
public struct GLoMoAdaptiveSoftmaxConfig: Codable, Equatable, Sendable {
    /// Strictly increasing, in `1 ..< vocabularySize`.
    public var cutoffs: [Int]
    /// Each cluster's projection is ⌊E / divValue^(i+1)⌋ wide.
    public var divValue: Double

    public init(cutoffs: [Int], divValue: Double) { self.cutoffs = cutoffs; self.divValue = divValue }
}
