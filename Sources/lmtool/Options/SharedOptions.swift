import ArgumentParser
import LM
import NN

/// The defaults and help texts options share between commands: one constant each, so that
/// `--threads`, `--min-count` and `--max-size` mean the same everywhere. A command whose default
/// differs says why in its own help.
enum SharedOptions {
    /// The help text of every `--threads` that sets lmtool's compute threads (the default is the
    /// one `BLASRuntime.applyDefaultThreads()` sets before any command runs).
    static var threadsHelp: String { threadsHelp(doing: "matrix products, the LSTM time loop, the softmax") }

    /// The same for threads `doing` something else.
    static func threadsHelp(doing: String) -> String {
        "Compute threads (\(doing)), \(OptionBounds.threadsRange) (default: \(threadsDefault))."
    }

    /// How the default thread count is chosen, said one way everywhere.
    static var threadsDefault: String {
        "OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, else the processor count, \(BLASRuntime.defaultThreads) here"
    }

    /// `--min-count` of the commands that build a language model's vocabulary (`vocab build`,
    /// `train`, `embed bilm`, `ablate`, `pretrain-domain`).
    static let minCount = TrainingRequest.defaultMinCount

    /// Their `--min-count` help (for an option declared with `= SharedOptions.minCount`, whose
    /// default the help shows itself).
    static let minCountHelp = "When building the vocabulary: keep tokens seen at least this many times."
    /// The same for an optional `--min-count` (nil: the default).
    static let optionalMinCountHelp = minCountHelp + " (default: \(minCount))"

    /// Their `--max-size` help: no limit by default (the standard benchmark corpora, PTB and
    /// WikiText, come with their vocabulary already capped, and their published perplexities use
    /// all of it).
    static let maxSizeHelp = "When building the vocabulary: largest size, counting <unk> and <eos> (default: no limit)."

    /// Throws when `--vocab FILE` is given with `--min-count` or `--max-size`, which shape a
    /// built vocabulary only: refused in one line rather than ignored. `minCountGiven` and
    /// `maxSizeGiven` say whether each flag was on the command line.
    static func checkVocabularyFile(_ vocab: String?, minCountGiven: Bool, maxSizeGiven: Bool) throws {
        guard vocab != nil else { return }
        for (flag, given) in [("--min-count", minCountGiven), ("--max-size", maxSizeGiven)] where given {
            throw ValidationError("--vocab and \(flag) exclude each other: \(flag) applies to a vocabulary built from the corpus, --vocab FILE is used as it is")
        }
    }

    /// `--max-size` of the pretraining commands (`pretrain-domain`, `pretrain-glomo`), whose raw
    /// pretraining corpora have hundreds of thousands of distinct words: every one would cost an
    /// embedding row (and, for GLoMo, a softmax column) trained from a handful of occurrences.
    static let pretrainingMaxSize = 30_000
    /// Their `--max-size` help, with the reason for the limit.
    static let pretrainingMaxSizeHelp = "When building the vocabulary: largest size, counting <unk> and <eos>; limited by default because a raw pretraining corpus has far more distinct words than rows worth training."
}

/// `--threads` as an option group, for the commands that only compute with the shared pool.
///
///     @OptionGroup var threads: ThreadsOption
///     func run() throws { threads.apply() ... }
struct ThreadsOption: ParsableArguments {
    @Option(name: .customLong("threads"), parsing: .unconditional, help: ArgumentHelp(SharedOptions.threadsHelp))
    var count: Int?

    func validate() throws { try OptionBounds.checkThreads(count) }

    /// Sets the compute threads when `--threads` was given (otherwise the default stays).
    func apply() { if let count { BLASRuntime.setThreads(count) } }
}
