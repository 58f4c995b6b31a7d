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

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "Hypotheses scored at once.")
    var batchSize = 16

    func run() throws {
        if batchSize < 1 { throw ScoringOptionError("--batch-size must be at least 1, got \(batchSize)") }
        let evaluator = try Evaluator.load(run: model, mode: .sentence, batchSize: batchSize)
        let list = try NBestList(contentsOf: nbest)
        // Scored a chunk at a time, keeping only the numbers: log10 p of the whole hypothesis,
        // <eos> included (−inf if any position has p = 0), its words and OOVs.
        var scores: [Double] = [], words: [Int] = [], oovs: [Int] = []
        let hypotheses = list.hypotheses
        for start in stride(from: 0, to: hypotheses.count, by: 1024) {
            let chunk = hypotheses[start..<min(start + 1024, hypotheses.count)]
            for s in evaluator.scoreHypotheses(chunk.map(\.text)) {
                scores.append(s.tokens.reduce(0.0) { $0 + $1.logProb } / M_LN10)
                words.append(s.statistics.words)
                oovs.append(s.statistics.oovs)
            }
        }
        if json {
            let entries = hypotheses.indices.map { i in
                HypothesisJSON(id: hypotheses[i].id, line: hypotheses[i].line, text: hypotheses[i].text,
                               logprob: scores[i], words: words[i], oovs: oovs[i])
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
