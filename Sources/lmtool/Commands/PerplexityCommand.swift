import ArgumentParser
import Corpus
import Foundation
import LM

/// `perplexity --mode discourse|sentence`: scoring uses the batching a run trains with.
extension TrainingConfig.Batching: ExpressibleByArgument {}

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
            zeroprobs + sentences)), P1 = 10^(-L / (words - OOVs - zeroprobs)); zeroprobs are \
            positions whose probability underflowed to 0 (a NaN is an error naming the file and \
            line, and a model.safetensors with a NaN or infinite weight is refused). A word outside the \
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

            Every file is a document of its own, from a zero state, with its own summary block; a \
            directory gives one document per file (it used to be one stream); --per-record makes \
            every record (line, or JSONL object) a document. In discourse mode several documents \
            run side by side as batch columns, up to --batch-size at once, each held in memory as \
            token ids while it is scored: the figures are those of each document scored alone \
            (bit for bit, at any window and thread count; see docs/scoring.md), \
            reported in input order.

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
    var mode: TrainingConfig.Batching?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: ArgumentHelp("Sentences scored at once in sentence mode; documents (files, records) side by side in discourse mode; 1 to \(ScoringBounds.maxBatchSize)."))
    var batchSize = 16

    @Option(parsing: .unconditional, help: ArgumentHelp("Positions per forward pass, 1 to \(ScoringBounds.maxWindow) (default 256 for one discourse-mode stream, 64 in sentence mode or for several documents); longer is faster (the weight is packed fewer times) and costs buffers of the hidden size per layer and position (none of the vocabulary size), times --batch-size in sentence mode."))
    var window: Int?

    @OptionGroup var corpus: CorpusOptions

    @OptionGroup var threads: ThreadsOption

    @Flag(name: .customLong("per-record"), help: "Score every record (a line, or a JSONL object) as a document of its own: its own stream from a zero state and its own summary block (discourse mode).")
    var perRecord = false

    func validate() throws {
        try OptionBounds.checkPaths("--model", [model])
        try OptionBounds.checkPaths("a FILE to score", files)
        try OptionBounds.checkRange(1...ScoringBounds.maxBatchSize, batchSize, "--batch-size")
        try OptionBounds.checkRange(1...ScoringBounds.maxWindow, window, "--window")
        if perRecord && byDomain {
            throw ValidationError("--by-domain sums the records of each domain and --per-record reports every record on its own: give one")
        }
    }

    func run() throws {
        threads.apply()
        let config = try RunDirectory.open(at: model).config
        let batching = mode ?? config.training.batching
        // Every file is a document, named or found in a directory.
        let documents = try corpus.reader(files).files
        if perRecord && batching != .discourse {
            throw ScoringOptionError("--per-record applies to discourse mode; sentence mode already scores every sentence on its own (--per-sentence prints each)")
        }
        // Several discourse-mode documents run as parallel batch columns (one at a time with a
        // GLoMo graph, whose carried context is the batch's; and with --by-domain, which
        // attributes each sentence to its record's domain as it streams).
        let several = batching == .discourse && (perRecord || documents.count > 1) && !byDomain
        let columns = several && config.glomo == nil ? (perRecord ? batchSize : min(batchSize, documents.count)) : 1
        let evaluator = try loadEvaluator(run: model, mode: mode, corpus: corpus, batchSize: batchSize,
                                          window: window ?? (columns > 1 ? Evaluator.defaultWindow(for: .sentence) : nil), columns: columns)
        let report = Report(json: json, unk: unk, detail: perWord ? .perWord : perSentence ? .perSentence : .summary, byDomain: byDomain)
        report.start()
        if several {
            try scoreColumns(documents, evaluator: evaluator, report: report)
        } else {
            for file in documents {
                let reader = try corpus.reader([file])
                report.begin(Report.Document(name: file))
                if byDomain {
                    let (statistics, domains) = try evaluator.scoreByDomain(reader, split: corpus.split) { try report.sentence($0) }
                    report.end(statistics, domains: domains)
                } else {
                    report.end(try evaluator.score(reader, split: corpus.split) { try report.sentence($0) })
                }
            }
        }
        try report.finish(mode: evaluator.mode, model: model, kind: perRecord ? "records" : "files")
    }

    /// Discourse mode, several documents (files, or records with --per-record): each its own
    /// zero-state stream, up to --batch-size of them side by side (`ColumnScorer`).
    func scoreColumns(_ files: [String], evaluator: Evaluator, report: Report) throws {
        var names: [Report.Document] = []
        let columns = ColumnScorer(evaluator: evaluator, keepSentences: report.detail != .summary, sentence: { d, sentence in
            if !report.isOpen { report.begin(names[d]) }  // (sentences come in document order)
            try report.sentence(sentence)
        }, finished: { d, statistics in
            if !report.isOpen { report.begin(names[d]) }
            report.end(statistics)
        })
        for file in files {
            let reader = try corpus.reader([file])
            var document = ScoringDocument(evaluator: evaluator, name: file)
            let add: (RecordView) throws -> Void = { record in
                if perRecord {
                    var one = ScoringDocument(evaluator: evaluator, name: record.location.description)
                    one.add(record: record.text)
                    names.append(Report.Document(name: one.name, file: file, line: record.location.line, id: record.id))
                    try columns.add(one)
                } else {
                    document.add(record: record.text, line: record.location.line)
                }
            }
            if let split = corpus.split { try reader.forEachRecord(in: split, add) } else { try reader.forEachRecord(add) }
            if perRecord { continue }
            if document.ids.isEmpty {
                throw CorpusError(file: file, "nothing to score (no tokens\(corpus.split.map { " in the \($0.rawValue) split" } ?? ""))")
            }
            names.append(Report.Document(name: file))
            try columns.add(document)
        }
        if perRecord && names.isEmpty {
            throw CorpusError(file: files.joined(separator: ", "), "nothing to score (no records\(corpus.split.map { " in the \($0.rawValue) split" } ?? ""))")
        }
        try columns.finish()
    }

    /// Writes the report as documents are scored: per document its sentences (with
    /// --per-sentence or --per-word) and its summary block (or JSON object), then the total.
    final class Report {
        /// A scored document: a file, or with --per-record a record (`file:line`, its JSONL id).
        struct Document {
            var name: String
            var file: String? = nil
            var line: Int? = nil
            var id: String? = nil
        }

        let json: Bool
        let unk: Bool
        let detail: PerplexityReport.Detail
        /// --by-domain: a block (JSON object) per domain before each document's and the total's.
        let byDomain: Bool
        let out = StandardOutput()
        /// Documents reported so far, and whether one is being written.
        private(set) var documents = 0
        private(set) var isOpen = false
        private var current = Document(name: "")
        private var firstSentence = true
        private var total = PerplexityStatistics()
        private var totalDomains: [String: PerplexityStatistics] = [:]

        init(json: Bool, unk: Bool, detail: PerplexityReport.Detail, byDomain: Bool = false) {
            self.json = json
            self.unk = unk
            self.detail = detail
            self.byDomain = byDomain
        }

        func start() {
            if json { out.write("{\n  \"files\" : [\n") }
        }

        func begin(_ document: Document) {
            current = document
            isOpen = true
            firstSentence = true
            guard json else { return }
            var header = (documents > 0 ? ",\n" : "") + "    {\n      \"file\" : \((try? scoringJSON(document.file ?? document.name)) ?? "")"
            if let line = document.line { header += ",\n      \"line\" : \(line)" }
            if let id = document.id { header += ",\n      \"id\" : \((try? scoringJSON(id)) ?? "")" }
            out.write(header + ",\n")
            if detail != .summary { out.write("      \"sentences\" : [\n") }
        }

        func sentence(_ sentence: PerplexityReport.Sentence) throws {
            if json {
                guard detail != .summary else { return }
                let entry = SentenceJSON(text: sentence.text, tokens: detail == .perWord ? sentence.tokens : nil,
                                         statistics: sentence.statistics, followsPrevious: sentence.followsPrevious,
                                         domain: byDomain ? sentence.domain : nil)
                out.write((firstSentence ? "" : ",\n") + "        " + (try scoringJSON(entry)))
                firstSentence = false
            } else {
                out.write(PerplexityReport.render(sentence: sentence, detail: detail, unk: unk))
            }
        }

        func end(_ statistics: PerplexityStatistics, domains: [String: PerplexityStatistics] = [:]) {
            total.add(statistics)
            totalDomains.merge(domains) { $0.adding($1) }
            if json {
                if detail != .summary { out.write("\n      ],\n") }
                if byDomain { out.write("      \"domains\" : \((try? scoringJSON(domains)) ?? ""),\n") }
                out.write("      \"statistics\" : \((try? scoringJSON(statistics)) ?? "")\n    }")
            } else {
                let label = current.line == nil ? "file \(current.name)" : "record \(current.name)"
                out.write((documents > 0 ? "\n" : "") + PerplexityReport.summaries(domains: domains, unk: unk)
                    + PerplexityReport.summary(label: label, statistics: statistics, unk: unk))
            }
            documents += 1
            isOpen = false
        }

        /// The total (after several documents) and, without --unk, the note on OOVs.
        func finish(mode: TrainingConfig.Batching, model: String, kind: String) throws {
            if json {
                out.write("\n  ],\n" + (byDomain ? "  \"domains\" : \(try scoringJSON(totalDomains)),\n" : ""))
                out.write("  \"mode\" : \"\(mode.rawValue)\",\n  \"model\" : \(try scoringJSON(model)),\n")
                out.write("  \"total\" : \(try scoringJSON(total)),\n  \"unk\" : \(unk)\n}\n")
                return
            }
            if documents > 1 {
                out.write("\n" + PerplexityReport.summaries(domains: totalDomains, unk: unk)
                    + PerplexityReport.summary(label: "total of \(documents) \(kind)", statistics: total, unk: unk))
            }
            // The other convention's figures, on standard error so that stdout stays SRILM's two lines.
            if !unk && total.oovs > 0 {
                let f = total.withOOVs
                try flushStandardOutput()   // (the note follows what was printed)
                let note = "note: \(total.oovs) OOVs were counted but not scored (SRILM's ngram -ppl); "
                    + "scored as <unk> (--unk, the PTB/WikiText figure): logprob= \(f.logprob.srilmText) "
                    + "ppl= \(f.ppl.map(\.srilmText) ?? "undefined") ppl1= \(f.ppl1.map(\.srilmText) ?? "undefined")\n"
                FileHandle.standardError.write(Data(note.utf8))
            }
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
func loadEvaluator(run: String, mode: TrainingConfig.Batching?, corpus: CorpusOptions?, batchSize: Int, window: Int?,
                   columns: Int = 1) throws -> Evaluator {
    let evaluator = try Evaluator.load(run: run, mode: mode, batchSize: batchSize, window: window, columns: columns)
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
