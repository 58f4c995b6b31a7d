import Corpus
import Foundation

/// One scored position: the token the model predicted there and its natural-log probability.
public struct TokenScore: Codable, Equatable, Sendable {
    /// The vocabulary token that was scored (`<unk>` where the text had an out-of-vocabulary word).
    public var token: String
    /// ln p(token | history).
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
}

/// Log-probability totals and perplexities, counted as SRILM's `ngram -ppl` counts them.
///
/// Counts: `sentences` is the number of `<eos>` positions scored, `words` the other positions,
/// `oovs` the words that were outside the vocabulary (scored as `<unk>`), `zeroprobs` the
/// in-vocabulary positions with probability 0.
///
/// Two sets of figures, identical when there are no OOVs:
/// - `srilm` — exactly `ngram -ppl` with a closed vocabulary: OOV positions are **not** scored
///   (`excluding OOVs:` in `lmtool perplexity`).
///   logprob = Σ log10 p over in-vocabulary positions (words and `<eos>`),
///   ppl = 10^(−logprob / (words − oovs − zeroprobs + sentences)),
///   ppl1 = 10^(−logprob / (words − oovs − zeroprobs)) (the same logprob, `<eos>` left out of
///   the count only).
/// - `withOOVs` — the PTB/WikiText convention, where `<unk>` is a predicted token: every
///   position is scored, OOVs with the probability of `<unk>`.
///   logprob = Σ log10 p over all positions with p > 0,
///   ppl = 10^(−logprob / (words − zeroprobs' + sentences)), ppl1 = 10^(−logprob / (words − zeroprobs'))
///   where zeroprobs' counts every position with p = 0. This is the number papers report and
///   the headline of `lmtool perplexity`.
///
/// A perplexity is nil ("undefined" in text) when its denominator is not positive.
public struct PerplexityStatistics: Codable, Equatable, Sendable {
    /// A log10 probability total and the perplexities it gives.
    public struct Figures: Codable, Equatable, Sendable {
        public var logprob: Double
        public var ppl: Double?
        public var ppl1: Double?
    }

    public var sentences = 0
    public var words = 0
    public var oovs = 0
    public var zeroprobs = 0
    /// OOV positions where even `<unk>` had probability 0 (left out of `withOOVs`).
    public var oovZeroprobs = 0
    /// Σ log10 p over in-vocabulary positions with p > 0.
    public var inVocabularyLogprob = 0.0
    /// Σ log10 p over OOV positions with p > 0.
    public var oovLogprob = 0.0

    public init() {}

    /// The statistics of `tokens`.
    public init<S: Sequence>(_ tokens: S) where S.Element == TokenScore {
        for t in tokens { add(t) }
    }

    /// Counts one scored position.
    public mutating func add(_ t: TokenScore) {
        if t.isEndOfSentence { sentences += 1 } else { words += 1 }
        if t.isOOV && !t.isEndOfSentence { oovs += 1 }
        let log10p = t.logProb / M_LN10
        let zero = !(t.logProb > -Double.infinity)  // -inf (or NaN): probability 0
        switch (t.isOOV && !t.isEndOfSentence, zero) {
        case (false, false): inVocabularyLogprob += log10p
        case (false, true): zeroprobs += 1
        case (true, false): oovLogprob += log10p
        case (true, true): oovZeroprobs += 1
        }
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

    /// SRILM's figures: OOV positions not scored.
    public var srilm: Figures {
        PerplexityStatistics.figures(logprob: inVocabularyLogprob, words: words - oovs - zeroprobs, sentences: sentences)
    }

    /// The PTB/WikiText figures: OOV positions scored as `<unk>`.
    public var withOOVs: Figures {
        PerplexityStatistics.figures(logprob: inVocabularyLogprob + oovLogprob,
                                     words: words - zeroprobs - oovZeroprobs, sentences: sentences)
    }

    enum CodingKeys: String, CodingKey {
        case sentences, words, oovs, zeroprobs, oovZeroprobs, inVocabularyLogprob, oovLogprob, srilm, withOOVs
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sentences = try c.decode(Int.self, forKey: .sentences)
        words = try c.decode(Int.self, forKey: .words)
        oovs = try c.decode(Int.self, forKey: .oovs)
        zeroprobs = try c.decode(Int.self, forKey: .zeroprobs)
        oovZeroprobs = try c.decode(Int.self, forKey: .oovZeroprobs)
        inVocabularyLogprob = try c.decode(Double.self, forKey: .inVocabularyLogprob)
        oovLogprob = try c.decode(Double.self, forKey: .oovLogprob)
    }

    /// Encodes the counts, the totals and both figure sets (`srilm`, `withOOVs`), so the JSON
    /// form carries the perplexities; decoding recomputes them from the totals.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sentences, forKey: .sentences)
        try c.encode(words, forKey: .words)
        try c.encode(oovs, forKey: .oovs)
        try c.encode(zeroprobs, forKey: .zeroprobs)
        try c.encode(oovZeroprobs, forKey: .oovZeroprobs)
        try c.encode(inVocabularyLogprob, forKey: .inVocabularyLogprob)
        try c.encode(oovLogprob, forKey: .oovLogprob)
        try c.encode(srilm, forKey: .srilm)
        try c.encode(withOOVs, forKey: .withOOVs)
    }

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
/// Text output (`render(detail:)`) follows SRILM. The headline figures are the PTB/WikiText
/// ones (`withOOVs`): `<unk>` is a predicted token, so a word outside the vocabulary is scored
/// with the probability of `<unk>` and still counted as an OOV:
///
///     file test.txt: 2 sentences, 5 words, 0 OOVs
///     0 zeroprobs, logprob= -3.61236 ppl= 3.27803 ppl1= 5.27803
///
/// When the file has OOVs a third line gives the figures with the OOV positions left out (as
/// `ngram -ppl` does for a closed vocabulary, `srilm`):
///
///     excluding OOVs: logprob= -3.0103 ppl= 3.1748 ppl1= 5.65685
///
/// `.perSentence` (SRILM `-debug 1`) prints each sentence and its own summary first; `.perWord`
/// (`-debug 2`) adds one line per position, `\tp( word | previous ...) \t= [lstm] p [ log10 p ]`,
/// with `</s>` for `<eos>`, `<s>` as the context of a sentence's first word, and `[OOV]` instead
/// of `[lstm]` where an OOV word (printed as the text has it) was scored as `<unk>`. Numbers
/// print as C++ streams do by default (`%g`, 6 significant digits), as SRILM prints them.
///
/// For big files, render sentence by sentence instead of holding the report:
/// `PerplexityReport.render(sentence:detail:)` then `PerplexityReport.summary(label:statistics:)`.
public struct PerplexityReport: Codable, Equatable, Sendable {
    /// One sentence (a group of positions, normally ending with `<eos>`).
    public struct Sentence: Codable, Equatable, Sendable {
        public var tokens: [TokenScore]
        public var statistics: PerplexityStatistics

        public init(tokens: [TokenScore]) {
            self.tokens = tokens
            self.statistics = PerplexityStatistics(tokens)
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

    /// A report on `file` from scored positions grouped by sentence.
    public init(file: String, sentences: [[TokenScore]]) {
        self.file = file
        self.sentences = sentences.map(Sentence.init)
        var total = PerplexityStatistics()
        for s in self.sentences { total.add(s.statistics) }
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
    public func render(detail: Detail = .summary) -> String {
        var out = ""
        for s in sentences { out += PerplexityReport.render(sentence: s, detail: detail) }
        return out + PerplexityReport.summary(label: "file \(file)", statistics: total)
    }

    /// One sentence's block of `render(detail:)`: nothing for `.summary`; its text and summary
    /// (and, for `.perWord`, one line per position), then a blank line, for the others.
    public static func render(sentence s: Sentence, detail: Detail) -> String {
        if detail == .summary { return "" }
        var out = s.text + "\n"
        if detail == .perWord {
            var previous = "<s>"
            for (i, t) in s.tokens.enumerated() {
                let word = t.isEndOfSentence ? "</s>" : t.text
                let tag = t.isOOV && !t.isEndOfSentence ? "[OOV]" : "[lstm]"
                let log10p = t.logProb / M_LN10
                out += "\tp( \(word) | \(previous)\(i > 0 ? " ..." : " ")) \t= \(tag) \(g(Foundation.exp(t.logProb))) [ \(g(log10p)) ]\n"
                previous = word
            }
        }
        return out + summary(s.statistics) + "\n"
    }

    /// The summary of a file (or any other `label`): `label: N sentences, …` and the figures.
    ///
    ///     PerplexityReport.summary(label: "file test.txt", statistics: total)
    public static func summary(label: String, statistics: PerplexityStatistics) -> String {
        label + ": " + summary(statistics)
    }

    /// The report as pretty JSON with sorted keys (`--json`). A probability of 0 is written as
    /// the log probability `"-inf"`.
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The two or three summary lines for `stats`, each ending with a newline: counts, the
    /// headline figures (OOVs scored as `<unk>`), and the figures without OOVs when there are any.
    static func summary(_ stats: PerplexityStatistics) -> String {
        func figures(_ f: PerplexityStatistics.Figures) -> String {
            "logprob= \(g(f.logprob)) ppl= \(f.ppl.map(g) ?? "undefined") ppl1= \(f.ppl1.map(g) ?? "undefined")"
        }
        var out = "\(stats.sentences) sentences, \(stats.words) words, \(stats.oovs) OOVs\n"
        out += "\(stats.zeroprobs + stats.oovZeroprobs) zeroprobs, " + figures(stats.withOOVs) + "\n"
        if stats.oovs > 0 { out += "excluding OOVs: " + figures(stats.srilm) + "\n" }
        return out
    }
}

/// `x` as a C++ output stream prints a double by default (`%g`: 6 significant digits).
func g(_ x: Double) -> String { String(format: "%g", x) }
