import Corpus
import Foundation

import Glibc

/// The input of `lmtool rescore`: an n-best list in one of five formats (`NBestFormat`), told
/// by `--nbest-format` or detected from the first line.
///
/// - `plain`: one hypothesis per line, optionally `id<TAB>hypothesis`. Either every line has an
///   id or none has (a mix is an error, as it is almost always a formatting slip). Empty (or
///   all-whitespace) lines, an empty id or hypothesis and more than one tab are errors.
/// - `srilm`: SRILM's own format (`nbest-format(5)`), `acoustic lm nwords w1 w2 ...`: log10
///   acoustic and LM scores, a word count, the words. No header.
/// - `nbestlist1`: SRILM's Decipher NBestList1.0: the header line `NBestList1.0`, then
///   `(total) w1 w2 ...` with the total score in bytelog
///   (log10 = bytelog · 1024 / 10000.5 / ln 10).
/// - `nbestlist2`: Decipher NBestList2.0: the header `NBestList2.0`, then `(total)` and 11 fields
///   per token, `w ( st: start et: end g: lm a: acoustic )`, scores in bytelog. As SRILM reads it,
///   tokens that start before the previous word ended (phones) or end in `-` and a digit (HMM
///   states) are not words; the acoustic score is the sum of the words' `a:`.
/// - `moses`: `id ||| hypothesis ||| feature scores ||| total` (more `|||` fields, e.g.
///   alignments, are kept); the id names the sentence, several lines share it.
///
/// Detection (without `--nbest-format`): a first line `NBestList1.0` or `NBestList2.0`; a first
/// line with ` ||| ` is Moses; a first line without a tab whose first three fields are a number,
/// a number ≤ 0 (a log10 probability) and a count is `srilm`; anything else is `plain`, except
/// that a first line starting with a Decipher score `(number)` but no header is refused (SRILM
/// writes the header; reading such a line as text would score its score). Every line must then
/// be of that format: a line that is not is a `CorpusError` naming the file and line, e.g.
/// `nbest.txt:3: expected 'id ||| hypothesis ||| features ||| total' (Moses n-best format, 4 or
/// more '|||' fields), found 2 (the format was detected from line 1)`. In the scored formats an
/// empty hypothesis is allowed (it is scored as `</s>` alone); in `plain` it is an error.
///
/// A hypothesis is one sentence. A leading `<s>` and a trailing `</s>` or `<eos>` are its
/// boundaries, not words (`Hypothesis.sentence`, what lmtool scores; as SRILM's
/// `LM::prepareSentence`); `text` keeps them as read. A sentence tag anywhere else (`the </s>
/// cat`) is an error naming the line: scored, it would be a word, or a second sentence end.
///
/// Lines end with `\n` (a `\r` before it is dropped); the file may be zstd- or gzip-compressed,
/// a pipe or `-` (standard input), and is opened like every text input (`openTextSource`: a
/// UTF-8 byte order mark is skipped, UTF-16/32 refused); invalid UTF-8 is an error naming the
/// line. Hypotheses keep their order.
///
///     nbest.txt:                  utt1-1<TAB>the cat sat
///                                 utt1-2<TAB>the cat sad
///     let list = try NBestList(contentsOf: "nbest.txt")
///     list.hypotheses[1]          // id "utt1-2", text "the cat sad", line 2
///
/// Rescoring (`combinedScores`) adds lmtool's log10 probability, weighted, and a word penalty to
/// the list's own score, as SRILM's `rescore-nbest` does; `render(reranked:...)` writes the list
/// back in its own format, best first.
/// The n-best list formats `lmtool rescore` reads and writes (see `NBestList`).
public enum NBestFormat: String, CaseIterable, Sendable {
    case plain, srilm, nbestlist1, nbestlist2, moses

    /// The header line of the Decipher formats.
    var header: String? {
        switch self {
        case .nbestlist1: "NBestList1.0"
        case .nbestlist2: "NBestList2.0"
        default: nil
        }
    }

    /// The format of a list whose first line is `line`, as described in `NBestList`.
    static func detect(firstLine line: String) -> NBestFormat {
        let trimmed = line.trimmingWhitespace
        if trimmed == "NBestList1.0" { return .nbestlist1 }
        if trimmed == "NBestList2.0" { return .nbestlist2 }
        if line.contains(" ||| ") { return .moses }
        if !line.contains("\t") {
            let fields = line.split(whereSeparator: { $0 == " " })
            // An LM score is a log10 probability: never above 0 ("3 2 1 go" stays plain text).
            if fields.count >= 3, Double(fields[0])?.isFinite == true, let lm = Double(fields[1]), lm <= 0,
               let n = Int(fields[2]), n >= 0 {
                return .srilm
            }
        }
        return .plain
    }
}

/// Converts Decipher bytelogs and log10 scores as SRILM's `Prob.h` does.
public enum Bytelog {
    /// log10 of a bytelog: `b · 1024 / 10000.5 / ln 10`.
    public static func toLog10(_ b: Double) -> Double { b * (1024.0 / 10000.5 / M_LN10) }
    /// The bytelog of a log10 score, rounded to the nearest integer (`rint`).
    public static func fromLog10(_ x: Double) -> Double { (x * (M_LN10 * 10000.5 / 1024.0)).rounded(.toNearestOrEven) }
}

public struct NBestList: Equatable, Sendable {
    public struct Hypothesis: Equatable, Sendable {
        /// The id before the tab (plain), or the sentence id (Moses).
        public var id: String?
        /// The words lmtool scores.
        public var text: String
        /// 1-based line number in the file.
        public var line: Int
        /// The list's own score that lmtool's is combined with (log10 except for Moses, whose
        /// total is in the decoder's own scale): SRILM's acoustic score, the NBestList1.0 total,
        /// the NBestList2.0 acoustic sum, the Moses total; nil in plain lists.
        public var listScore: Double?
        /// What is kept to write the line back (see `render(reranked:...)`).
        var layout: Layout

        /// What lmtool scores as the hypothesis' one sentence: `text` without a leading `<s>`
        /// and a trailing `</s>` or `<eos>`, which are its sentence boundaries, not words (as
        /// SRILM's `LM::prepareSentence` reads them); the text as read when it has none. Such a
        /// tag anywhere else is refused when the list is read.
        ///
        ///     "<s> the cat </s>"  →  "the cat"
        public var sentence: String { Self.splitBoundaries(text).sentence }

        /// The sentence tags lmtool reads as boundaries (see `sentence`).
        static let sentenceStart = "<s>"
        static let sentenceEnds: Set<String> = ["</s>", Vocabulary.endOfSentenceToken]

        /// `text` without its boundary tags, and the first tag left inside it, if any.
        static func splitBoundaries(_ text: String) -> (sentence: String, misplacedTag: String?) {
            var words = WhitespaceTokenizer().tokens(text)
            let original = words.count
            if words.first == sentenceStart { words.removeFirst() }
            if let last = words.last, sentenceEnds.contains(last) { words.removeLast() }
            let misplaced = words.first { $0 == sentenceStart || sentenceEnds.contains($0) }
            return (words.count == original ? text : words.joined(separator: " "), misplaced)
        }

        public init(id: String?, text: String, line: Int) {
            self.init(id: id, text: text, line: line, listScore: nil, layout: .plain)
        }

        init(id: String?, text: String, line: Int, listScore: Double?, layout: Layout) {
            self.id = id
            self.text = text
            self.line = line
            self.listScore = listScore
            self.layout = layout
        }
    }

    /// The fields of a line that are written back as they were read.
    enum Layout: Equatable, Sendable {
        case plain
        /// SRILM: the acoustic score as written.
        case srilm(acoustic: String)
        /// Decipher: everything after `(total)`, fields joined by one space.
        case decipher(rest: String)
        /// Moses: the feature scores and any fields after the total, as written (trimmed).
        case moses(features: String, extra: [String])
    }

    public var path: String
    public var format: NBestFormat
    public var hypotheses: [Hypothesis]

    /// Reads and checks the n-best file at `path`, in `format` or the format its first line shows.
    public init(contentsOf path: String, format: NBestFormat? = nil) throws {
        let (source, _) = try openTextSource(path: path)
        var parser = Parser(path: path, format: format)
        try LineReader(source: source, path: path).forEachLine { line, number in
            try parser.add(Array(line), line: number)
        }
        self = try parser.finish()
    }

    /// Parses n-best text already in memory; `path` names it in errors.
    public init(parsing text: String, path: String, format: NBestFormat? = nil) throws {
        var parser = Parser(path: path, format: format)
        var lines = text.utf8.split(separator: 10, omittingEmptySubsequences: false).map { Array($0) }
        if lines.last?.isEmpty == true { lines.removeLast() }   // the final newline ends a line, it starts none
        for (i, var line) in lines.enumerated() {
            if line.last == 13 { line.removeLast() }
            try parser.add(line, line: i + 1)
        }
        self = try parser.finish()
    }

    private struct Parser {
        let path: String
        /// The format, once told or detected from the first line.
        var format: NBestFormat?
        var hypotheses: [Hypothesis] = []
        /// Whether the first line had an id, and that line's number (plain).
        var firstHadID: (Bool, Int)?
        var sawHeader = false
        /// The line the format was detected from (nil when it was given).
        var detectedAt: Int?

        init(path: String, format: NBestFormat?) {
            self.path = path
            self.format = format
        }

        mutating func add(_ bytes: [UInt8], line: Int) throws {
            let file = path
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw CorpusError(file: file, position: .line(line), "not valid UTF-8")
            }
            if self.format == nil {
                detectedAt = line
                self.format = NBestFormat.detect(firstLine: text)
                if self.format == .plain, let first = text.split(separator: " ").first, first.hasPrefix("("), first.hasSuffix(")"),
                   Double(first.dropFirst().dropLast()) != nil {
                    throw CorpusError(file: file, position: .line(line),
                                      "starts with a Decipher score '\(first)' but the list has no NBestList1.0 or NBestList2.0 header line (add it, or choose the format)")
                }
            }
            let format = self.format!
            // Errors in a detected format say so: a plain file whose first line only looked like one is read wrongly.
            let note = detectedAt.map { $0 < line && (format == .srilm || format == .moses) ? " (the format was detected from line \($0))" : "" } ?? ""
            let fail = { (message: String) in CorpusError(file: file, position: .line(line), message + note) }
            switch format {
            case .plain: try addPlain(text, line: line, fail)
            case .srilm: try addSRILM(text, line: line, fail)
            case .nbestlist1, .nbestlist2:
                if !sawHeader {
                    guard text.trimmingWhitespace == format.header! else {
                        throw fail("expected the header line '\(format.header!)' of an \(format.header!) list")
                    }
                    sawHeader = true
                    return
                }
                try addDecipher(text, version: format == .nbestlist1 ? 1 : 2, line: line, fail)
            case .moses: try addMoses(text, line: line, fail)
            }
            // The line's hypothesis is one sentence: a sentence tag inside it would score as a
            // word (or end a sentence in the middle).
            if let tag = Hypothesis.splitBoundaries(hypotheses.last!.text).misplacedTag {
                throw fail("'\(tag)' inside the hypothesis: a hypothesis is one sentence, so <s> may only be its first word and </s> or <eos> its last")
            }
        }

        mutating func addPlain(_ text: String, line: Int, _ fail: (String) -> CorpusError) throws {
            let fields = text.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count <= 2 else { throw fail("more than one tab; expected 'hypothesis' or 'id<TAB>hypothesis'") }
            let id = fields.count == 2 ? String(fields[0]) : nil
            let hypothesis = String(fields.last!)
            if let id, id.allSatisfy(\.isWhitespace) { throw fail("empty id before the tab") }
            if hypothesis.allSatisfy(\.isWhitespace) {
                throw fail(id.map { "empty hypothesis after id '\($0)'" } ?? "empty hypothesis")
            }
            if let (hadID, first) = firstHadID, hadID != (id != nil) {
                throw fail(hadID ? "no id, but line \(first) has one (id<TAB>hypothesis)" : "has an id, but line \(first) has none")
            }
            if firstHadID == nil { firstHadID = (id != nil, line) }
            hypotheses.append(Hypothesis(id: id, text: hypothesis, line: line))
        }

        /// `acoustic lm nwords w1 w2 ...`
        mutating func addSRILM(_ text: String, line: Int, _ fail: (String) -> CorpusError) throws {
            let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 3 else {
                throw fail("expected 'acoustic-score lm-score word-count words...' (SRILM n-best format), found \(fields.count) field(s)")
            }
            guard let acoustic = Double(fields[0]), acoustic.isFinite else { throw fail("bad acoustic score '\(fields[0])' (SRILM n-best format)") }
            guard let lm = Double(fields[1]), lm.isFinite || lm == -.infinity else { throw fail("bad LM score '\(fields[1])' (SRILM n-best format)") }
            guard let n = Int(fields[2]), n >= 0 else { throw fail("bad word count '\(fields[2])' (SRILM n-best format)") }
            hypotheses.append(Hypothesis(id: nil, text: fields[3...].joined(separator: " "), line: line, listScore: acoustic,
                                         layout: .srilm(acoustic: String(fields[0]))))
        }

        /// `(total) w1 w2 ...` (1.0) or `(total) w1 ( st: s et: e g: lm a: ac ) ...` (2.0).
        mutating func addDecipher(_ text: String, version: Int, line: Int, _ fail: (String) -> CorpusError) throws {
            let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            let name = version == 1 ? "NBestList1.0" : "NBestList2.0"
            guard let first = fields.first, first.hasPrefix("("), first.hasSuffix(")"), first.count > 2,
                  let total = Double(first.dropFirst().dropLast()), total.isFinite else {
                throw fail("expected '(score)' first (\(name), a bytelog score in parentheses), found '\(fields.first ?? "")'")
            }
            let rest = fields.dropFirst()
            if version == 1 {
                hypotheses.append(Hypothesis(id: nil, text: rest.joined(separator: " "), line: line,
                                             listScore: Bytelog.toLog10(total), layout: .decipher(rest: rest.joined(separator: " "))))
                return
            }
            guard rest.count % 11 == 0 else {
                throw fail("\(rest.count) fields after the score; NBestList2.0 has 11 per token: 'w ( st: start et: end g: lm a: acoustic )'")
            }
            var words: [String] = []
            var acoustic = 0.0
            var previousEnd = -Double.infinity
            for t in 0..<(rest.count / 11) {
                let f = Array(rest[(rest.startIndex + 11 * t)..<(rest.startIndex + 11 * t + 11)])
                guard f[1] == "(", f[2] == "st:", f[4] == "et:", f[6] == "g:", f[8] == "a:", f[10] == ")",
                      let start = Double(f[3]), let end = Double(f[5]), Double(f[7]) != nil, let a = Double(f[9]) else {
                    throw fail("token \(t + 1) '\(f.joined(separator: " "))' is not 'w ( st: start et: end g: lm a: acoustic )' (NBestList2.0)")
                }
                // As SRILM: HMM-state tokens (ending in '-' and a digit) and tokens starting
                // before the previous word's end (its phones) are not words.
                let word = f[0]
                let chars = Array(word)
                let isState = chars.count >= 2 && chars[chars.count - 2] == "-" && chars.last!.isASCII && chars.last!.isNumber
                if start > previousEnd && !isState {
                    words.append(word)
                    acoustic += a
                    previousEnd = end
                }
            }
            hypotheses.append(Hypothesis(id: nil, text: words.joined(separator: " "), line: line,
                                         listScore: Bytelog.toLog10(acoustic), layout: .decipher(rest: rest.joined(separator: " "))))
        }

        /// `id ||| hypothesis ||| features ||| total [||| more]`
        mutating func addMoses(_ text: String, line: Int, _ fail: (String) -> CorpusError) throws {
            let fields = text.components(separatedBy: "|||").map(\.trimmingWhitespace)
            guard fields.count >= 4 else {
                throw fail("expected 'id ||| hypothesis ||| features ||| total' (Moses n-best format, 4 or more '|||' fields), found \(fields.count)")
            }
            guard !fields[0].isEmpty, !fields[0].contains(" ") else { throw fail("bad sentence id '\(fields[0])' (Moses n-best format)") }
            guard let total = Double(fields[3]), total.isFinite else { throw fail("bad total score '\(fields[3])' (Moses n-best format)") }
            hypotheses.append(Hypothesis(id: fields[0], text: fields[1], line: line, listScore: total,
                                         layout: .moses(features: fields[2], extra: Array(fields[4...]))))
        }

        func finish() throws -> NBestList {
            guard !hypotheses.isEmpty else {
                throw CorpusError(file: path, sawHeader ? "no hypotheses after the \(format?.header ?? "") header" : "no hypotheses (the file is empty)")
            }
            return NBestList(path: path, format: format ?? .plain, hypotheses: hypotheses)
        }
    }

    /// The output of `lmtool rescore` without `--output`: one line per hypothesis in input order,
    /// `id<TAB>score` when the hypotheses have ids, else just the score; scores are log10
    /// probabilities printed as SRILM prints numbers (`%g`). With `totals`, a third (second)
    /// column carries the combined score (`%.10g`: totals of lists can be large).
    ///
    ///     list.render(log10Probabilities: [-12.5, -14.25])   // "utt1-1\t-12.5\nutt1-2\t-14.25\n"
    public func render(log10Probabilities scores: [Double], totals: [Double]? = nil) -> String {
        precondition(scores.count == hypotheses.count && (totals?.count ?? scores.count) == scores.count, "one score per hypothesis")
        var out = ""
        for (i, h) in hypotheses.enumerated() {
            out += (h.id.map { $0 + "\t" } ?? "") + g(scores[i]) + (totals.map { "\t" + String(format: "%.10g", $0[i]) } ?? "") + "\n"
        }
        return out
    }

    /// The score each hypothesis is reranked by: its list score (0 in plain lists) plus
    /// `lmWeight ·` lmtool's log10 probability plus `wordPenalty ·` its number of words, as
    /// SRILM's `NBestHyp::rescore` combines acoustic score, weighted LM score and word
    /// transition weight:
    ///
    /// - `srilm`: acoustic + W·lm + P·words (the list's own LM score is replaced);
    /// - `nbestlist1`: total + W·lm + P·words (the list has one total; SRILM uses it as the
    ///   acoustic score, so the recognizer's LM score stays in it);
    /// - `nbestlist2`: Σ a: + W·lm + P·words (the list's `g:` LM scores are replaced);
    /// - `moses`: total + W·lm + P·words (lmtool is one more feature of weight W);
    /// - `plain`: W·lm + P·words.
    ///
    /// `words` counts what lmtool scored, `</s>` not included (SRILM's `numWords`).
    public func combinedScores(log10Probabilities lm: [Double], words: [Int], lmWeight: Double, wordPenalty: Double) -> [Double] {
        precondition(lm.count == hypotheses.count && words.count == hypotheses.count, "one score per hypothesis")
        return hypotheses.indices.map { i in
            // 0 · −inf is nan: a weight of 0 ignores lmtool's score entirely.
            let lmTerm = lmWeight == 0 ? 0 : lmWeight * lm[i]
            return (hypotheses[i].listScore ?? 0) + lmTerm + wordPenalty * Double(words[i])
        }
    }

    /// The hypotheses' indices best first by `totals` (ties keep the input order). Moses lists
    /// are reranked within each sentence id, sentences in the order they first appear; the
    /// other formats hold one list.
    public func rerankedOrder(totals: [Double]) -> [Int] {
        precondition(totals.count == hypotheses.count, "one score per hypothesis")
        func best(_ indices: [Int]) -> [Int] {
            indices.enumerated().sorted { a, b in
                let x = totals[a.element], y = totals[b.element]
                return x != y && !(x.isNaN || y.isNaN) ? x > y : a.offset < b.offset
            }.map(\.element)
        }
        guard format == .moses else { return best(Array(hypotheses.indices)) }
        var groups: [String: [Int]] = [:], order: [String] = []
        for (i, h) in hypotheses.enumerated() {
            if groups[h.id!] == nil { order.append(h.id!) }
            groups[h.id!, default: []].append(i)
        }
        return order.flatMap { best(groups[$0]!) }
    }

    /// The list written back in its own format, best first (`rerankedOrder`), with lmtool's
    /// scores in it:
    ///
    /// - `plain`: the lines as read, reordered;
    /// - `srilm`: `acoustic lm words w1 ...` with the acoustic score as read, lmtool's log10
    ///   probability (unweighted, `%.15g` as SRILM writes) as the LM score and lmtool's word count;
    /// - `nbestlist1`, `nbestlist2`: the header, then `(total)` in bytelog (rounded as SRILM
    ///   rounds) and the rest of the line as read (2.0's `g:` fields keep the old LM scores);
    /// - `moses`: `id ||| hypothesis ||| features lmtool= lm ||| total [||| more]` with lmtool's
    ///   log10 probability appended as the feature `lmtool=` and the combined total.
    public func render(reranked totals: [Double], log10Probabilities lm: [Double], words: [Int]) -> String {
        precondition(totals.count == hypotheses.count && lm.count == totals.count && words.count == totals.count, "one score per hypothesis")
        var out = format.header.map { $0 + "\n" } ?? ""
        for i in rerankedOrder(totals: totals) {
            let h = hypotheses[i]
            switch h.layout {
            case .plain:
                out += (h.id.map { $0 + "\t" } ?? "") + h.text
            case .srilm(let acoustic):
                out += "\(acoustic) \(String(format: "%.15g", lm[i])) \(words[i])" + (h.text.isEmpty ? "" : " " + h.text)
            case .decipher(let rest):
                out += "(\(String(format: "%.0f", Bytelog.fromLog10(totals[i]))))" + (rest.isEmpty ? "" : " " + rest)
            case .moses(let features, let extra):
                let lmFeature = "lmtool= \(g(lm[i]))"
                out += ([h.id!, h.text, features.isEmpty ? lmFeature : features + " " + lmFeature, g(totals[i])] + extra)
                    .joined(separator: " ||| ")
            }
            out += "\n"
        }
        return out
    }

    init(path: String, format: NBestFormat = .plain, hypotheses: [Hypothesis]) {
        self.path = path
        self.format = format
        self.hypotheses = hypotheses
    }
}

private extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return String(s)
    }
}
