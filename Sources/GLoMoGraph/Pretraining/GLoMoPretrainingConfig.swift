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
    /// Stop after this many optimizer steps (nil: after `epochs`).
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
        if let steps { try positive("steps", steps) }
        if let epochs { try positive("epochs", epochs) }
        if let trainTokens { try positive("trainTokens", trainTokens) }
        if !(learningRate > 0 && learningRate.isFinite) {
            throw GLoMoConfigError(message: "pretraining: learningRate must be positive, got \(learningRate)")
        }
        if !(clip > 0) { throw GLoMoConfigError(message: "pretraining: clip must be positive, got \(clip)") }
    }

    /// The same settings without the stopping criterion (`steps`, `epochs`) and the checkpoint
    /// interval, which `--resume` may change.
    public var resumeInvariant: GLoMoPretrainingConfig {
        var c = self
        c.steps = nil; c.epochs = nil; c.checkpointEvery = 1
        return c
    }
}

/// An invalid GLoMo configuration; the description is one line naming the field.
public struct GLoMoConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
