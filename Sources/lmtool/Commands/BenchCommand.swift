import ArgumentParser
import LM
import NN

extension LanguageModelBenchmark.Phases: ExpressibleByArgument {}

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks of the numeric core.",
        subcommands: [GEMM.self, LanguageModelBench.self])

    struct GEMM: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gemm",
            abstract: "GEMM GFLOP/s on the language model's shapes (forward and both backward forms).",
            discussion: "Best of --repeats rounds per shape, after a warm-up call. Build in release mode first.")

        @Option(parsing: .unconditional, help: "Timed rounds per shape.")
        var repeats = 5

        @Option(parsing: .unconditional, help: ArgumentHelp(SharedOptions.threadsHelp))
        var threads: Int?

        func validate() throws {
            if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
            try OptionBounds.checkThreads(threads)
        }

        func run() throws {
            if let threads { BLASRuntime.setThreads(threads) }
            print("# \(BLASRuntime.info)")
            for result in GEMMBenchmark.run(repeats: repeats) { print(result) }
        }
    }

    struct LanguageModelBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lm",
            abstract: "LSTM language model training and evaluation throughput (tokens/s) and peak RSS.",
            discussion: """
                On random ids, with the shapes of lmtool train's presets: tiny (vocab 5k, 64/64, 1 layer, BPTT 35, \
                batch 32), small (vocab 10k, 200/200, 2 layers, BPTT 20, batch 20), medium (vocab 10k, \
                650/650, 2 layers, BPTT 35, batch 20, dropout 0.5). Training = forward + backward + \
                clip 0.25 + SGD step. --vocab N replaces the vocabulary size; --softmax adaptive uses an \
                adaptive softmax on Zipf-distributed ids with cutoffs chosen from those frequencies (printed). \
                scripts/bench-lm.sh runs it next to PyTorch (scripts/bench_lm_pytorch.py takes the same \
                flags). Build in release mode first.
                """)

        enum Which: String, ExpressibleByArgument, CaseIterable {
            case tiny, small, medium, all
        }

        @Option(help: "Configuration: tiny, small, medium or all.")
        var preset: Which = .all

        @Option(parsing: .unconditional, help: "Timed windows (BPTT batches) per phase.")
        var steps = 30

        @Option(help: "Phases to time: both, train or eval (a phase not run prints as -).")
        var phase: LanguageModelBenchmark.Phases = .both

        @Option(parsing: .unconditional, help: "Vocabulary size (default: the preset's, 5k for tiny, 10k otherwise).")
        var vocab: Int?

        @Option(help: "Output layer: full (default) or adaptive (Zipf-distributed ids, cutoffs from their frequencies).")
        var softmax: String = "full"

        @Option(parsing: .unconditional, help: ArgumentHelp(SharedOptions.threadsHelp))
        var threads: Int?

        func validate() throws {
            if steps < 1 { throw ValidationError("--steps must be at least 1") }
            if let vocab, !(2...Int(Int32.max)).contains(vocab) { throw ValidationError("--vocab must be in 2...\(Int32.max), got \(vocab)") }
            if !["full", "adaptive"].contains(softmax) { throw ValidationError("--softmax '\(softmax)' is not one of full, adaptive") }
            try OptionBounds.checkThreads(threads)
        }

        func run() throws {
            if let threads { BLASRuntime.setThreads(threads) }
            print("# \(BLASRuntime.info)")
            let presets: [Preset] = preset == .all ? [.tiny, .small, .medium] : [Preset(rawValue: preset.rawValue)!]
            for p in presets {
                // A --vocab too large to allocate is an error, not a crash: checked with a full
                // softmax's sizes (the larger), before the adaptive cutoffs are chosen.
                let full = try LanguageModelBenchmark.Setup(p, vocabularySize: vocab)
                do {
                    try RunConfig(model: full.model, training: p.training, corpus: .init(), tokenization: .init(),
                                  vocabularyHash: "").checkSizes()
                } catch { throw ValidationError("--vocab \(full.model.vocabularySize): \(error)") }
                let setup = softmax == "adaptive" ? try LanguageModelBenchmark.Setup(p, vocabularySize: vocab, adaptive: true) : full
                if let s = setup.model.softmax { print("# \(setup.name): adaptive softmax, cutoffs \(s.cutoffs), div_value \(s.divValue)") }
                print(LanguageModelBenchmark.run(setup, steps: steps, phases: phase))
            }
        }
    }
}
