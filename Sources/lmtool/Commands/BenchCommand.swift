import ArgumentParser
import NN

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmarks of the numeric core.",
        subcommands: [GEMM.self])

    struct GEMM: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "gemm",
            abstract: "GEMM GFLOP/s on the language model's shapes (forward and both backward forms).",
            discussion: "Best of --repeats rounds per shape, after a warm-up call. Build in release mode first.")

        @Option(help: "Timed rounds per shape.")
        var repeats = 5

        @Option(help: "BLAS threads (default: OPENBLAS_NUM_THREADS, else \(BLASRuntime.defaultThreads)).")
        var threads: Int?

        func validate() throws {
            if repeats < 1 { throw ValidationError("--repeats must be at least 1") }
            if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        }

        func run() throws {
            if let threads { BLASRuntime.setThreads(threads) }
            print("# \(BLASRuntime.info)")
            for result in GEMMBenchmark.run(repeats: repeats) { print(result) }
        }
    }
}
