import ArgumentParser
@preconcurrency import Glibc  // stdout, a C global that Swift 6 cannot check (written from one thread)
import Corpus
import Embeddings
import Foundation
import GLoMoGraph
import NN
import Support

extension DocumentGranularity: ExpressibleByArgument {}
extension ClassifierPooling: ExpressibleByArgument {}
extension GraphMixWeighting: ExpressibleByArgument {}

struct PretrainDomainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain-domain",
        abstract: "Train a BiLSTM domain classifier and export its word embeddings (input matrix and averaged contextual states).",
        discussion: """
            The corpus is JSONL documents with a "domain" field (and a "split" field; records without \
            one are assigned train/valid/test by blocks). Every record must have a domain and the train \
            split at least two. Model: embedding → BiLSTM (forward and backward LSTMs, the backward one \
            reading each example from its last word) → masked mean or max pooling → linear → softmax \
            over the domains; Adam. An example is a whole document (--granularity paragraph) or one \
            sentence (sentence: documents are cut into sentences, as --sentences does, whether or \
            not it is given; config.json records the tokenization with sentence splitting on). The \
            log and config.json ("examples") give the number of examples per split.

            After every epoch: accuracy on the valid split; the best model is kept as model.safetensors, \
            the whole training state as last.safetensors (also on Ctrl-C / SIGTERM; continue with \
            --resume, which takes the model and training settings from DIR/config.json and only --epochs \
            and --patience from the command line). With --patience N training stops after N epochs in a \
            row without a better valid accuracy (summary.json: "stopped": "patience" or "epochs", \
            best_epoch, valid_accuracy of the best epoch). At the end the best model is evaluated on the test split (accuracy, \
            macro-F1, confusion matrix: printed and written to evaluation.json) and two embedding files \
            are exported, one row per vocabulary word: embeddings.vec (the input matrix) and \
            contextual.vec ([forward ; backward] BiLSTM states averaged over every occurrence of the word \
            in the train split, 2 x hidden wide; words seen fewer than --min-occurrences times get the \
            mean of the averaged rows), word2vec text, plus .safetensors copies. summary.json is written \
            last: its presence means the run finished.

            With --glomo DIR (a graph model from `lmtool pretrain-glomo`, same tokenization), the \
            classifier mixes its BiLSTM states with the frozen pretrained graphs before pooling: a \
            trainable mixture over the graphs and their products (--glomo-weights) and a gate over \
            [h ; M·h]. The graphs cover windows of --max-length tokens (training examples are cut to \
            it; longer evaluation examples are mixed window by window). Compare the accuracy with \
            that of the same command without --glomo (docs/glomo.md, "Graphs in the domain classifier").

            Examples (paragraphs, then sentences, of the project's corpus):
              lmtool pretrain-domain --corpus corpora/default.jsonl.zst \\
                --tokenizer simple --lowercase --out runs/domain-paragraph
              lmtool pretrain-domain --corpus corpora/default.jsonl.zst \\
                --tokenizer simple --lowercase \\
                --granularity sentence --out runs/domain-sentence
            """)

    @Option(parsing: .upToNextOption, help: "Labelled corpus files or directories (JSONL with \"domain\").")
    var corpus: [String]

    @Option(help: "The run directory to write.")
    var out: String

    @Option(help: "One example per document (paragraph) or per sentence (sentence: documents are cut into sentences, --sentences implied).")
    var granularity: DocumentGranularity = .paragraph

    @Option(help: "Use this vocabulary file instead of building one from the train split.")
    var vocab: String?

    @OptionGroup var corpusOptions: CorpusOptions

    @Option(name: .customLong("min-count"), parsing: .unconditional, help: ArgumentHelp(SharedOptions.optionalMinCountHelp))
    var minCountGiven: Int?
    var minCount: Int { minCountGiven ?? SharedOptions.minCount }

    @Option(name: .customLong("max-size"), parsing: .unconditional,
            help: ArgumentHelp(SharedOptions.pretrainingMaxSizeHelp + " 0 for no limit (default: \(SharedOptions.pretrainingMaxSize))."))
    var maxSizeGiven: Int?
    var maxSize: Int { maxSizeGiven ?? SharedOptions.pretrainingMaxSize }

    @Option(name: .customLong("embedding-size"), parsing: .unconditional, help: "Word vector size E.")
    var embeddingSize = 64

    @Option(name: .customLong("hidden-size"), parsing: .unconditional, help: "Hidden size H of each LSTM direction (contextual vectors are 2H wide).")
    var hiddenSize = 64

    @Option(help: "Pooling over time: mean or max.")
    var pooling: ClassifierPooling = .mean

    @Option(name: .customLong("init-range"), parsing: .unconditional, help: "The embedding starts uniform in ±X (0: N(0, 1), PyTorch's default).")
    var initRange: Float = 0.1

    @Option(parsing: .unconditional, help: "Dropout on the embedded words and the pooled vector while training.")
    var dropout: Float = 0

    @Option(parsing: .unconditional, help: "Passes over the train split (default 5 for paragraphs, 1 for sentences, which give many more updates per pass). With --resume, may extend a run.")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "Stop after N epochs in a row without a better valid accuracy (the best model is kept either way). With --resume, may change.")
    var patience: Int?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Examples per batch.")
    var batchSize = 32

    @Option(parsing: .unconditional, help: "Adam's learning rate (default 0.005 for paragraphs, 0.003 for sentences).")
    var lr: Float?

    @Option(parsing: .unconditional, help: "Clip the global gradient norm to this (0: no clipping).")
    var clip: Float = 5

    @Option(name: .customLong("max-length"), parsing: .unconditional, help: "Training examples keep their first N tokens (0: all); evaluation reads whole examples, contextual vectors pieces of up to 512.")
    var maxLength = 128

    @Option(parsing: .unconditional, help: "Random seed (initialization, shuffling, dropout).")
    var seed: UInt64 = 1

    @OptionGroup var threads: ThreadsOption

    @Option(name: .customLong("min-occurrences"), parsing: .unconditional, help: "contextual.vec: words seen fewer times in the train split get the fallback row.")
    var minOccurrences = 1

    @Option(help: ArgumentHelp("Mix the BiLSTM states with the graphs of this pretrained GLoMo model (lmtool pretrain-glomo --out DIR) before pooling.", valueName: "dir"))
    var glomo: String?

    @Option(name: .customLong("glomo-weights"), help: "With --glomo: one learned mixture for every position (global) or mixture weights predicted per position (per-token).")
    var glomoWeights: GraphMixWeighting?

    @Flag(help: "Continue the run in --out from last.safetensors.")
    var resume = false

    @Flag(help: "Replace a run already in --out.")
    var force = false
    @Flag(name: .customLong("if-needed"), help: "Start, --resume or --force as --out requires; a finished one (summary.json): a note, exit 0.")
    var ifNeeded = false

    func validate() throws {
        try SharedOptions.checkVocabularyFile(vocab, minCountGiven: minCountGiven != nil, maxSizeGiven: maxSizeGiven != nil)
        for (flag, values) in [("--corpus", corpus), ("--out", [out]), ("--vocab", [vocab]), ("--glomo", [glomo])] as [(String, [String?])] {
            try OptionBounds.checkPaths(flag, values)
        }
        if corpus.isEmpty { throw ValidationError("--corpus needs at least one file") }
        if embeddingSize < 1 || hiddenSize < 1 || batchSize < 1 || minCount < 1 || minOccurrences < 1 {
            throw ValidationError("--embedding-size, --hidden-size, --batch-size, --min-count and --min-occurrences must be at least 1")
        }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1") }
        if let patience, patience < 1 { throw ValidationError("--patience must be at least 1") }
        if maxSize < 0 || maxLength < 0 || clip < 0 || !(initRange >= 0) { throw ValidationError("--max-size, --max-length, --clip and --init-range must not be negative") }
        if maxSize == 1 || maxSize == 2 { throw ValidationError("--max-size must leave room for words besides <unk> and <eos> (at least 3, or 0)") }
        if let lr, !(lr > 0) { throw ValidationError("--lr must be positive") }
        if !(dropout >= 0 && dropout < 1) { throw ValidationError("--dropout must be in [0, 1)") }
        if corpusOptions.split != nil { throw ValidationError("--split does not apply: pretrain-domain uses the train, valid and test splits") }
        if resume && force { throw ValidationError("--resume and --force exclude each other") }
        if ifNeeded && (resume || force) { throw ValidationError("--if-needed chooses --resume or --force itself: give it alone") }
        if glomoWeights != nil && glomo == nil { throw ValidationError("--glomo-weights needs --glomo DIR") }
        if glomo != nil && maxLength == 0 { throw ValidationError("--glomo needs --max-length > 0: the graphs cover windows of that many tokens") }
        if resume && glomo != nil { throw ValidationError("--glomo does not apply with --resume: the run's config.json says which graphs it uses") }
    }

    mutating func run() throws {
        // One writer per run; under its lock --if-needed chooses the flags (RunFolder.decide).
        guard let flags = try RunFolder.decide(out, ifNeeded: ifNeeded, resume: resume, force: force, note: printLine) else { return }
        (resume, force) = flags
        threads.apply()
        setvbuf(stdout, nil, _IOLBF, 0)  // progress lines appear as they are printed
        let clock = ContinuousClock()
        let t0 = clock.now
        var request = DomainTrainingRequest(runPath: out, corpus: corpus)
        request.readOptions = corpusOptions.readOptions
        request.tokenization = corpusOptions.tokenization
        request.vocabularyFile = vocab
        request.minCount = minCount
        request.maxSize = maxSize == 0 ? nil : maxSize
        request.granularity = granularity
        request.embeddingSize = embeddingSize
        request.hiddenSize = hiddenSize
        request.pooling = pooling
        request.initRange = initRange > 0 ? initRange : nil
        request.dropout = dropout
        request.epochs = epochs
        request.patience = patience
        request.batchSize = batchSize
        request.learningRate = lr
        request.clip = clip
        request.maxLength = maxLength == 0 ? nil : maxLength
        request.seed = seed
        request.minOccurrences = minOccurrences
        request.glomo = glomo
        request.glomoWeights = glomoWeights ?? .global
        request.resume = resume
        request.force = force
        guard let trainer = try request.prepare(log: { print($0) }, note: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }) else {
            return
        }
        let directory: DomainRunDirectory = trainer.run
        switch try stoppingOnSignals({ try trainer.train(resume: resume) }) {
        case .finished(let summary):
            print(String(format: "finished in %.1f s (%.0f tokens/s training): test accuracy %.4f, macro-F1 %.4f; wrote %@/summary.json",
                         (clock.now - t0).seconds, summary.tokensPerSecond, summary.testAccuracy, summary.testMacroF1, directory.path))
        case .stopped(let signal, _, _):
            if let signal { throw ExitCode(SessionStop.exitStatus(signal)) }
        }
    }
}
