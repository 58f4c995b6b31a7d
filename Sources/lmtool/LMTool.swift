import ArgumentParser

@main
struct LMTool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lmtool",
        abstract: "Reverse-transfer language modeling: do representations trained for other tasks help a language model?",
        discussion: """
            Corpora may be plain UTF-8 text (one sentence or paragraph per line) or JSONL documents \
            with a "text" field, each optionally zstd- or gzip-compressed (detected by magic bytes). \
            A corpus argument may be a file, several files, or a directory.
            """,
        version: "0.1.0",
        subcommands: [CorpusCommand.self, VocabCommand.self])
}
