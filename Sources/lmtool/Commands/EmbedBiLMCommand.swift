import ArgumentParser
import Corpus
import Embeddings
import Foundation
import NN
import Support

/// `lmtool embed bilm`: word vectors from a BiLSTM language model's averaged contextual states.
struct EmbedBiLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bilm",
        abstract: "Train a BiLSTM language model and write its hidden states averaged per word type.",
        discussion: """
            A forward and a backward LSTM language model (separate LSTMs, shared input embedding \
            and shared sampled-softmax output layer) are trained with Adam on the training split \
            (records' "split" field, else the block split; --split chooses another). Then both read \
            that split again and every vocabulary word gets the mean of [forward state ; backward \
            state] over its occurrences (2 x --hidden-size values). --softmax adaptive replaces the \
            sampled softmax by an exact adaptive softmax (its own output layer, shared by both \
            directions). --train-tokens bounds the \
            tokens the BiLM trains on, --average-tokens the tokens it averages over (default: the \
            whole split, whatever --train-tokens says). Words seen fewer than --min-occurrences \
            times in the averaged tokens get the mean of all states: these fallback rows are \
            counted in the output and listed in FILE.fallbacks.txt (one word per line), which \
            `embed neighbors` and `train --embeddings` read. Averaged \
            states share a large common part, so by default every component is then standardised \
            over the vocabulary (mean 0, standard deviation 1); --no-standardize keeps the raw \
            averages. The file \
            is word2vec text unless the extension says otherwise (.safetensors keeps the \
            vocabulary hash; text and binary get FILE.vocab.txt next to them).

            Example: lmtool embed bilm --corpus corpora/default.jsonl.zst --tokenizer simple \
            --lowercase --vocab vocab.txt --hidden-size 32 --out bilm.vec
            """)

    @Option(parsing: .upToNextOption, help: "Corpus files or directories.")
    var corpus: [String]

    @OptionGroup var corpusOptions: CorpusOptions

    @Option(help: "Where to write the vectors (format by extension: .vec/.txt word2vec text, .bin, .safetensors).")
    var out: String

    /// Status lines go to stdout, or to stderr when the vectors do (`--out -`).
    func print(_ item: Any) { printStatus("\(item)", output: out) }

    @Option(help: "Use this vocabulary file instead of building one from the training split.")
    var vocab: String?

    @Option(name: .customLong("min-count"), parsing: .unconditional, help: ArgumentHelp(SharedOptions.optionalMinCountHelp))
    var minCountGiven: Int?
    var minCount: Int { minCountGiven ?? SharedOptions.minCount }

    @Option(name: .customLong("max-size"), parsing: .unconditional, help: ArgumentHelp(SharedOptions.maxSizeHelp))
    var maxSize: Int?

    @Option(name: .customLong("embedding-size"), parsing: .unconditional, help: "Input embedding size.") var embeddingSize = 64
    @Option(name: .customLong("hidden-size"), parsing: .unconditional, help: "LSTM size per direction (the vectors are twice as wide).") var hiddenSize = 32
    @Option(parsing: .unconditional, help: "Passes over the training tokens.") var epochs = 1
    @Option(name: .customLong("train-tokens"), parsing: .unconditional, help: "Train the BiLM on the first N tokens of the split only (default: all).") var trainTokens: Int?
    @Option(name: .customLong("average-tokens"), parsing: .unconditional, help: "Average the states over the first N tokens of the split only (default: all, independent of --train-tokens).") var averageTokens: Int?
    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Batch columns.") var batchSize = 32
    @Option(parsing: .unconditional, help: "BPTT window length.") var bptt = 35
    @Option(parsing: .unconditional, help: "Adam learning rate.") var lr: Float = 0.002
    @Option(parsing: .unconditional, help: "Sampled-softmax candidates per window (the full softmax when the vocabulary is not larger).") var samples = 512
    @Option(help: ArgumentHelp("The output layer: sampled (sampled softmax, --samples candidates), adaptive (an exact adaptive softmax, cutoffs from the word counts; a --vocab file must then be sorted by descending count) or adaptive:C1,C2,... (explicit cutoffs).", valueName: "sampled|adaptive[:C1,...]"))
    var softmax = "sampled"
    @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64 = 1
    @Option(name: .customLong("min-occurrences"), parsing: .unconditional, help: "Words seen fewer times get the mean of all states.") var minOccurrences = 1
    @Flag(inversion: .prefixedNo, help: "Standardise every component over the vocabulary (mean 0, standard deviation 1); --no-standardize writes the raw averages.")
    var standardize = true

    @Option(parsing: .unconditional, help: ArgumentHelp(SharedOptions.threadsHelp + " The vectors depend on the count."))
    var threads: Int?

    func validate() throws {
        try SharedOptions.checkVocabularyFile(vocab, minCountGiven: minCountGiven != nil, maxSizeGiven: maxSize != nil)
        try OptionBounds.checkPaths("--corpus", corpus)
        try OptionBounds.checkPaths("--out", [out])
        try OptionBounds.checkPaths("--vocab", [vocab])
        if corpus.isEmpty { throw ValidationError("--corpus needs at least one file") }
        if embeddingSize < 1 || hiddenSize < 1 || epochs < 0 || batchSize < 1 || bptt < 1 || samples < 1 || minOccurrences < 1 || minCount < 1 {
            throw ValidationError("--embedding-size, --hidden-size, --batch-size, --bptt, --samples, --min-count and --min-occurrences must be at least 1; --epochs at least 0")
        }
        if !(lr > 0) { throw ValidationError("--lr must be positive") }
        try OptionBounds.checkThreads(threads)
        if let trainTokens, trainTokens < 2 { throw ValidationError("--train-tokens must be at least 2") }
        if let averageTokens, averageTokens < 1 { throw ValidationError("--average-tokens must be at least 1") }
        if let maxSize, maxSize < 2 { throw ValidationError("--max-size must be at least 2 (<unk> and <eos>)") }
    }

    func run() throws {
        try OutputLock.acquire(out)   // one writer per output (and its FILE.vocab.txt)
        if let threads { BLASRuntime.setThreads(threads) }
        var request = BiLMRequest(corpus: corpus, reader: try corpusOptions.reader(corpus), out: out)
        request.split = corpusOptions.split ?? .train
        request.tokenization = corpusOptions.tokenization
        request.vocabularyFile = vocab
        request.minCount = minCount
        request.maxSize = maxSize
        request.trainTokens = trainTokens
        request.averageTokens = averageTokens
        request.softmax = softmax
        request.standardize = standardize
        request.options.embeddingSize = embeddingSize
        request.options.hiddenSize = hiddenSize
        request.options.epochs = epochs
        request.options.batchSize = batchSize
        request.options.bptt = bptt
        request.options.learningRate = lr
        request.options.samples = samples
        request.options.seed = seed
        request.options.minOccurrences = minOccurrences
        do { try request.run(log: { print($0) }) } catch let error as BiLMRequestError { throw ValidationError(error.message) }
    }
}
