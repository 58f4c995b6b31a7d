import ArgumentParser
import NN
import Support

@main
struct LMTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lmtool",
        abstract: "Reverse-transfer language modeling: do representations trained for other tasks help a language model?",
        discussion: """
            Corpora may be plain UTF-8 text (one sentence or paragraph per line) or JSONL documents \
            with a "text" field, each optionally zstd- or gzip-compressed (detected by magic bytes). \
            A corpus argument may be a file, several files, or a directory.

            BLAS: on CPUs with AVX-512, lmtool restarts itself once with OPENBLAS_CORETYPE=SkylakeX \
            (Debian's OpenBLAS otherwise picks slower AVX2 kernels); a value you set is never \
            overridden. `lmtool doctor` shows the BLAS in use.
            """,
        version: "0.1.0",
        subcommands: [CorpusCommand.self, VocabCommand.self, DoctorCommand.self, BenchCommand.self, EmbedCommand.self, TrainCommand.self, PerplexityCommand.self, GenerateCommand.self, RescoreCommand.self, PretrainDomainCommand.self, PretrainGLoMoCommand.self, GLoMoCommand.self, AblateCommand.self, ReportCommand.self])

    static func main() {
        // OpenBLAS picks its kernels when it loads, before main: restart with the best core type
        // first (this may not return), then set the thread count unless the user chose one.
        BLASRuntime.reexecWithBestCoreTypeIfNeeded()
        BLASRuntime.applyDefaultThreads()
        // A step started by `lmtool ablate` ends (SIGTERM: save and stop) when ablate dies.
        ParentDeath.applyFromEnvironment()
        main(nil)
    }
}
