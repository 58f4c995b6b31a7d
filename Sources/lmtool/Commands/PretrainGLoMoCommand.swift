import ArgumentParser
@preconcurrency import Glibc  // stdout, a C global that Swift 6 cannot check (written from one thread)
import Corpus
import Foundation
import GLoMoGraph
import NN
import Support

extension GraphThreshold: ExpressibleByArgument {}

struct PretrainGLoMoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain-glomo",
        abstract: "Pretrain a GLoMo graph predictor by context prediction on an unlabeled corpus.",
        discussion: """
            The training split of --corpus (JSONL records carry their own split; plain lines get the \
            block split, see --split) is cut into windows of --sequence-length tokens. Word \
            embeddings go through the graph predictor (causal key/query convolutions, --graph-layers \
            layers of --heads thresholded ReLU² graphs over earlier words) and the feature predictor; \
            at --positions positions sampled per window a GRU decoder started from the top feature \
            predicts the next --predict tokens, its output layer tied to the embeddings (--softmax \
            full, the default) or an adaptive softmax of its own, untied (--softmax adaptive: much \
            cheaper at large vocabularies). Adam, gradient clipping; a checkpoint (last.safetensors, \
            model.safetensors, a train and a valid record in metrics.jsonl) every --checkpoint-every \
            steps, at the end and on SIGINT/SIGTERM; summary.json is written last (with why it \
            stopped and the best validation loss). With --patience N training stops after N \
            checkpoints in a row without a better validation loss, and model.safetensors is the best \
            model. --resume continues exactly where an uninterrupted run would be (the model and \
            data settings come from DIR/config.json; --steps, --epochs or --patience may be \
            changed). Layout of DIR: docs/glomo.md.

            Example: lmtool pretrain-glomo --corpus corpora/default.jsonl.zst --out glomo \
            --embedding-size 64 --steps 100
            """)

    @Option(parsing: .upToNextOption, help: "Corpus files or directories (the training split is used; the valid split scores the model).")
    var corpus: [String] = []

    @Option(help: "The model directory to write (created; refused if it holds a model, unless --force or --resume).")
    var out: String

    @Option(help: "Use this vocabulary file instead of building one from the training split.")
    var vocab: String?

    @OptionGroup var corpusOptions: CorpusOptions

    @Option(name: .customLong("min-count"), parsing: .unconditional, help: "When building the vocabulary: keep tokens seen at least this many times; 3 by default because on a raw pretraining corpus a word seen once or twice would get an embedding row and a softmax column trained from almost nothing.")
    var minCountGiven: Int?
    var minCount: Int { minCountGiven ?? 3 }
    @Option(name: .customLong("max-size"), parsing: .unconditional,
            help: ArgumentHelp(SharedOptions.pretrainingMaxSizeHelp + " (default: \(SharedOptions.pretrainingMaxSize))"))
    var maxSizeGiven: Int?
    var maxSize: Int { maxSizeGiven ?? SharedOptions.pretrainingMaxSize }

    @Option(name: .customLong("embedding-size"), parsing: .unconditional, help: "Word embedding size E (also the feature size).") var embeddingSize = 128
    @Option(parsing: .unconditional, help: "Channels of the key and query convolution stacks (default: E).") var channels: Int?
    @Option(name: .customLong("conv-layers"), parsing: .unconditional, help: "Convolution blocks per stack.") var convLayers = 2
    @Option(name: .customLong("graph-layers"), parsing: .unconditional, help: "Graph layers L.") var graphLayers = 3
    @Option(parsing: .unconditional, help: "Heads K per graph layer.") var heads = 4
    @Option(name: .customLong("head-size"), parsing: .unconditional, help: "Query/key size per head (default: E / K).") var headSize: Int?
    @Option(help: "Threshold form: learned (ReLU(q·k − w·q − b)², the paper's) or bias (ReLU(q·k + b)²).") var threshold: GraphThreshold = .learned

    @Option(name: .customLong("sequence-length"), parsing: .unconditional, help: "Tokens per window T.") var sequenceLength = 64
    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Windows per batch B.") var batchSize = 16
    @Option(parsing: .unconditional, help: "Tokens D predicted after each sampled position.") var predict = 3
    @Option(parsing: .unconditional, help: "Positions sampled per window and step.") var positions = 8
    @Option(parsing: .unconditional, help: "Adam learning rate.") var lr: Float = 2e-3
    @Option(parsing: .unconditional, help: "Largest gradient norm.") var clip: Float = 5
    @Option(parsing: .unconditional, help: "Optimizer steps (default 100 unless --epochs is given); 0 saves the initialised model untrained, the control that tells what pretraining brings.") var steps: Int?
    @Option(parsing: .unconditional, help: "Passes over the training windows (instead of --steps).") var epochs: Int?
    @Option(name: .customLong("train-tokens"), parsing: .unconditional, help: "Use only the first N tokens of the training split.") var trainTokens: Int?
    @Option(name: .customLong("checkpoint-every"), parsing: .unconditional, help: "Checkpoint (and score the valid split) every N steps.") var checkpointEvery: Int?
    @Option(name: .customLong("valid-sequences"), parsing: .unconditional, help: "Windows of the valid split scored at each checkpoint.") var validSequences = 64
    @Option(parsing: .unconditional, help: "Stop after N checkpoints (validations) in a row without a better validation loss; model.safetensors is then the best model.") var patience: Int?
    @Option(help: ArgumentHelp("The decoder's output layer: full (tied to the embedding), adaptive (an untied adaptive softmax, cutoffs from the word counts; a --vocab file must then be sorted by descending count) or adaptive:C1,C2,... (explicit cutoffs).", valueName: "full|adaptive[:C1,...]"))
    var softmax: String?
    @Option(parsing: .unconditional, help: "Random seed.") var seed: UInt64 = 1
    @OptionGroup var threads: ThreadsOption
    @Flag(help: "Continue the model in --out from its last.safetensors.") var resume = false
    @Flag(help: "Replace a model already in --out.") var force = false
    @Flag(name: .customLong("if-needed"), help: "Start, --resume or --force as --out requires; a finished one (summary.json): a note, exit 0.")
    var ifNeeded = false
    @Option(name: .customLong("stop-after-steps"), parsing: .unconditional, help: "Stop cleanly after N steps in this session (continue with --resume).")
    var stopAfterSteps: Int?

    func validate() throws {
        try SharedOptions.checkVocabularyFile(vocab, minCountGiven: minCountGiven != nil, maxSizeGiven: maxSizeGiven != nil)
        for (flag, values) in [("--corpus", corpus), ("--out", [out]), ("--vocab", [vocab])] as [(String, [String?])] {
            try OptionBounds.checkPaths(flag, values)
        }
        if resume && force { throw ValidationError("--resume and --force exclude each other") }
        if ifNeeded && (resume || force) { throw ValidationError("--if-needed chooses --resume or --force itself: give it alone") }
        if !resume && corpus.isEmpty { throw ValidationError("give the corpus: --corpus PATH...") }
        if steps != nil && epochs != nil { throw ValidationError("give --steps or --epochs, not both") }
        let positive: [(String, Int?)] = [("--embedding-size", embeddingSize), ("--channels", channels), ("--conv-layers", convLayers),
                                          ("--graph-layers", graphLayers), ("--heads", heads), ("--head-size", headSize),
                                          ("--sequence-length", sequenceLength), ("--batch-size", batchSize), ("--predict", predict),
                                          ("--positions", positions), ("--epochs", epochs),
                                          ("--train-tokens", trainTokens), ("--checkpoint-every", checkpointEvery),
                                          ("--min-count", minCount), ("--max-size", maxSize),
                                          ("--stop-after-steps", stopAfterSteps), ("--patience", patience)]
        for (flag, value) in positive where (value ?? 1) < 1 { throw ValidationError("\(flag) must be at least 1") }
        if let steps, steps < 0 { throw ValidationError("--steps must be at least 0 (0 saves the initialised model: an untrained control)") }
        if validSequences < 0 { throw ValidationError("--valid-sequences must not be negative") }
        if positions > sequenceLength { throw ValidationError("--positions (\(positions)) cannot exceed --sequence-length (\(sequenceLength))") }
        if !(lr > 0) || !(clip > 0) { throw ValidationError("--lr and --clip must be positive") }
        if resume && softmax != nil { throw ValidationError("--softmax does not apply with --resume: the model's config.json records its output layer") }
    }

    /// The request the flags describe.
    func makeRequest() -> GLoMoPretrainingRequest {
        var request = GLoMoPretrainingRequest(runPath: out, corpus: corpus)
        request.readOptions = corpusOptions.readOptions
        request.tokenization = corpusOptions.tokenization
        request.split = corpusOptions.split
        request.vocabularyFile = vocab
        request.minCount = minCount
        request.maxSize = maxSize
        request.graph = GraphPredictorConfig(embeddingSize: embeddingSize, channels: channels ?? embeddingSize, convLayers: convLayers,
                                             kernelSize: 3, graphLayers: graphLayers, heads: heads,
                                             headSize: headSize ?? max(1, embeddingSize / heads), threshold: threshold)
        var p = GLoMoPretrainingConfig()
        p.sequenceLength = sequenceLength
        p.batchSize = batchSize
        p.predictTokens = predict
        p.positionsPerSequence = positions
        p.learningRate = lr
        p.clip = clip
        p.steps = epochs == nil ? (steps ?? 100) : nil
        p.epochs = epochs
        p.trainTokens = trainTokens
        p.seed = seed
        p.checkpointEvery = checkpointEvery ?? 200
        p.validationSequences = validSequences
        p.patience = patience
        request.pretraining = p
        request.softmax = softmax ?? "full"
        request.steps = steps
        request.epochs = epochs
        request.checkpointEvery = checkpointEvery
        request.patience = patience
        request.resume = resume
        request.force = force
        return request
    }

    mutating func run() throws {
        // One writer per run; under its lock --if-needed chooses the flags (RunFolder.decide).
        guard let flags = try RunFolder.decide(out, ifNeeded: ifNeeded, resume: resume, force: force, note: printLine) else { return }
        (resume, force) = flags
        threads.apply()
        let trainer: GLoMoPretrainer
        do {
            trainer = try makeRequest().prepare(log: printLine, note: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        } catch let error as GLoMoConfigError {
            throw ValidationError("\(error)")   // --softmax that does not parse or fit the vocabulary
        }
        let directory = trainer.directory
        switch try stoppingOnSignals({ try trainer.train(log: printLine, stop: SessionStop(stepLimit: stopAfterSteps)) }) {
        case .stopped(let signal, _):
            if let signal { throw ExitCode(SessionStop.exitStatus(signal)) }
        case .finished(let s):
            let valid = s.validLoss.map { String(format: ", valid loss %.3f", $0) } ?? ""
            let train = s.trainLoss.map { String(format: ", train loss %.3f", $0) } ?? " (untrained: the initialised model)"
            print(String(format: "finished: %d steps (%.2f epochs), %@ tokens in %.1f s (%.0f tok/s)%@%@",
                         s.steps, s.epochs, grouped(s.tokens), s.seconds, Double(s.tokens) / max(s.seconds, 1e-9), train, valid)
                  + (s.bestStep.map { String(format: "; best valid loss %.3f at step %d", s.bestValidLoss ?? .nan, $0) } ?? "")
                  + "; stopped by \(s.stopped ?? "-")")
            print("wrote \(directory.path) (content hash \(try directory.contentHash()))")
        }
    }
}
