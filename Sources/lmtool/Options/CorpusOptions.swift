import ArgumentParser
import Foundation
import Corpus
import LM

extension RecordFormat: ExpressibleByArgument {}
extension TokenizerKind: ExpressibleByArgument {}
extension Split: ExpressibleByArgument {}

/// How to read and tokenize corpus files; shared by every command that reads a corpus.
struct CorpusOptions: ParsableArguments {
    @Option(name: .customLong("format"), help: "Record format: auto (per file: JSONL if its name or first line says so; the default), lines, jsonl.")
    var formatGiven: RecordFormat?
    var format: RecordFormat { formatGiven ?? .auto }

    @Option(name: .customLong("tokenizer"), help: "Tokenizer: whitespace (pre-tokenized text such as PTB, WikiText; the default) or simple (raw English).")
    var tokenizerGiven: TokenizerKind?
    var tokenizer: TokenizerKind { tokenizerGiven ?? .whitespace }

    @Flag(help: "Lowercase the text (simple tokenizer).")
    var lowercase = false

    @Flag(help: "End every sentence with <eos> (paragraph text is split into sentences) instead of every line.")
    var sentences = false

    @Option(help: "Use only the records of this split (train, valid, test). JSONL records carry their own; others are assigned by blocks of 100 records: 8 of every 10 blocks train, 1 valid, 1 test.")
    var split: Split?

    @Flag(name: .customLong("replace-invalid"), help: "Replace invalid UTF-8 with U+FFFD instead of stopping with an error.")
    var replaceInvalid = false

    @Option(name: .customLong("max-line-bytes"), parsing: .unconditional,
            help: "Longest line accepted, in bytes (memory stays bounded by it; default \(LineReader.defaultMaxLineBytes)).")
    var maxLineBytesGiven: Int?
    var maxLineBytes: Int { maxLineBytesGiven ?? LineReader.defaultMaxLineBytes }

    func validate() throws {
        if maxLineBytes < 1 { throw ValidationError("--max-line-bytes must be at least 1") }
        if lowercase && tokenizer != .simple { throw ValidationError("--lowercase applies to --tokenizer simple only") }
    }

    var readOptions: ReadOptions {
        ReadOptions(format: format, replaceInvalidUTF8: replaceInvalid, maxLineBytes: maxLineBytes)
    }

    var tokenization: TokenizationOptions {
        TokenizationOptions(tokenizer: tokenizer, lowercase: lowercase, splitSentences: sentences)
    }

    /// The reading flags given (`--format`, `--replace-invalid`, `--max-line-bytes`), nil where left out.
    var readingFlags: ReadingFlags {
        ReadingFlags(format: formatGiven, replaceInvalid: replaceInvalid ? true : nil, maxLineBytes: maxLineBytesGiven)
    }

    /// Whether any tokenization flag (`--tokenizer`, `--lowercase`, `--sentences`) was given.
    var tokenizationGiven: Bool { tokenizerGiven != nil || lowercase || sentences }

    /// The reader of `paths` (`-` is standard input); a note on stderr names every directory
    /// entry skipped because it is not a regular file (a FIFO, say).
    func reader(_ paths: [String]) throws -> CorpusReader {
        let reader = try CorpusReader(paths: paths, options: readOptions)
        for entry in reader.skipped { FileHandle.standardError.write(Data("note: \(entry)\n".utf8)) }
        return reader
    }
}
