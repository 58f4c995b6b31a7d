import ArgumentParser
import Corpus
import Foundation
import LM

struct RescoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rescore",
        abstract: "Score n-best hypotheses with a trained run: log10 probability per hypothesis.",
        discussion: """
            NBEST holds one hypothesis per line, optionally `id<TAB>hypothesis` (then every line \
            has an id). Each hypothesis is scored as one sentence on its own: fresh state, <eos> \
            as the first input, its words and a final <eos> predicted, with the run's tokenizer \
            (no sentence splitting). Words outside the vocabulary are scored as <unk>. Output: \
            one line per hypothesis in input order, `id<TAB>log10 p` (or just `log10 p` without \
            ids). Empty or malformed lines are errors naming NBEST:LINE.

            Example: lmtool rescore --model runs/tiny nbest.txt
            """)

    @Option(help: "The run directory (from lmtool train --run DIR).")
    var model: String

    @Argument(help: "The n-best file: `hypothesis` or `id<TAB>hypothesis` per line (optionally zstd/gzip).")
    var nbest: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(name: .customLong("batch-size"), help: "Hypotheses scored at once.")
    var batchSize = 16

    func run() throws {
        if batchSize < 1 { throw OptionValueError("--batch-size must be at least 1, got \(batchSize)") }
        let evaluator = try Evaluator.load(run: model, mode: .sentence, batchSize: batchSize)
        let list = try NBestList(contentsOf: nbest)
        let scored = evaluator.scoreHypotheses(list.hypotheses.map(\.text))
        // log10 p of the whole hypothesis, <eos> included (−inf if any position has p = 0).
        let scores = scored.map { s in s.tokens.reduce(0.0) { $0 + $1.logProb } / M_LN10 }
        if json {
            let entries = zip(list.hypotheses, zip(scored, scores)).map { h, pair in
                HypothesisJSON(id: h.id, line: h.line, text: h.text, logprob: pair.1,
                               words: pair.0.statistics.words, oovs: pair.0.statistics.oovs)
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            print(String(decoding: try encoder.encode(RescoreJSON(model: model, file: nbest, hypotheses: entries)), as: UTF8.self))
        } else {
            print(list.render(log10Probabilities: scores), terminator: "")
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
    }

    struct RescoreJSON: Encodable {
        var model: String
        var file: String
        var hypotheses: [HypothesisJSON]
    }
}
