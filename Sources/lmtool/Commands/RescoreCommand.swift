import ArgumentParser
import Corpus
import Foundation
import LM
import Support

extension NBestFormat: ExpressibleByArgument {}

struct RescoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rescore",
        abstract: "Score n-best hypotheses with a trained run: log10 probability per hypothesis.",
        discussion: """
            NBEST is an n-best list in one of these formats (--nbest-format, else detected from \
            the first line): plain (one hypothesis per line, optionally `id<TAB>hypothesis`, then \
            every line has an id); srilm (SRILM's `acoustic lm nwords w1 w2 ...`, log10); \
            nbestlist1 (header `NBestList1.0`, then `(bytelog-total) w1 w2 ...`); nbestlist2 \
            (header `NBestList2.0`, then `(total)` and `w ( st: .. et: .. g: lm a: ac )` per \
            token); moses (`id ||| hypothesis ||| features ||| total`). A line that does not fit \
            the format is an error naming NBEST:LINE.

            Each hypothesis is scored as one sentence on its own: fresh state, <eos> as the first \
            input, its words and a final <eos> predicted, with the run's tokenizer (no sentence \
            splitting). A leading <s> and a trailing </s> or <eos> are the sentence's boundaries, \
            not words (as in SRILM): "<s> the cat </s>" scores as "the cat"; such a tag anywhere \
            else in a hypothesis is an error naming NBEST:LINE. Words outside the vocabulary are \
            scored as <unk>. Output: one line per hypothesis in input order, `id<TAB>log10 p` (or \
            just `log10 p` without ids); lists \
            with scores of their own (all but plain) get a third column, the combined score.

            Combined score (SRILM's rescore-nbest convention; W = --lm-weight, P = \
            --word-penalty, lm = lmtool's log10 p, words = the words lmtool scored, </s> not \
            counted): srilm acoustic + W*lm + P*words (the list's LM score is replaced); \
            nbestlist1 total + W*lm + P*words; nbestlist2 (sum of a:) + W*lm + P*words; moses \
            total + W*lm + P*words (lmtool as one more feature); plain W*lm + P*words. --output \
            FILE writes the list best first in its own format (Moses: within each sentence id), \
            with lmtool's score in it (srilm: as the LM score; Decipher: the new total in \
            bytelog; Moses: a feature `lmtool=` and the new total).

            Example: lmtool rescore --model runs/tiny nbest.txt
            Example: lmtool rescore --model runs/tiny moses.nbest --lm-weight 0.5 --word-penalty -0.1 --output reranked.nbest
            """)

    @Option(help: "The run directory (from lmtool train --run DIR).")
    var model: String

    @Argument(help: "The n-best file, in any of the formats above (optionally zstd/gzip).")
    var nbest: String

    @Option(name: .customLong("nbest-format"), help: "The list's format (default: detected from the first line).")
    var nbestFormat: NBestFormat?

    @Option(name: .customLong("lm-weight"), parsing: .unconditional, help: "Weight W of lmtool's log10 probability in the combined score (a finite number).")
    var lmWeight = 1.0

    @Option(name: .customLong("word-penalty"), parsing: .unconditional, help: "Added to the combined score once per word (a finite number).")
    var wordPenalty = 0.0

    @Option(help: "Write the list reranked by the combined score, in its own format, to this file.")
    var output: String?

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: ArgumentHelp("Hypotheses scored at once, 1 to \(ScoringBounds.maxBatchSize)."))
    var batchSize = 16

    @OptionGroup var threads: ThreadsOption

    func validate() throws {
        try OptionBounds.checkPaths("--model", [model])
        try OptionBounds.checkPaths("NBEST", [nbest])
        try OptionBounds.checkPaths("--output", [output])
        try OptionBounds.checkRange(1...ScoringBounds.maxBatchSize, batchSize, "--batch-size")
        try OptionBounds.checkFinite(lmWeight, "--lm-weight")
        try OptionBounds.checkFinite(wordPenalty, "--word-penalty")
    }

    func run() throws {
        threads.apply()
        let list = try NBestList(contentsOf: nbest, format: nbestFormat)
        // The model's buffers hold a batch: no larger than the list.
        let evaluator = try Evaluator.load(run: model, mode: .sentence, batchSize: min(batchSize, list.hypotheses.count))
        // Scored a chunk at a time, keeping only the numbers: log10 p of the whole hypothesis,
        // <eos> included (−inf if any position has p = 0), its words and OOVs.
        var scores: [Double] = [], words: [Int] = [], oovs: [Int] = []
        let hypotheses = list.hypotheses
        for start in stride(from: 0, to: hypotheses.count, by: 1024) {
            let chunk = hypotheses[start..<min(start + 1024, hypotheses.count)]
            for (h, s) in zip(chunk, evaluator.scoreHypotheses(chunk.map(\.sentence))) {
                try Evaluator.checkLogProbabilities(s.tokens, file: nbest, position: .line(h.line), sentence: "this hypothesis")
                scores.append(s.tokens.reduce(0.0) { $0 + $1.logProb } / M_LN10)
                words.append(s.statistics.words)
                oovs.append(s.statistics.oovs)
            }
        }
        let totals = list.combinedScores(log10Probabilities: scores, words: words, lmWeight: lmWeight, wordPenalty: wordPenalty)
        if let output {
            let text = list.render(reranked: totals, log10Probabilities: scores, words: words)
            try AtomicFile.write(to: output) { try $0.write(text) }
        }
        if json {
            let entries = hypotheses.indices.map { i in
                HypothesisJSON(id: hypotheses[i].id, line: hypotheses[i].line, text: hypotheses[i].text,
                               logprob: scores[i], words: words[i], oovs: oovs[i], listScore: hypotheses[i].listScore, total: totals[i])
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try encoder.encode(RescoreJSON(model: model, file: nbest, format: list.format.rawValue, weight: lmWeight,
                                                                                     penalty: wordPenalty, hypotheses: entries)), as: UTF8.self))
        } else {
            print(list.render(log10Probabilities: scores, totals: list.format == .plain ? nil : totals), terminator: "")
        }
    }

    struct HypothesisJSON: Encodable {
        var id: String?
        var line: Int
        var text: String
        /// log10 p(hypothesis </s>).
        var logprob: Double
        var words: Int
        var oovs: Int
        /// The list's own score (see NBestList.Hypothesis.listScore), absent in plain lists.
        var listScore: Double?
        /// The combined score the list is reranked by.
        var total: Double
    }

    struct RescoreJSON: Encodable {
        var model: String
        var file: String
        /// The list's format, --lm-weight and --word-penalty.
        var format: String
        var weight: Double
        var penalty: Double
        var hypotheses: [HypothesisJSON]
    }
}
