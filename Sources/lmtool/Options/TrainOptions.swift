import ArgumentParser
import GLoMoGraph
import LM

/// A flag's value together with the text it was given as: `train` uses `value`, `ablate` passes
/// `text` on to every run unchanged (`--lr 20` stays `20`, not `20.0`).
struct Given<Value: ExpressibleByArgument>: ExpressibleByArgument {
    let value: Value
    let text: String

    init?(argument: String) {
        guard let value = Value(argument: argument) else { return nil }
        self.value = value
        self.text = argument
    }

    /// An enum's choices, for `--help` and the refusal of an unknown value.
    static var allValueStrings: [String] { Value.allValueStrings }
    static var defaultCompletionKind: CompletionKind { Value.defaultCompletionKind }
}

/// A positive duration: seconds, or a number with `s`, `m` or `h` (`TrainingConfig.seconds(parsing:)`).
struct TimeBudget: ExpressibleByArgument {
    let seconds: Double
    init?(argument: String) {
        guard let seconds = TrainingConfig.seconds(parsing: argument) else { return nil }
        self.seconds = seconds
    }
}

extension Preset: ExpressibleByArgument {}
extension TrainingConfig.OptimizerKind: ExpressibleByArgument {}
extension EmbeddingMode: ExpressibleByArgument {}
extension GLoMoSite: ExpressibleByArgument {}

/// The model options of `lmtool train`, shared with `ablate` (which passes them to every run).
struct ModelOptions: ParsableArguments {
    @Option(help: "Recipe (default small, Zaremba et al.'s small model).")
    var preset: Given<Preset>?
    @Option(name: .customLong("embedding-size"), parsing: .unconditional, help: "Embedding size.") var embeddingSize: Given<Int>?
    @Option(name: .customLong("hidden-size"), parsing: .unconditional, help: "LSTM hidden size.") var hiddenSize: Given<Int>?
    @Option(parsing: .unconditional, help: "LSTM layers.") var layers: Given<Int>?
    @Option(parsing: .unconditional, help: "Dropout probability on embeddings, between layers and on the output.") var dropout: Given<Float>?
    @Flag(name: .customLong("tie-weights"), inversion: .prefixedNo, help: "Share the decoder weight with the input embedding.")
    var tieWeights: Bool?
    @Option(name: .customLong("init-range"), parsing: .unconditional, help: "Parameters start uniform in ±X.") var initRange: Given<Float>?
    @Option(help: "Output layer: full (default), adaptive (PyTorch's AdaptiveLogSoftmaxWithLoss, div_value 4, cutoffs chosen from the vocabulary's counts) or adaptive:C1,C2,... (explicit cutoffs).")
    var softmax: String?

    /// Flag name → text given, for the flags that take a value (`--tie-weights` is apart).
    var given: [(String, String?)] {
        [("preset", preset?.text), ("embedding-size", embeddingSize?.text), ("hidden-size", hiddenSize?.text), ("layers", layers?.text),
         ("dropout", dropout?.text), ("init-range", initRange?.text), ("softmax", softmax)]
    }

    /// The model fields of the flags given.
    func apply(to o: inout ConfigOverrides) throws {
        o.embeddingSize = embeddingSize?.value
        o.hiddenSize = hiddenSize?.value
        o.layers = layers?.value
        o.dropout = dropout?.value
        o.tieWeights = tieWeights
        o.initRange = initRange?.value
        o.softmax = try softmax.map(SoftmaxChoice.init(parsing:))
    }
}

/// The training options of `lmtool train` (all but `--seed`, which `ablate` sets per run),
/// shared with `ablate`.
struct TrainingOptions: ParsableArguments {
    @Option(help: "discourse: the stream in columns, state carried; sentence: padded sentences, state reset.")
    var batching: Given<TrainingConfig.Batching>?
    @Option(parsing: .unconditional, help: "Truncated BPTT length (window steps).") var bptt: Given<Int>?
    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Batch columns.") var batchSize: Given<Int>?
    @Option(help: "The optimizer.") var optimizer: Given<TrainingConfig.OptimizerKind>?
    @Option(parsing: .unconditional, help: "Learning rate (for the per-token mean loss).") var lr: Given<Float>?
    @Option(parsing: .unconditional, help: "SGD momentum.") var momentum: Given<Float>?
    @Option(name: .customLong("weight-decay"), parsing: .unconditional, help: "L2 weight decay.") var weightDecay: Given<Float>?
    @Option(parsing: .unconditional, help: "Gradient-norm clipping threshold (0 = off).") var clip: Given<Float>?
    @Option(help: "constant, decay:EPOCH:FACTOR or plateau:FACTOR.") var schedule: String?
    @Option(parsing: .unconditional, help: "Epochs.") var epochs: Given<Int>?
    @Option(parsing: .unconditional, help: "Stop after this many epochs without a better validation loss.") var patience: Given<Int>?
    @Option(name: .customLong("time-limit"), parsing: .unconditional,
            help: ArgumentHelp("Wall-clock budget for the whole run (every --resume session, validation included): seconds, or 90s, 30m, 2h. Once spent, the epoch in progress ends early and is validated, the best model is tested and summary.json is written (stop_reason says so). Recorded in config.json; a resumed run keeps its own.", valueName: "duration"))
    var timeLimit: Given<TimeBudget>?
    @Option(name: .customLong("train-tokens"), parsing: .unconditional, help: "Use only the first N training tokens (whole sentences), for quick runs.")
    var trainTokens: Given<Int>?
    @Option(parsing: .unconditional, help: ArgumentHelp(SharedOptions.threadsHelp)) var threads: Given<Int>?

    /// Flag name → text given.
    var given: [(String, String?)] {
        [("batching", batching?.text), ("bptt", bptt?.text), ("batch-size", batchSize?.text), ("optimizer", optimizer?.text), ("lr", lr?.text),
         ("momentum", momentum?.text), ("weight-decay", weightDecay?.text), ("clip", clip?.text), ("schedule", schedule),
         ("epochs", epochs?.text), ("patience", patience?.text), ("time-limit", timeLimit?.text), ("train-tokens", trainTokens?.text), ("threads", threads?.text)]
    }

    /// The training fields of the flags given (`--train-tokens` and `--threads` are not fields
    /// of the configuration).
    func apply(to o: inout ConfigOverrides) throws {
        o.batching = batching?.value
        o.bptt = bptt?.value
        o.batchSize = batchSize?.value
        o.optimizer = optimizer?.value
        o.learningRate = lr?.value
        o.momentum = momentum?.value
        o.weightDecay = weightDecay?.value
        o.clip = clip?.value
        o.schedule = try schedule.map(TrainingConfig.Schedule.init(parsing:))
        o.epochs = epochs?.value
        o.patience = patience?.value
        o.timeLimitSeconds = timeLimit?.value.seconds
    }
}

/// `lmtool train`'s pretrained input embeddings (`ablate` sets them per arm).
struct EmbeddingOptions: ParsableArguments {
    @Option(help: "Pretrained embeddings file for the input layer.") var embeddings: String?
    @Option(name: .customLong("embedding-mode"), help: "How --embeddings are used (default frozen).")
    var embeddingMode: EmbeddingMode?
}

/// `lmtool train`'s GLoMo graphs (`ablate` sets them per arm).
struct GLoMoOptions: ParsableArguments {
    @Option(help: "Pretrained GLoMo graph model directory (lmtool pretrain-glomo --out DIR).") var glomo: String?
    @Option(name: .customLong("glomo-on"), help: "What the GLoMo graphs mix (default embeddings).")
    var glomoOn: GLoMoSite?
    @Option(name: .customLong("glomo-weights"),
            help: "How the candidate graphs are mixed: global, one learned mixture (default); per-token, weights predicted from each position's features.")
    var glomoWeights: GraphMixWeighting?
}

/// `lmtool train`'s flag for each field the library names in its errors (`TrainingRequest`,
/// `CorpusSelection`, `RunConfig`): `model.embeddingSize must be at least 1` prints as
/// `--embedding-size must be at least 1`.
enum TrainFlags {
    static let byField: [String: String] = [
        "model.embeddingSize": "--embedding-size", "model.hiddenSize": "--hidden-size", "model.layers": "--layers",
        "model.dropout": "--dropout", "model.initRange": "--init-range", "model.tieWeights": "--tie-weights",
        "model.softmax": "--softmax",
        "training.bptt": "--bptt", "training.batchSize": "--batch-size", "training.optimizer": "--optimizer",
        "training.learningRate": "--lr", "training.momentum": "--momentum", "training.weightDecay": "--weight-decay",
        "training.clip": "--clip", "training.schedule": "--schedule", "training.epochs": "--epochs",
        "training.patience": "--patience", "training.timeLimitSeconds": "--time-limit",
        "trainTokens": "--train-tokens", "minCount": "--min-count", "maxSize": "--max-size", "vocabularyFile": "--vocab",
        "data.corpus": "--corpus", "data.train": "--train", "data.valid": "--valid", "data.test": "--test",
    ]

    /// Runs `body`, rethrowing a `TrainingSetupError` with flags in place of fields.
    static func naming<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as TrainingSetupError { throw error.naming { byField[$0] } }
    }
}
