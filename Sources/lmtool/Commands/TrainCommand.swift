import ArgumentParser
@preconcurrency import Glibc  // stdout, a C global that Swift 6 cannot check (written from one thread)
import Corpus
import Foundation
import GLoMoGraph
import LM
import NN
import Support

/// `lmtool train`: a thin wrapper over `LM.TrainingRequest` and `LM.Trainer`.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train an LSTM language model into a run directory.",
        discussion: """
            Data: --corpus files are split by records (a JSONL record's "split" field, else blocks of \
            100 records: 8 of every 10 blocks train, 1 valid, 1 test); --train/--valid/--test files \
            belong to that split whole. The vocabulary is --vocab FILE, or built from the training \
            split with --min-count/--max-size. --preset sets the model and recipe (default small); \
            any other flag overrides it.

            Every epoch ends with a validation pass; the best model goes to DIR/model.safetensors, the \
            whole state to DIR/last.safetensors (also every --checkpoint-every seconds and on SIGINT/\
            SIGTERM, after which lmtool exits with status 130/143), one line per evaluation to \
            DIR/metrics.jsonl. At the end the best model is scored on the test split (a "test" \
            record, DIR/test-sentences.tsv: tokens<TAB>logprob per sentence) and DIR/summary.json \
            is written last. --resume continues from last.safetensors and ends exactly where an \
            uninterrupted run would (bitwise with --threads 1); flags left out on --resume keep the \
            run's values, flags given must match them, except --epochs N, which extends a finished or \
            interrupted run to N epochs (ending where a run started with N epochs ends). A NaN or infinite loss stops training with \
            the step number; model.safetensors keeps the best model.

            Schedules: constant; decay:EPOCH:FACTOR (lr × FACTOR every epoch after EPOCH, as \
            TensorFlow's ptb_word_lm); plateau:FACTOR (lr × FACTOR after an epoch without improvement, \
            as pytorch/examples with 0.25).

            Example: lmtool train --run runs/wt2-small --preset small \
            --train ../shared/corpora/wikitext-2/train.txt.zst --valid ../shared/corpora/wikitext-2/valid.txt.zst \
            --test ../shared/corpora/wikitext-2/test.txt.zst --threads 2
            """)

    @Option(name: .customLong("run"), help: "The run directory (created; refused if it holds a run, unless --force, --resume or --if-needed).")
    var runPath: String

    // Data.
    @Option(parsing: .upToNextOption, help: "Corpus files or directories split by records (JSONL 'split' field, else blocks).")
    var corpus: [String] = []
    @Option(parsing: .upToNextOption, help: "Training files (the whole files).")
    var train: [String] = []
    @Option(parsing: .upToNextOption, help: "Validation files.")
    var valid: [String] = []
    @Option(parsing: .upToNextOption, help: "Test files.")
    var test: [String] = []
    @OptionGroup(title: "Corpus") var corpusOptions: CorpusOptions

    // Vocabulary.
    @Option(help: "Vocabulary file (token<TAB>count); otherwise built from the training split.")
    var vocab: String?
    @Option(name: .customLong("min-count"), parsing: .unconditional, help: ArgumentHelp(SharedOptions.optionalMinCountHelp))
    var minCount: Int?
    @Option(name: .customLong("max-size"), parsing: .unconditional, help: ArgumentHelp(SharedOptions.maxSizeHelp))
    var maxSize: Int?

    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Training") var training: TrainingOptions
    @Option(parsing: .unconditional, help: "Random seed (initialisation, dropout, sentence order).") var seed: UInt64?

    // The groups' values, by the names the checks below use.
    var preset: String? { model.preset }
    var embeddingSize: Int? { model.embeddingSize?.value }
    var hiddenSize: Int? { model.hiddenSize?.value }
    var layers: Int? { model.layers?.value }
    var dropout: Float? { model.dropout?.value }
    var tieWeights: Bool? { model.tieWeights }
    var initRange: Float? { model.initRange?.value }
    var softmax: String? { model.softmax }
    var batching: String? { training.batching }
    var bptt: Int? { training.bptt?.value }
    var batchSize: Int? { training.batchSize?.value }
    var optimizer: String? { training.optimizer }
    var lr: Float? { training.lr?.value }
    var momentum: Float? { training.momentum?.value }
    var weightDecay: Float? { training.weightDecay?.value }
    var clip: Float? { training.clip?.value }
    var schedule: String? { training.schedule }
    var epochs: Int? { training.epochs?.value }
    var patience: Int? { training.patience?.value }
    var timeLimit: Double? { training.timeLimit?.value.seconds }
    var trainTokens: Int? { training.trainTokens?.value }
    var threads: Int? { training.threads?.value }

    // Run control.
    @Flag(help: "Continue the run in --run from its last.safetensors.") var resume = false
    @Flag(help: "Replace a run that --run already holds.") var force = false
    @Flag(name: .customLong("if-needed"),
          help: "Start, resume or skip as --run requires: no run: start; interrupted (last.safetensors, no summary.json): --resume; started without a checkpoint: --force; finished (summary.json): print a note and exit 0. For scheduler lines that may run twice.")
    var ifNeeded = false
    @Option(name: .customLong("checkpoint-every"), parsing: .unconditional, help: "Save last.safetensors at least every SECONDS (besides every epoch end).")
    var checkpointEvery: Double = 600
    @Option(name: .customLong("stop-after-steps"), parsing: .unconditional, help: "Stop cleanly after N optimizer steps in this session (continue with --resume).")
    var stopAfterSteps: Int?

    @OptionGroup(title: "Embeddings") var input: EmbeddingOptions
    @OptionGroup(title: "GLoMo") var graphs: GLoMoOptions
    var embeddings: String? { input.embeddings }
    var embeddingMode: String? { input.embeddingMode }
    var glomo: String? { graphs.glomo }
    var glomoOn: String? { graphs.glomoOn }
    var glomoWeights: String? { graphs.glomoWeights }

    /// Checks the flags; every problem is thrown as a one-line error (no usage text).
    func checkFlags() throws {
        func fail(_ message: String) throws { throw TrainingSetupError(message) }
        func oneOf(_ value: String?, _ flag: String, _ allowed: [String]) throws {
            if let value, !allowed.contains(value) {
                try fail("\(flag) '\(value)' is not one of " + allowed.joined(separator: ", "))
            }
        }
        try oneOf(preset, "--preset", Preset.allCases.map(\.rawValue))
        try oneOf(batching, "--batching", TrainingConfig.Batching.allCases.map(\.rawValue))
        try oneOf(optimizer, "--optimizer", TrainingConfig.OptimizerKind.allCases.map(\.rawValue))
        try oneOf(embeddingMode, "--embedding-mode", EmbeddingMode.allCases.map(\.rawValue))
        try oneOf(glomoOn, "--glomo-on", GLoMoSite.allCases.map(\.rawValue))
        try oneOf(glomoWeights, "--glomo-weights", GraphMixWeighting.allCases.map(\.rawValue))
        if let schedule { _ = try TrainingConfig.Schedule(parsing: schedule) }
        if let softmax { _ = try SoftmaxChoice(parsing: softmax) }
        if corpusOptions.split != nil {
            try fail("--split does not apply to train: use --corpus (split by records) or --train/--valid/--test")
        }
        if resume && force { try fail("--resume and --force exclude each other") }
        if ifNeeded && (resume || force) { try fail("--if-needed chooses --resume or --force itself: give it alone") }
        if embeddingMode != nil && embeddings == nil { try fail("--embedding-mode needs --embeddings FILE") }
        if glomoOn != nil && glomo == nil { try fail("--glomo-on needs --glomo DIR") }
        if glomoWeights != nil && glomo == nil { try fail("--glomo-weights needs --glomo DIR") }
        do { try OptionBounds.checkThreads(threads) } catch let e as ValidationError { try fail(e.message) }
        if !(checkpointEvery > 0) { try fail("--checkpoint-every must be a positive number of seconds") }
        if let stopAfterSteps, stopAfterSteps < 0 { try fail("--stop-after-steps must be at least 0") }
        if let maxSize, maxSize < 2 { try fail("--max-size must be at least 2 (<unk> and <eos>)") }
        if !resume && corpus.isEmpty && train.isEmpty { try fail("give the data: --corpus PATH... or --train PATH... --valid PATH...") }
        if let minCount, minCount < 1 { try fail("--min-count must be at least 1, got \(minCount)") }
        if !resume {
            // The model and training numbers, before any data is read (with the vocabulary
            // size still unknown: the sizes are checked again once it is).
            let p = preset.flatMap(Preset.init(rawValue:)) ?? .small
            var model = p.model(vocabularySize: 2), training = p.training
            try makeRequest().overrides.apply(model: &model, training: &training)
            try TrainFlags.naming {
                try TrainingRequest.check(RunConfig(model: model, training: training, corpus: .init(), tokenization: .init(), vocabularyHash: ""),
                                          trainTokens: trainTokens)
            }
        }
    }

    func makeRequest() throws -> TrainingRequest {
        var request = TrainingRequest(runPath: runPath)
        if !corpus.isEmpty || !train.isEmpty || !valid.isEmpty || !test.isEmpty {
            request.data = CorpusSelection(corpus: corpus, train: train, valid: valid, test: test,
                                           readOptions: corpusOptions.readOptions, tokenization: corpusOptions.tokenization)
        }
        request.vocabularyFile = vocab
        request.minCount = minCount
        request.maxSize = maxSize
        request.preset = preset.flatMap(Preset.init(rawValue:))
        var o = ConfigOverrides()
        o.embeddingSize = embeddingSize
        o.hiddenSize = hiddenSize
        o.layers = layers
        o.dropout = dropout
        o.tieWeights = tieWeights
        o.initRange = initRange
        o.batching = batching.flatMap(TrainingConfig.Batching.init(rawValue:))
        o.bptt = bptt
        o.batchSize = batchSize
        o.optimizer = optimizer.flatMap(TrainingConfig.OptimizerKind.init(rawValue:))
        o.learningRate = lr
        o.momentum = momentum
        o.weightDecay = weightDecay
        o.clip = clip
        o.schedule = try schedule.map(TrainingConfig.Schedule.init(parsing:))
        o.epochs = epochs
        o.patience = patience
        o.timeLimitSeconds = timeLimit
        o.seed = seed
        o.softmax = try softmax.map(SoftmaxChoice.init(parsing:))
        request.overrides = o
        if let embeddings {
            request.inputRepresentation = RunConfig.InputSource(kind: .pretrained, path: embeddings,
                                                                mode: embeddingMode.flatMap(EmbeddingMode.init(rawValue:)) ?? .frozen)
        }
        if let glomo {
            request.glomo = RunConfig.GLoMoUse(path: glomo, contentHash: "", on: glomoOn.flatMap(GLoMoSite.init(rawValue:)) ?? .embeddings,
                                               weights: glomoWeights.flatMap(GraphMixWeighting.init(rawValue:)) ?? .global)
        }
        request.trainTokens = trainTokens
        request.resume = resume
        request.force = force
        request.options.checkpointEvery = checkpointEvery
        request.options.stopAfterSteps = stopAfterSteps
        return request
    }

    mutating func run() throws {
        try checkFlags()
        // One writer per run; under its lock --if-needed chooses the flags (RunFolder.decide).
        guard let flags = try RunFolder.decide(runPath, ifNeeded: ifNeeded, resume: resume, force: force, note: printLine) else { return }
        (resume, force) = flags
        if let threads { BLASRuntime.setThreads(threads) }
        // Log lines go to stdout, the progress display and errors to stderr.
        let progress = ProgressReporter()
        let log: (String) -> Void = { line in
            progress.finish()
            print(line)
            fflush(stdout)
        }
        log("BLAS: \(BLASRuntime.info)")
        let trainer = try TrainFlags.naming { try makeRequest().prepare(log: log) }
        trainer.progress = progress
        switch try stoppingOnSignals({ try trainer.train() }) {
        case .finished(let s):
            let test = s.testPerplexity.map { String(format: "%.2f", $0) } ?? "-"
            print("valid ppl \(String(format: "%.2f", s.validPerplexity))  test ppl \(test)  (\(s.epochs) epochs, \(String(format: "%.0f", s.seconds)) s, \(runPath))")
        case .stopped(let signal, _):
            if let signal { throw ExitCode(SessionStop.exitStatus(signal)) }
        }
    }
}

/// Prints `line` and flushes standard output (a note that must appear before what follows).
func printLine(_ line: String) {
    print(line)
    fflush(stdout)
}
