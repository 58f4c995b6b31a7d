import LM

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
        "trainTokens": "--train-tokens", "minCount": "--min-count",
        "data.corpus": "--corpus", "data.train": "--train", "data.valid": "--valid", "data.test": "--test",
    ]

    /// Runs `body`, rethrowing a `TrainingSetupError` with flags in place of fields.
    static func naming<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as TrainingSetupError { throw error.naming { byField[$0] } }
    }
}
