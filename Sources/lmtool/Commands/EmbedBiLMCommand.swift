import ArgumentParser
import Corpus
import Embeddings
import Foundation
import GLoMoGraph
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

    @Option(name: .customLong("min-count"), parsing: .unconditional, help: ArgumentHelp(SharedOptions.minCountHelp))
    var minCount = SharedOptions.minCount

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
    @Option(help: ArgumentHelp("The output layer: sampled (sampled softmax, --samples candidates), adaptive (an exact adaptive softmax, cutoffs from the word counts) or adaptive:C1,C2,... (explicit cutoffs).", valueName: "sampled|adaptive[:C1,...]"))
    var softmax = "sampled"
    @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64 = 1
    @Option(name: .customLong("min-occurrences"), parsing: .unconditional, help: "Words seen fewer times get the mean of all states.") var minOccurrences = 1
    @Flag(inversion: .prefixedNo, help: "Standardise every component over the vocabulary (mean 0, standard deviation 1); --no-standardize writes the raw averages.")
    var standardize = true

    @Option(parsing: .unconditional, help: ArgumentHelp(SharedOptions.threadsHelp + " The vectors depend on the count."))
    var threads: Int?

    func validate() throws {
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
        let clock = ContinuousClock()
        let t0 = clock.now
        let reader = try corpusOptions.reader(corpus)
        let split = corpusOptions.split ?? .train
        let tokenization = corpusOptions.tokenization
        let (vocabulary, encoded) = try EmbeddingCommandIO.readSplit(reader, split: split, tokenization: tokenization,
                                                                     vocabularyFile: vocab, minCount: minCount, maxSize: maxSize)
        // Two budgets over the same split: the first trainTokens train the BiLM, the first
        // averageTokens (default: all of them) are averaged over.
        let ids = Array(encoded.ids.prefix(trainTokens ?? encoded.ids.count))
        let averaged = Array(encoded.ids.prefix(averageTokens ?? encoded.ids.count))
        if ids.count < 2 {
            throw CorpusError(file: corpus.joined(separator: " "), "the \(split.rawValue) split has \(ids.count) token(s); at least 2 are needed")
        }
        print("vocabulary \(grouped(vocabulary.count)) words (hash \(vocabulary.contentHash)), \(split.rawValue) split \(grouped(encoded.ids.count)) tokens: "
              + "training on \(ids.count == encoded.ids.count ? "all" : "the first \(grouped(ids.count)) tokens"), "
              + "averaging over \(averaged.count == encoded.ids.count ? "all" : "the first \(grouped(averaged.count)) tokens"); "
              + "read in \(String(format: "%.1f", (clock.now - t0).seconds)) s")

        var options = BiLMOptions()
        if softmax != "sampled" {
            let parsed: GLoMoSoftmax
            do { parsed = try GLoMoSoftmax.parse(softmax, counts: vocabulary.counts) } catch {
                throw ValidationError("\(error)".replacingOccurrences(of: "expected full, adaptive", with: "expected sampled, adaptive"))
            }
            guard case .adaptive(let cutoffs, _) = parsed else {
                throw ValidationError("--softmax '\(softmax)': expected sampled, adaptive or adaptive:C1,C2,... (the sampled softmax is exact when --samples ≥ the vocabulary)")
            }
            options.adaptiveCutoffs = cutoffs
            print("output layer: adaptive softmax \(parsed) (exact; --samples does not apply)")
        }
        options.embeddingSize = embeddingSize
        options.hiddenSize = hiddenSize
        options.epochs = epochs
        options.batchSize = batchSize
        options.bptt = bptt
        options.learningRate = lr
        options.samples = samples
        options.seed = seed
        options.minOccurrences = minOccurrences
        let t1 = clock.now
        let model = BiLM.train(ids: ids, vocabulary: vocabulary, options: options) { p in
            print(String(format: "epoch %d  %5.1f%%  loss %.3f  ppl %.1f  %.0f tokens/s", p.epoch,
                         100 * Double(p.window) / Double(max(p.windows, 1)), p.loss, exp(p.loss), p.tokensPerSecond))
        }
        let trainSeconds = (clock.now - t1).seconds
        let t2 = clock.now
        let (averages, report) = BiLM.contextualVectors(model: model, ids: averaged, vocabulary: vocabulary, minOccurrences: minOccurrences)
        let table = standardize ? averages.standardized() : averages
        print(String(format: "trained %d epoch(s) in %.1f s (%.0f tokens/s), averaged in %.1f s", epochs, trainSeconds,
                     Double(ids.count * epochs) / max(trainSeconds, 1e-9), (clock.now - t2).seconds))
        print(report)
        // Words averaged over contexts although the BiLM never trained on them (their input
        // embedding is its random initial value): not fallbacks, but worth knowing.
        var inTraining = [Bool](repeating: false, count: vocabulary.count)
        for id in ids { inTraining[Int(id)] = true }
        let fallbackSet = Set(report.fallbackRows)
        let untrained = (0..<vocabulary.count).filter { !inTraining[$0] && !fallbackSet.contains($0) }.count
        if untrained > 0 {
            print("\(grouped(untrained)) averaged words never occur in the \(grouped(ids.count)) training tokens (their input embedding is untrained)")
        }
        print(standardize ? "components standardised over the vocabulary (mean 0, standard deviation 1)" : "raw averages (not standardised)")
        let reason = minOccurrences == 1 ? "never seen in the averaged tokens" : "seen fewer than \(minOccurrences) times in the averaged tokens"
        for line in try EmbeddingCommandIO.write(table, vocabulary: vocabulary, fallbackRows: report.fallbackRows, reason: reason,
                                                 to: out, format: EmbeddingFormat.forWriting(path: out)) {
            print(line)
        }
    }
}
