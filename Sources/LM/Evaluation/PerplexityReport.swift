import Corpus
import Foundation
import Support

/// One scored position: the token the model predicted there and its natural-log probability.
///
/// In JSON the probability is written in both bases, each named by its field: `lnProb`
/// (natural log, this type's `logProb`) and `log10Prob` (as SRILM prints it). A reader of the
/// older form (`logProb`, natural log) is still accepted when decoding.
public struct TokenScore: Codable, Equatable, Sendable {
    /// The vocabulary token that was scored (`<unk>` where the text had an out-of-vocabulary word).
    public var token: String
    /// ln p(token | history): natural log.
    public var logProb: Double
    /// The position is the end of a sentence (`<eos>`), not a word.
    public var isEndOfSentence: Bool
    /// The word of the text was outside the vocabulary and mapped to `<unk>`.
    public var isOOV: Bool
    /// The word as the text had it, where it differs from `token` (an OOV word); nil otherwise.
    public var word: String?

    public init(token: String, logProb: Double, isEndOfSentence: Bool = false, isOOV: Bool = false, word: String? = nil) {
        self.token = token
        self.logProb = logProb
        self.isEndOfSentence = isEndOfSentence
        self.isOOV = isOOV
        self.word = word
    }

    /// The score of id `id` of `vocabulary` (`<eos>` marks the end of a sentence).
    ///
    ///     TokenScore(id: 1, logProb: -0.7, vocabulary: vocab)   // "<eos>", isEndOfSentence
    public init(id: Int32, logProb: Double, isOOV: Bool = false, word: String? = nil, vocabulary: Vocabulary) {
        self.init(token: vocabulary.token(id), logProb: logProb,
                  isEndOfSentence: id == Vocabulary.endOfSentenceID, isOOV: isOOV, word: word)
    }

    /// What the text said at this position: `word` when known, else `token`.
    public var text: String { word ?? token }

    /// log10 p(token | history).
    public var log10Prob: Double { logProb / M_LN10 }

    /// An OOV word (not `<eos>`).
    var isOOVWord: Bool { isOOV && !isEndOfSentence }

    enum CodingKeys: String, CodingKey {
        case token, lnProb, log10Prob, isEndOfSentence, isOOV, word
        case logProb  // the older name of lnProb (decoding only)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        token = try c.decode(String.self, forKey: .token)
        logProb = try c.decodeIfPresent(Double.self, forKey: .lnProb) ?? c.decode(Double.self, forKey: .logProb)
        isEndOfSentence = try c.decode(Bool.self, forKey: .isEndOfSentence)
        isOOV = try c.decode(Bool.self, forKey: .isOOV)
        word = try c.decodeIfPresent(String.self, forKey: .word)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(token, forKey: .token)
        try c.encode(logProb, forKey: .lnProb)
        try c.encode(log10Prob, forKey: .log10Prob)
        try c.encode(isEndOfSentence, forKey: .isEndOfSentence)
        try c.encode(isOOV, forKey: .isOOV)
        try c.encodeIfPresent(word, forKey: .word)
    }
}

/// Log-probability totals and perplexities, counted as SRILM's `ngram -ppl` counts them
/// (`TextStats` in SRILM's sources).
///
/// Counts: `sentences` is the number of `<eos>` positions scored, `words` the other positions,
/// `oovs` the words that were outside the vocabulary, `zeroprobs` the in-vocabulary positions
/// with probability 0. All logprobs are log10, as SRILM's.
///
/// Two sets of figures, identical when there are no OOVs; both are SRILM's formula
///
///     ppl  = 10^(−logprob / (words − OOVs − zeroprobs + sentences))
///     ppl1 = 10^(−logprob / (words − OOVs − zeroprobs))
///
/// applied to the counts SRILM would print:
/// - `srilm` — `ngram -ppl`: an OOV is **not** scored. logprob = Σ log10 p over the
///   in-vocabulary positions (words and `<eos>`), and the OOVs are subtracted from both
///   denominators. This is what `lmtool perplexity` prints by default.
/// - `withOOVs` — `ngram -unk -ppl` (`lmtool perplexity --unk`), the PTB/WikiText convention:
///   an OOV is mapped to `<unk>` and scored with its probability, so OOVs = 0 in the formula
///   and logprob = Σ log10 p over every position with p > 0; zeroprobs counts every position
///   with p = 0 (`zeroprobs + oovZeroprobs`).
///
/// A perplexity is nil ("undefined" in text) when its denominator is not positive.
///
/// JSON (`Codable`): the counts, `inVocabularyLog10Prob`, `oovLog10Prob` and both figure sets,
/// each `{log10Prob, ppl, ppl1}`; decoding recomputes the figures from the totals and also
/// accepts the older names `inVocabularyLogprob` and `oovLogprob`.
public struct PerplexityStatistics: Codable, Equatable, Sendable {
    /// A log10 probability total and the perplexities it gives.
    public struct Figures: Codable, Equatable, Sendable {
        /// Σ log10 p (SRILM's `logprob=`).
        public var logprob: Double
        public var ppl: Double?
        public var ppl1: Double?

        enum CodingKeys: String, CodingKey {
            case logprob = "log10Prob", ppl, ppl1
        }
    }

    public var sentences = 0
    public var words = 0
    public var oovs = 0
    public var zeroprobs = 0
    /// OOV positions where even `<unk>` had probability 0 (left out of `withOOVs`).
    public var oovZeroprobs = 0
    /// Σ log10 p over in-vocabulary positions with p > 0.
    public var inVocabularyLogprob = 0.0
    /// Σ log10 p over OOV positions with p > 0 (the probability of `<unk>` there).
    public var oovLogprob = 0.0

    public init() {}

    /// The statistics of `tokens`.
    public init<S: Sequence>(_ tokens: S) where S.Element == TokenScore {
        for t in tokens { add(t) }
    }

    /// Counts one scored position.
    public mutating func add(_ t: TokenScore) {
        if t.isEndOfSentence { sentences += 1 } else { words += 1 }
        if t.isOOVWord { oovs += 1 }
        // -inf: probability 0 (float underflow). A NaN is no zeroprob: the scorers refuse it
        // (`Evaluator.checkLogProbabilities`), and here it would make the sums NaN, never vanish.
        let zero = t.logProb == -Double.infinity
        switch (t.isOOVWord, zero) {
        case (false, false): inVocabularyLogprob += t.log10Prob
        case (false, true): zeroprobs += 1
        case (true, false): oovLogprob += t.log10Prob
        case (true, true): oovZeroprobs += 1
        }
    }

    /// These totals plus `other`'s.
    public func adding(_ other: PerplexityStatistics) -> PerplexityStatistics {
        var sum = self
        sum.add(other)
        return sum
    }

    /// Adds the counts and totals of `other`.
    public mutating func add(_ other: PerplexityStatistics) {
        sentences += other.sentences
        words += other.words
        oovs += other.oovs
        zeroprobs += other.zeroprobs
        oovZeroprobs += other.oovZeroprobs
        inVocabularyLogprob += other.inVocabularyLogprob
        oovLogprob += other.oovLogprob
    }

    /// SRILM's `ngram -ppl` figures: OOV positions not scored.
    public var srilm: Figures {
        PerplexityStatistics.figures(logprob: inVocabularyLogprob, words: words - oovs - zeroprobs, sentences: sentences)
    }

    /// SRILM's `ngram -unk -ppl` figures (PTB/WikiText): OOV positions scored as `<unk>`.
    public var withOOVs: Figures {
        PerplexityStatistics.figures(logprob: inVocabularyLogprob + oovLogprob,
                                     words: words - zeroprobs - oovZeroprobs, sentences: sentences)
    }

    /// `withOOVs` when `unk`, else `srilm`.
    public func figures(unk: Bool) -> Figures { unk ? withOOVs : srilm }

    /// The OOV count SRILM prints: 0 with `unk` (every word is scored), else `oovs`.
    public func printedOOVs(unk: Bool) -> Int { unk ? 0 : oovs }

    /// The zeroprobs count SRILM prints: with `unk` an OOV whose `<unk>` had probability 0 counts too.
    public func printedZeroprobs(unk: Bool) -> Int { unk ? zeroprobs + oovZeroprobs : zeroprobs }

    enum CodingKeys: String, CodingKey {
        case sentences, words, oovs, zeroprobs, oovZeroprobs, inVocabularyLog10Prob, oovLog10Prob, srilm, withOOVs
        case inVocabularyLogprob, oovLogprob  // older names (decoding only)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sentences = try c.decode(Int.self, forKey: .sentences)
        words = try c.decode(Int.self, forKey: .words)
        oovs = try c.decode(Int.self, forKey: .oovs)
        zeroprobs = try c.decode(Int.self, forKey: .zeroprobs)
        oovZeroprobs = try c.decode(Int.self, forKey: .oovZeroprobs)
        inVocabularyLogprob = try c.decodeIfPresent(Double.self, forKey: .inVocabularyLog10Prob)
            ?? c.decode(Double.self, forKey: .inVocabularyLogprob)
        oovLogprob = try c.decodeIfPresent(Double.self, forKey: .oovLog10Prob) ?? c.decode(Double.self, forKey: .oovLogprob)
    }

    /// Encodes the counts, the log10 totals and both figure sets (`srilm`, `withOOVs`), so the
    /// JSON form carries the perplexities; decoding recomputes them from the totals.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sentences, forKey: .sentences)
        try c.encode(words, forKey: .words)
        try c.encode(oovs, forKey: .oovs)
        try c.encode(zeroprobs, forKey: .zeroprobs)
        try c.encode(oovZeroprobs, forKey: .oovZeroprobs)
        try c.encode(inVocabularyLogprob, forKey: .inVocabularyLog10Prob)
        try c.encode(oovLogprob, forKey: .oovLog10Prob)
        try c.encode(srilm, forKey: .srilm)
        try c.encode(withOOVs, forKey: .withOOVs)
    }

    /// SRILM's `TextStats` arithmetic: `words` already has the OOVs and zeroprobs taken out.
    static func figures(logprob: Double, words: Int, sentences: Int) -> Figures {
        func ppl(_ denominator: Int) -> Double? {
            denominator > 0 ? Foundation.pow(10, -logprob / Double(denominator)) : nil
        }
        return Figures(logprob: logprob, ppl: ppl(words + sentences), ppl1: ppl(words))
    }
}

/// The perplexity of a file in SRILM's `ngram -ppl` formats, from per-token log probabilities
/// grouped by sentence. Pure arithmetic and formatting: the model supplies the scores.
///
/// Text output (`render(detail:unk:)`) is SRILM's, two lines per summary:
///
///     file test.txt: 2 sentences, 5 words, 1 OOVs
///     0 zeroprobs, logprob= -3.0103 ppl= 3.1748 ppl1= 5.65685
///
/// computed from the counts printed as SRILM computes them (`PerplexityStatistics`): by
/// default an OOV is counted but not scored (`ngram -ppl`); with `unk` it is scored as `<unk>`
/// and 0 OOVs are printed (`ngram -unk -ppl`, the PTB/WikiText figure):
///
///     file test.txt: 2 sentences, 5 words, 0 OOVs
///     0 zeroprobs, logprob= -4.0103 ppl= 3.74024 ppl1= 6.33957
///
/// `.perSentence` (SRILM `-debug 1`) prints each sentence and its own summary first; `.perWord`
/// (`-debug 2`) adds one line per position, `\tp( word | context ...) \t= [lstm] p [ log10 p ]`,
/// with `</s>` for `<eos>`. The context is what the model conditions on: `<s>` (no `...`) for a
/// sentence scored from a reset state, `</s> ...` for the first word of a sentence whose state
/// was carried from the text before (discourse mode), else the previous word and `...`. An OOV
/// word prints as the text has it: `[OOV] 0 [ -inf ]` (not scored, as SRILM prints it), or with
/// `unk` `[<unk>]` and the probability of `<unk>`. Numbers print as C++ streams do by default
/// (`%g`, 6 significant digits), as SRILM prints them.
///
/// For big files, render sentence by sentence instead of holding the report:
/// `PerplexityReport.render(sentence:detail:unk:)` then `PerplexityReport.summary(label:statistics:unk:)`.
public struct PerplexityReport: Codable, Equatable, Sendable {
    /// One sentence (a group of positions, normally ending with `<eos>`).
    public struct Sentence: Codable, Equatable, Sendable {
        public var tokens: [TokenScore]
        public var statistics: PerplexityStatistics
        /// The model's state was carried into this sentence from the text before it (discourse
        /// mode, any sentence but the first): its first word is conditioned on the previous
        /// `</s>` and everything before, not on a fresh sentence start.
        public var followsPrevious: Bool
        /// The JSONL `domain` of the record the sentence came from (nil for plain text).
        public var domain: String? = nil

        public init(tokens: [TokenScore], followsPrevious: Bool = false, domain: String? = nil) {
            self.tokens = tokens
            self.statistics = PerplexityStatistics(tokens)
            self.followsPrevious = followsPrevious
            self.domain = domain
        }

        /// The words of the sentence, space-separated (without `<eos>`).
        public var text: String {
            tokens.filter { !$0.isEndOfSentence }.map(\.text).joined(separator: " ")
        }
    }

    /// How much `render` prints.
    public enum Detail: Sendable {
        case summary, perSentence, perWord
    }

    public var file: String
    public var sentences: [Sentence]
    public var total: PerplexityStatistics

    /// A report on `file` from scored positions grouped by sentence (each scored from a reset state).
    public init(file: String, sentences: [[TokenScore]]) {
        self.init(file: file, scoredSentences: sentences.map { Sentence(tokens: $0) })
    }

    /// A report on `file` from scored sentences (as `Evaluator.score` gives them).
    public init(file: String, scoredSentences sentences: [Sentence]) {
        self.file = file
        self.sentences = sentences
        var total = PerplexityStatistics()
        for s in sentences { total.add(s.statistics) }
        self.total = total
    }

    /// A report on `file` from scored positions in text order; a sentence ends after each
    /// `<eos>` (trailing positions without one form a last sentence).
    ///
    ///     PerplexityReport(file: "test.txt", tokens: scores)   // [the, cat, <eos>, a, b, <eos>] → 2 sentences
    public init(file: String, tokens: [TokenScore]) {
        var groups: [[TokenScore]] = []
        var current: [TokenScore] = []
        for t in tokens {
            current.append(t)
            if t.isEndOfSentence {
                groups.append(current)
                current = []
            }
        }
        if !current.isEmpty { groups.append(current) }
        self.init(file: file, sentences: groups)
    }

    /// The report as SRILM prints it; see the type's discussion.
    public func render(detail: Detail = .summary, unk: Bool = false) -> String {
        var out = ""
        for s in sentences { out += PerplexityReport.render(sentence: s, detail: detail, unk: unk) }
        return out + PerplexityReport.summary(label: "file \(file)", statistics: total, unk: unk)
    }

    /// One sentence's block of `render(detail:unk:)`: nothing for `.summary`; its text and
    /// summary (and, for `.perWord`, one line per position), then a blank line, for the others.
    public static func render(sentence s: Sentence, detail: Detail, unk: Bool = false) -> String {
        if detail == .summary { return "" }
        var out = s.text + "\n"
        if detail == .perWord {
            var context = s.followsPrevious ? "</s> ..." : "<s> "
            for t in s.tokens {
                let word = t.isEndOfSentence ? "</s>" : t.text
                let figures: String
                switch (t.isOOVWord, unk) {
                case (false, _): figures = "[lstm] \(g(Foundation.exp(t.logProb))) [ \(g(t.log10Prob)) ]"
                case (true, false): figures = "[OOV] 0 [ -inf ]"
                case (true, true): figures = "[<unk>] \(g(Foundation.exp(t.logProb))) [ \(g(t.log10Prob)) ]"
                }
                out += "\tp( \(word) | \(context)) \t= \(figures)\n"
                context = word + " ..."
            }
        }
        return out + summary(s.statistics, unk: unk) + "\n"
    }

    /// The summary of a file (or any other `label`): `label: N sentences, …` and the figures.
    ///
    ///     PerplexityReport.summary(label: "file test.txt", statistics: total)
    public static func summary(label: String, statistics: PerplexityStatistics, unk: Bool = false) -> String {
        label + ": " + summary(statistics, unk: unk)
    }

    /// The summaries of `domains` (sorted by name), each labelled `domain NAME` (control
    /// characters escaped, so a block stays two lines) and followed by a blank line: the blocks `lmtool perplexity --by-domain` prints before a file's summary.
    ///
    ///     domain fiction: 2 sentences, 5 words, 0 OOVs
    ///     0 zeroprobs, logprob= -3.0103 ppl= 3.1748 ppl1= 5.65685
    public static func summaries(domains: [String: PerplexityStatistics], unk: Bool = false) -> String {
        domains.keys.sorted().map { summary(label: "domain \(escapeControlCharacters($0))", statistics: domains[$0]!, unk: unk) + "\n" }.joined()
    }

    /// The report as pretty JSON with sorted keys. A probability of 0 is written as the log
    /// probability `"-inf"`.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// SRILM's summary lines for `stats` (`TextStats`' output operator), each ending with a
    /// newline: the counts, then — when anything was counted — zeroprobs and the figures.
    static func summary(_ stats: PerplexityStatistics, unk: Bool) -> String {
        var out = "\(stats.sentences) sentences, \(stats.words) words, \(stats.printedOOVs(unk: unk)) OOVs\n"
        if stats.words + stats.sentences > 0 {
            let f = stats.figures(unk: unk)
            out += "\(stats.printedZeroprobs(unk: unk)) zeroprobs, logprob= \(g(f.logprob))"
                + " ppl= \(f.ppl.map(g) ?? "undefined") ppl1= \(f.ppl1.map(g) ?? "undefined")\n"
        }
        return out
    }
}

/// `x` as a C++ output stream prints a double by default (`%g`: 6 significant digits; `-inf`).
func g(_ x: Double) -> String { String(format: "%g", x) }
