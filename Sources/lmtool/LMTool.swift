import ArgumentParser
import Foundation
import LM
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
        do {
            var command = try parseAsRoot()
            try command.run()
            // What a command printed is still in stdio's buffer: a full disk or a closed pipe
            // shows only now, and must not end with status 0.
            try flushStandardOutput()
        } catch {
            exit(withOneLine: error)
        }
    }

    /// Exits as ArgumentParser's `exit(withError:)` does, except that every error is printed as
    /// one line, `Error: <message>`: a usage error (an unknown, missing or unparsable value, a
    /// failed `validate()`) without the usage text, with status 64; any other error with its
    /// control characters escaped (`Support.escapeControlCharacters`), so that a file name or a
    /// quoted value holding a newline cannot break the line, whichever type the error is.
    /// `--help`, `--version` and `ExitCode.success` print as ArgumentParser prints them, on
    /// standard output, which is then flushed and checked like every command's output
    /// (`flushStandardOutput`); other explicit exit codes are left to ArgumentParser.
    static func exit(withOneLine error: Error) -> Never {
        let code = exitCode(for: error)
        if code == .success {
            let text = fullMessage(for: error)
            if !text.isEmpty { print(text) }
            do { try flushStandardOutput() } catch { exit(withOneLine: error) }
            Foundation.exit(ExitCode.success.rawValue)
        }
        if error is ExitCode { exit(withError: error) }
        var text = message(for: error)
        if code == .validationFailure {
            let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            text = lines.first.map { $0.hasPrefix("Error: ") ? String($0.dropFirst(7)) : $0 } ?? "invalid arguments"
        }
        if text.hasPrefix("Error: ") { text = String(text.dropFirst(7)) }
        FileHandle.standardError.write(Data("Error: \(escapeControlCharacters(text))\n".utf8))
        // A grid stopped cleanly by a signal exits as `train` does (130/143: resumable), not 1.
        if let stopped = error as? AblationRunner.Interrupted, let status = stopped.cleanStopStatus { Foundation.exit(status) }
        Foundation.exit(code.rawValue)
    }
}
