import ArgumentParser
import Corpus
import Foundation
import LM

/// Discourse or sentence scoring, as a command-line value.
enum ScoringMode: String, ExpressibleByArgument, CaseIterable {
    case discourse, sentence

    var batching: TrainingConfig.Batching { self == .discourse ? .discourse : .sentence }
}

/// A bad option value, reported as one `Error: ...` line (no usage text).
struct ScoringOptionError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Score text files with a trained run: SRILM-style perplexity reports.",
        discussion: """
            Prints, per file, SRILM's `ngram -ppl` summary, two lines: `file F: N sentences, N words, \
            N OOVs`, then `N zeroprobs, logprob= L ppl= P ppl1= P1`, computed from those counts as \
            SRILM does: L = sum of log10 p over the scored positions, P = 10^(-L / (words - OOVs - \
            zeroprobs + sentences)), P1 = 10^(-L / (words - OOVs - zeroprobs)). A word outside the \
            vocabulary (OOV) is counted but not scored, as in `ngram -ppl`; with --unk (as `ngram \
            -unk`) it is scored with the probability of <unk> and 0 OOVs are reported: the \
            PTB/WikiText figure. Without --unk, a file with OOVs gets a note on standard error with \
            the --unk figures; --json carries both. --per-sentence and --per-word add SRILM's \
            -debug 1 and -debug 2 blocks; a word's context is what the model conditions on (`<s>` \
            after a reset, `</s> ...` where discourse mode carries the state into a sentence).

            The run's tokenization (config.json) is used unless --tokenizer, --lowercase or \
            --sentences is given. Discourse mode (the run's default when it trained with discourse \
            batching) carries the state through the whole file from an initial <eos>, one <eos> \
            per line, blank lines included (the WikiText convention); sentence mode scores each \
            line (or sentence) from a fresh state and skips blank lines (they are no sentences). \
            Files are streamed: memory stays bounded by one window (or one batch of sentences) \
            and the longest line.

            Example: lmtool perplexity --model runs/tiny ../shared/corpora/wikitext-2/test.txt.zst --per-word
            """)

    @Option(help: "The run directory (from lmtool train --run DIR).")
    var model: String

    @Argument(help: "Text files to score (plain or JSONL, optionally zstd/gzip).")
    var files: [String]

    @Flag(name: .customLong("per-sentence"), help: "Print each sentence with its own summary (SRILM -debug 1).")
    var perSentence = false

    @Flag(name: .customLong("per-word"), help: "Also print each word's probability (SRILM -debug 2).")
    var perWord = false

    @Flag(help: "Map OOVs to <unk> and score them (SRILM's -unk; the PTB/WikiText figure): then 0 OOVs are reported.")
    var unk = false

    @Flag(help: "Print JSON instead of text (log probabilities named by base: lnProb, log10Prob).")
    var json = false

    @Flag(name: .customLong("by-domain"), help: "Also report each domain of JSONL input (records' \"domain\"): a `domain NAME:` block per domain before each file's (and the total's); in --json a \"domains\" object.")
    var byDomain = false

    @Option(help: "discourse (state carried through the file) or sentence (state reset per sentence); default: the run's batching.")
    var mode: ScoringMode?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Sentences scored at once in sentence mode.")
    var batchSize = 16

    @Option(parsing: .unconditional, help: "Positions per forward pass (default 256 in discourse mode, 64 in sentence mode); longer is faster (the weight is packed fewer times) and costs buffers of the hidden size per layer and position (none of the vocabulary size).")
    var window: Int?

    @OptionGroup var corpus: CorpusOptions

    @OptionGroup var threads: ThreadsOption

    func run() throws {
        threads.apply()
        if batchSize < 1 { throw ScoringOptionError("--batch-size must be at least 1, got \(batchSize)") }
        if let window, window < 1 { throw ScoringOptionError("--window must be at least 1, got \(window)") }
        let evaluator = try loadEvaluator(run: model, mode: mode?.batching, corpus: corpus, batchSize: batchSize, window: window)
        let detail: PerplexityReport.Detail = perWord ? .perWord : perSentence ? .perSentence : .summary
        let out = StandardOutput()
        var total = PerplexityStatistics()
        var totalDomains: [String: PerplexityStatistics] = [:]
        if json {
            out.write("{\n  \"files\" : [\n")
        }
        for (i, file) in files.enumerated() {
            let reader = try corpus.reader([file])
            if json {
                out.write("    {\n      \"file\" : \(try scoringJSON(file)),\n")
                if detail != .summary { out.write("      \"sentences\" : [\n") }
            }
            var first = true
            let body: (PerplexityReport.Sentence) throws -> Void = { sentence in
                if json {
                    guard detail != .summary else { return }
                    let entry = SentenceJSON(text: sentence.text, tokens: detail == .perWord ? sentence.tokens : nil,
                                             statistics: sentence.statistics, followsPrevious: sentence.followsPrevious,
                                             domain: byDomain ? sentence.domain : nil)
                    out.write((first ? "" : ",\n") + "        " + (try scoringJSON(entry)))
                    first = false
                } else {
                    out.write(PerplexityReport.render(sentence: sentence, detail: detail, unk: unk))
                }
            }
            let (stats, domains) = byDomain ? try evaluator.scoreByDomain(reader, split: corpus.split, sentence: body)
                : (try evaluator.score(reader, split: corpus.split, sentence: body), [:])
            total.add(stats)
            totalDomains.merge(domains) { $0.adding($1) }
            if json {
                if detail != .summary { out.write("\n      ],\n") }
                if byDomain { out.write("      \"domains\" : \(try scoringJSON(domains)),\n") }
                out.write("      \"statistics\" : \(try scoringJSON(stats))\n    }\(i + 1 < files.count ? "," : "")\n")
            } else {
                out.write((i > 0 ? "\n" : "") + PerplexityReport.summaries(domains: domains, unk: unk)
                    + PerplexityReport.summary(label: "file \(file)", statistics: stats, unk: unk))
            }
        }
        if json {
            out.write("  ],\n" + (byDomain ? "  \"domains\" : \(try scoringJSON(totalDomains)),\n" : ""))
            out.write("  \"mode\" : \"\(evaluator.mode.rawValue)\",\n  \"model\" : \(try scoringJSON(model)),\n")
            out.write("  \"total\" : \(try scoringJSON(total)),\n  \"unk\" : \(unk)\n}\n")
            return
        }
        if files.count > 1 {
            out.write("\n" + PerplexityReport.summaries(domains: totalDomains, unk: unk)
                + PerplexityReport.summary(label: "total of \(files.count) files", statistics: total, unk: unk))
        }
        // The other convention's figures, on standard error so that stdout stays SRILM's two lines.
        if !unk && total.oovs > 0 {
            let f = total.withOOVs
            fflush(stdout)
            let note = "note: \(total.oovs) OOVs were counted but not scored (SRILM's ngram -ppl); "
                + "scored as <unk> (--unk, the PTB/WikiText figure): logprob= \(f.logprob.srilmText) "
                + "ppl= \(f.ppl.map(\.srilmText) ?? "undefined") ppl1= \(f.ppl1.map(\.srilmText) ?? "undefined")\n"
            FileHandle.standardError.write(Data(note.utf8))
        }
    }

    /// Writes to standard output through C stdio's buffer (so streaming many small pieces is cheap).
    struct StandardOutput {
        func write(_ text: String) { print(text, terminator: "") }
    }

    /// One sentence in `--json` output.
    struct SentenceJSON: Encodable {
        var text: String
        var tokens: [TokenScore]?
        var statistics: PerplexityStatistics
        /// The state was carried into the sentence from the text before (discourse mode).
        var followsPrevious: Bool
        /// The record's domain (with --by-domain).
        var domain: String?
    }
}

/// Loads a run's model for scoring, with the run's tokenization unless the command line names
/// one: `--tokenizer` replaces the recorded tokenizer and lowercasing (`--lowercase` or not;
/// `CorpusOptions` accepts `--lowercase` only with `--tokenizer simple`), `--sentences` turns
/// sentence splitting on.
func loadEvaluator(run: String, mode: TrainingConfig.Batching?, corpus: CorpusOptions?, batchSize: Int, window: Int?) throws -> Evaluator {
    let evaluator = try Evaluator.load(run: run, mode: mode, batchSize: batchSize, window: window)
    guard let corpus else { return evaluator }
    let given = Set(CommandLine.arguments.map { String($0.split(separator: "=", maxSplits: 1).first ?? "") })
    var tokenization = evaluator.tokenization
    if given.contains("--tokenizer") {
        tokenization.tokenizer = corpus.tokenizer
        tokenization.lowercase = corpus.lowercase
    }
    if corpus.lowercase { tokenization.lowercase = true }
    if corpus.sentences { tokenization.splitSentences = true }
    if tokenization == evaluator.tokenization { return evaluator }
    if tokenization.lowercase && tokenization.tokenizer != .simple {
        throw ScoringOptionError("--lowercase applies to --tokenizer simple only (the run uses \(tokenization.tokenizer.rawValue))")
    }
    return Evaluator(model: evaluator.model, vocabulary: evaluator.vocabulary, tokenization: tokenization,
                     mode: evaluator.mode, runConfig: evaluator.runConfig)
}

extension Double {
    /// As SRILM prints numbers (`%g`).
    var srilmText: String { String(format: "%g", self) }
}

/// `value` as compact JSON with sorted keys; non-finite numbers as strings ("-inf").
func scoringJSON<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}
