import ArgumentParser
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
}

/// A positive duration: seconds, or a number with `s`, `m` or `h` (`TrainingConfig.seconds(parsing:)`).
struct TimeBudget: ExpressibleByArgument {
    let seconds: Double
    init?(argument: String) {
        guard let seconds = TrainingConfig.seconds(parsing: argument) else { return nil }
        self.seconds = seconds
    }
}

/// The model options of `lmtool train`, shared with `ablate` (which passes them to every run).
struct ModelOptions: ParsableArguments {
    @Option(help: "Recipe: tiny, small (Zaremba et al. small, the default) or medium.")
    var preset: String?
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
        [("preset", preset), ("embedding-size", embeddingSize?.text), ("hidden-size", hiddenSize?.text), ("layers", layers?.text),
         ("dropout", dropout?.text), ("init-range", initRange?.text), ("softmax", softmax)]
    }
}

/// The training options of `lmtool train` (all but `--seed`, which `ablate` sets per run),
/// shared with `ablate`.
struct TrainingOptions: ParsableArguments {
    @Option(help: "discourse (stream in columns, state carried) or sentence (padded sentences, state reset).")
    var batching: String?
    @Option(parsing: .unconditional, help: "Truncated BPTT length (window steps).") var bptt: Given<Int>?
    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Batch columns.") var batchSize: Given<Int>?
    @Option(help: "sgd, adam or adagrad.") var optimizer: String?
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
        [("batching", batching), ("bptt", bptt?.text), ("batch-size", batchSize?.text), ("optimizer", optimizer), ("lr", lr?.text),
         ("momentum", momentum?.text), ("weight-decay", weightDecay?.text), ("clip", clip?.text), ("schedule", schedule),
         ("epochs", epochs?.text), ("patience", patience?.text), ("time-limit", timeLimit?.text), ("train-tokens", trainTokens?.text), ("threads", threads?.text)]
    }
}

/// `lmtool train`'s pretrained input embeddings (`ablate` sets them per arm).
struct EmbeddingOptions: ParsableArguments {
    @Option(help: "Pretrained embeddings file for the input layer.") var embeddings: String?
    @Option(name: .customLong("embedding-mode"), help: "How --embeddings are used: frozen (default), finetune or concat.")
    var embeddingMode: String?
}

/// `lmtool train`'s GLoMo graphs (`ablate` sets them per arm).
struct GLoMoOptions: ParsableArguments {
    @Option(help: "Pretrained GLoMo graph model directory (lmtool pretrain-glomo --out DIR).") var glomo: String?
    @Option(name: .customLong("glomo-on"), help: "What the GLoMo graphs mix: embeddings (default) or hidden.")
    var glomoOn: String?
    @Option(name: .customLong("glomo-weights"),
            help: "How the candidate graphs are mixed: global (one learned mixture, default) or per-token (weights predicted from each position's features).")
    var glomoWeights: String?
}
