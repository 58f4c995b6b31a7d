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
            SIGTERM, after which lmtool exits with status 130/143; a repeat of the signal within 1 s \
            is the same request, a second one later exits at once without saving, with status 75), \
            one line per evaluation to \
            DIR/metrics.jsonl. At the end the best model is scored on the test split (a "test" \
            record, DIR/test-sentences.tsv: tokens<TAB>logprob per sentence) and DIR/summary.json \
            is written last. --resume continues from last.safetensors (refused if the training, \
            validation or test data changed) and ends exactly where an \
            uninterrupted run would (bitwise with --threads 1); flags left out on --resume keep the \
            run's values, flags given must match them, except --epochs N, which extends a finished or \
            interrupted run to N epochs (ending where a run started with N epochs ends); the reading \
            flags (--format, --replace-invalid, --max-line-bytes) are recorded like the rest. A NaN or infinite loss stops training with \
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

    // Run control.
    @Flag(help: "Continue the run in --run from its last.safetensors.") var resume = false
    @Flag(help: "Replace a run that --run already holds.") var force = false
    @Flag(name: .customLong("if-needed"),
          help: "Start, resume or skip as --run requires: no run: start; interrupted (last.safetensors, no summary.json): --resume; started without a checkpoint: --force; finished (summary.json): check the flags against the run as --resume does, then print a note and exit 0 (a different --epochs resumes it). For scheduler lines that may run twice.")
    var ifNeeded = false
    @Option(name: .customLong("checkpoint-every"), parsing: .unconditional, help: "Save last.safetensors at least every SECONDS (besides every epoch end).")
    var checkpointEvery: Double = 600
    @Option(name: .customLong("stop-after-steps"), parsing: .unconditional, help: "Stop cleanly after N optimizer steps in this session (continue with --resume).")
    var stopAfterSteps: Int?

    @OptionGroup(title: "Embeddings") var input: EmbeddingOptions
    @OptionGroup(title: "GLoMo") var graphs: GLoMoOptions

    /// Empty paths and every other problem of the flags (`checkFlags`) are usage errors: one
    /// line, status 64, before anything is read (docs/guarantees.md).
    func validate() throws {
        for (flag, values) in [("--run", [runPath]), ("--corpus", corpus), ("--train", train), ("--valid", valid), ("--test", test),
                               ("--vocab", [vocab]), ("--embeddings", [input.embeddings]), ("--glomo", [graphs.glomo])] as [(String, [String?])] {
            try OptionBounds.checkPaths(flag, values)
        }
        do { try checkFlags() } catch let error as ValidationError { throw error } catch { throw ValidationError(String(describing: error)) }
    }

    /// Checks the flags; every problem is thrown as a one-line error (no usage text). Unknown
    /// choices (`--preset huge`) are refused by the parser already.
    func checkFlags() throws {
        func fail(_ message: String) throws { throw TrainingSetupError(message) }
        if let schedule = training.schedule { _ = try TrainingConfig.Schedule(parsing: schedule) }
        if let softmax = model.softmax { _ = try SoftmaxChoice(parsing: softmax) }
        if corpusOptions.split != nil {
            try fail("--split does not apply to train: use --corpus (split by records) or --train/--valid/--test")
        }
        if resume && force { try fail("--resume and --force exclude each other") }
        if ifNeeded && (resume || force) { try fail("--if-needed chooses --resume or --force itself: give it alone") }
        if input.embeddingMode != nil && input.embeddings == nil { try fail("--embedding-mode needs --embeddings FILE") }
        if graphs.glomoOn != nil && graphs.glomo == nil { try fail("--glomo-on needs --glomo DIR") }
        if graphs.glomoWeights != nil && graphs.glomo == nil { try fail("--glomo-weights needs --glomo DIR") }
        do { try OptionBounds.checkThreads(training.threads?.value) } catch let e as ValidationError { try fail(e.message) }
        if !(checkpointEvery > 0) { try fail("--checkpoint-every must be a positive number of seconds") }
        if let stopAfterSteps, stopAfterSteps < 0 { try fail("--stop-after-steps must be at least 0") }
        if let maxSize, maxSize < 2 { try fail("--max-size must be at least 2 (<unk> and <eos>)") }
        if !resume && corpus.isEmpty && train.isEmpty { try fail("give the data: --corpus PATH... or --train PATH... --valid PATH...") }
        if let minCount, minCount < 1 { try fail("--min-count must be at least 1, got \(minCount)") }
        do {
            try SharedOptions.checkVocabularyFile(vocab, minCountGiven: minCount != nil, maxSizeGiven: maxSize != nil)
        } catch let e as ValidationError { try fail(e.message) }
        if !resume {
            // The model and training numbers, before any data is read (with the vocabulary
            // size still unknown: the sizes are checked again once it is).
            let p = model.preset?.value ?? .small
            var modelConfig = p.model(vocabularySize: 2), trainingConfig = p.training
            try makeRequest().overrides.apply(model: &modelConfig, training: &trainingConfig)
            try TrainFlags.naming {
                try TrainingRequest.check(RunConfig(model: modelConfig, training: trainingConfig, corpus: .init(), tokenization: .init(), vocabularyHash: ""),
                                          trainTokens: training.trainTokens?.value)
            }
        }
    }

    func makeRequest() throws -> TrainingRequest {
        var request = TrainingRequest(runPath: runPath)
        if !corpus.isEmpty || !train.isEmpty || !valid.isEmpty || !test.isEmpty {
            request.data = CorpusSelection(corpus: corpus, train: train, valid: valid, test: test,
                                           readOptions: corpusOptions.readOptions, tokenization: corpusOptions.tokenization)
        }
        request.resumeReading = corpusOptions.readingFlags
        if corpusOptions.tokenizationGiven { request.resumeTokenization = corpusOptions.tokenization }
        request.vocabularyFile = vocab
        request.minCount = minCount
        request.maxSize = maxSize
        request.preset = model.preset?.value
        try model.apply(to: &request.overrides)
        try training.apply(to: &request.overrides)
        request.overrides.seed = seed
        if let embeddings = input.embeddings {
            request.inputRepresentation = RunConfig.InputSource(kind: .pretrained, path: embeddings, mode: input.embeddingMode ?? .frozen)
        }
        if let glomo = graphs.glomo {
            request.glomo = RunConfig.GLoMoUse(path: glomo, contentHash: "", on: graphs.glomoOn ?? .embeddings, weights: graphs.glomoWeights ?? .global)
        }
        request.trainTokens = training.trainTokens?.value
        request.resume = resume
        request.force = force
        request.options.checkpointEvery = checkpointEvery
        request.options.stopAfterSteps = stopAfterSteps
        return request
    }

    mutating func run() throws {
        // One writer per run; under its lock --if-needed chooses the flags (RunFolder.decide).
        // A finished run is skipped only after the configuration check --resume makes.
        guard let flags = try RunFolder.decide(runPath, ifNeeded: ifNeeded, resume: resume, force: force,
                                               checkFinished: { try TrainFlags.naming { try makeRequest().checkFinishedRun(log: printLine) } },
                                               note: printLine) else { return }
        (resume, force) = flags
        if let threads = training.threads?.value { BLASRuntime.setThreads(threads) }
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

// The progress display of `lmtool train`: the trainer reports `ProgressSnapshot`s through
// `TrainingProgress` (LM); this file draws them on standard error.

extension ProgressSnapshot {
    /// The progress line, e.g. `epoch 2/13  45.0%  6,912 tok/s  ETA 1m23s  loss 5.123  ppl 167.8`.
    ///
    /// Unknown values (no rate yet) print as `--`. Pure: the same snapshot gives the same text.
    var line: String {
        let percent = tokensTotal > 0 ? 100 * Double(tokensDone) / Double(tokensTotal) : 0
        let rate = tokensPerSecond.flatMap { $0.isFinite && $0 < 1e15 ? grouped(Int($0.rounded())) : nil } ?? "--"
        let eta = etaSeconds.map(ProgressSnapshot.duration) ?? "--"
        let ppl = loss.isFinite ? ProgressSnapshot.fixed(exp(loss), 1) : "\(exp(loss))"
        return "epoch \(epoch)/\(epochs)  \(ProgressSnapshot.fixed(percent, 1))%  \(rate) tok/s  ETA \(eta)  loss \(ProgressSnapshot.fixed(loss, 3))  ppl \(ppl)"
    }

    /// `3723` → `1h02m`, `83` → `1m23s`, `7.4` → `7s`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite && abs(seconds) < 1e15 else { return "--" }  // (an ETA at a rate near 0)
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h" + pad2((s % 3600) / 60) + "m" }
        if s >= 60 { return "\(s / 60)m" + pad2(s % 60) + "s" }
        return "\(s)s"
    }

    /// `x` with `places` decimals, e.g. `fixed(5.1234, 3)` = `5.123`; beyond what an `Int`
    /// holds exactly (a diverging run's perplexity), in exponent form: `fixed(1.5e20, 1)` = `1.5e+20`.
    static func fixed(_ x: Double, _ places: Int) -> String {
        guard x.isFinite else { return "\(x)" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        guard abs(x) * scale < 1e15 else { return String(format: "%.\(places)e", x) }
        let n = Int((abs(x) * scale).rounded())
        let whole = n / Int(scale), fraction = n % Int(scale)
        var f = String(fraction)
        while f.count < places { f = "0" + f }
        return (x < 0 && n != 0 ? "-" : "") + "\(whole)" + (places > 0 ? "." + f : "")
    }

    private static func pad2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}

/// Shows training progress: on a terminal, one line redrawn in place (`\r`, then clear to the
/// end of the line) at most every `redrawInterval` seconds; otherwise (a log file, a pipe) a
/// plain line every `logInterval` seconds.
///
///     let progress = ProgressReporter()          // stderr, terminal detected with isatty
///     progress.update(snapshot)                  // call after every batch; cheap when throttled
///     progress.finish()                          // ends the redrawn line
final class ProgressReporter: TrainingProgress {
    let isTerminal: Bool
    let logInterval: Double
    let redrawInterval: Double
    private let write: (String) -> Void
    private var lastOutput: Double?
    private var lineOpen = false

    /// - Parameters:
    ///   - isTerminal: redraw in place; by default whether stderr is a terminal.
    ///   - write: where the text goes; by default stderr.
    init(isTerminal: Bool = isatty(STDERR_FILENO) != 0, logInterval: Double = 30, redrawInterval: Double = 0.2,
                write: @escaping (String) -> Void = ProgressReporter.writeToStandardError) {
        self.isTerminal = isTerminal
        self.logInterval = logInterval
        self.redrawInterval = redrawInterval
        self.write = write
    }

    /// Shows `snapshot` if enough time has passed since the last output (`now` in seconds on
    /// any monotonic clock, by default `Support.monotonicSeconds()`). The first
    /// update is always shown.
    func update(_ snapshot: ProgressSnapshot, now: Double = monotonicSeconds()) {
        let interval = isTerminal ? redrawInterval : logInterval
        if let last = lastOutput, now - last < interval { return }
        lastOutput = now
        if isTerminal {
            write("\r" + snapshot.line + "\u{1B}[K")
            lineOpen = true
        } else {
            write(snapshot.line + "\n")
        }
    }

    /// Prints a message on its own line (ending a redrawn progress line first).
    func log(_ message: String) {
        finish()
        write(message + "\n")
    }

    /// Ends the redrawn line on a terminal so that later output starts on a fresh line.
    func finish() {
        if lineOpen { write("\n") }
        lineOpen = false
    }

    static func writeToStandardError(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if n <= 0 { if n < 0 && errno == EINTR { continue } else { return } }
                offset += n
            }
        }
    }
}
