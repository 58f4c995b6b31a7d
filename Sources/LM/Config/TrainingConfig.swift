/// How a language model is trained. The loss is the **mean over target tokens** (as PyTorch's
/// cross-entropy); recipes published for a loss summed over the BPTT steps and averaged over the
/// batch (Zaremba et al., TensorFlow's ptb_word_lm) need their learning rate multiplied and their
/// clipping threshold divided by the BPTT length: lr 1, clip 5, BPTT 20 become lr 20, clip 0.25.
public struct TrainingConfig: Codable, Equatable, Sendable {
    public enum Batching: String, Codable, CaseIterable, Sendable {
        /// The token stream cut into batch columns and BPTT windows; state carried across windows.
        case discourse
        /// Sentences padded to the longest in the batch; state reset per sentence.
        case sentence
    }

    public enum OptimizerKind: String, Codable, CaseIterable, Sendable {
        case sgd, adam, adagrad
    }

    /// When the learning rate changes.
    public enum Schedule: Codable, Equatable, Sendable {
        /// Never.
        case constant
        /// Multiplied by `factor` at every epoch after `epoch` (1-based): epoch e trains with
        /// lr · factor^max(e − epoch, 0), as TensorFlow's ptb_word_lm.
        case decayAfter(epoch: Int, factor: Float)
        /// Multiplied by `factor` whenever the validation loss fails to improve, as
        /// pytorch/examples (÷4, i.e. factor 0.25).
        case plateau(factor: Float)
    }

    public var batching: Batching
    public var bptt: Int
    public var batchSize: Int
    public var optimizer: OptimizerKind
    public var learningRate: Float
    /// Momentum for SGD (0 = plain SGD).
    public var momentum: Float
    public var weightDecay: Float
    /// Global gradient-norm clipping threshold (0 = off).
    public var clip: Float
    public var schedule: Schedule
    public var epochs: Int
    /// Stop when the validation loss has not improved for this many epochs (nil = never).
    public var patience: Int?
    public var seed: UInt64
    /// Wall-clock budget in seconds for the whole run (every session, validation included; nil =
    /// none): once spent, the epoch in progress ends early, is validated like any other, and
    /// training finishes (the best model is tested and `summary.json` written). Absent from
    /// `config.json` when nil.
    public var timeLimitSeconds: Double?

    public init(batching: Batching = .discourse, bptt: Int, batchSize: Int, optimizer: OptimizerKind = .sgd,
                learningRate: Float, momentum: Float = 0, weightDecay: Float = 0, clip: Float,
                schedule: Schedule, epochs: Int, patience: Int? = nil, seed: UInt64 = 1, timeLimitSeconds: Double? = nil) {
        self.batching = batching
        self.bptt = bptt
        self.batchSize = batchSize
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.clip = clip
        self.schedule = schedule
        self.epochs = epochs
        self.patience = patience
        self.seed = seed
        self.timeLimitSeconds = timeLimitSeconds
    }

    /// Parses a duration: seconds (`1800`, `90.5`) or a number with a unit `s`, `m` or `h`
    /// (`90s`, `30m`, `1.5h`). Returns nil for anything else, including 0, negative and
    /// non-finite values.
    ///
    ///     TrainingConfig.seconds(parsing: "30m")  // 1800
    public static func seconds(parsing text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600]
        var number = Substring(text), factor = 1.0
        if let last = text.last, let unit = units[last] {
            number = text.dropLast()
            factor = unit
        }
        guard let value = Double(number), value > 0, value.isFinite, (value * factor).isFinite else { return nil }
        return value * factor
    }
}
