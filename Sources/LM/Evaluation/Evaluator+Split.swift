import Corpus
import Foundation
import NN

/// The result of scoring a split: the summed cross-entropy over its tokens and, on request,
/// each sentence's token count and summed log-probability.
public struct EvaluationResult: Sendable, Equatable {
    /// Σ −ln p(token) over every scored token.
    public var lossSum: Double
    /// Scored tokens (every token of the split, `<eos>` included).
    public var tokenCount: Int
    /// Per sentence (in the split's order): tokens including `<eos>`, and Σ ln p of those tokens.
    public var sentences: [(tokens: Int, logProbability: Double)]?

    /// Mean cross-entropy per token (nats); NaN for an empty split.
    public var loss: Double { tokenCount > 0 ? lossSum / Double(tokenCount) : .nan }
    /// exp(loss).
    public var perplexity: Double { exp(loss) }

    public static func == (a: EvaluationResult, b: EvaluationResult) -> Bool {
        a.lossSum == b.lossSum && a.tokenCount == b.tokenCount
            && a.sentences?.map(\.tokens) == b.sentences?.map(\.tokens)
            && a.sentences?.map(\.logProbability) == b.sentences?.map(\.logProbability)
    }
}

/// The evaluator's second entry point: a split held in memory (training's validation and
/// test), scored with a model alone (no vocabulary or tokenization: the split is already ids),
/// without dropout and without touching any gradient: every token is predicted exactly once (see
/// `DiscourseEvaluationWindows` and `SentenceEvaluationWindows`). Each window is scored by
/// `LanguageModel.score(_:)`, as streamed text is; sentence mode builds its windows with the
/// same `SentenceEvaluationWindows.batchWindows`, so a split scores the same either way.
/// (Discourse mode differs on purpose: a split held in memory is cut into B columns, a stream
/// is read in one.)
///
///     let result = Evaluator.scoreSplit(model, data: valid, batching: .discourse)
///     print(result.perplexity)
extension Evaluator {
    /// Scores `data` with `model` (its batch size is the number of columns, its `maxSteps` the
    /// window length). The model's carried state is zeroed first and left at the end's state.
    public static func scoreSplit(_ model: LanguageModel, data: EncodedCorpus, batching: TrainingConfig.Batching,
                                perSentence: Bool = false) -> EvaluationResult {
        var lossSum = 0.0, count = 0
        var tokenLogProbs = perSentence ? [Double](repeating: 0, count: data.tokenCount) : []
        model.resetState()
        func score(_ w: BatchWindow) {
            let (loss, n) = model.score(w)
            lossSum += loss
            count += n
            if perSentence {
                let logp = model.targetLogProbabilities
                for (i, token) in w.tokenIndex.enumerated() where token >= 0 { tokenLogProbs[token] = Double(logp[i]) }
            }
        }
        switch batching {
        case .discourse:
            let windows = DiscourseEvaluationWindows(tokens: data.ids, batchSize: model.batchSize, bptt: model.maxSteps)
            for i in 0..<windows.windowCount { score(windows.window(i)) }
        case .sentence:
            SentenceEvaluationWindows(data: data, batchSize: model.batchSize, bptt: model.maxSteps).forEachWindow(score)
        }
        var sentences: [(tokens: Int, logProbability: Double)]?
        if perSentence {
            sentences = (0..<data.sentenceCount).map { s in
                let range = (s == 0 ? 0 : data.sentenceEnds[s - 1])..<data.sentenceEnds[s]
                return (range.count, tokenLogProbs[range].reduce(0, +))
            }
        }
        return EvaluationResult(lossSum: lossSum, tokenCount: count, sentences: sentences)
    }

    /// The figures of each domain of `data` (its documents' `domain`) from a per-sentence
    /// `result` of it (`scoreSplit(_:data:batching:perSentence: true)`); nil when the result has
    /// no sentences or some sentence has no domain (a plain-text file among the test files, say):
    /// a partial table would pass for the whole split.
    ///
    ///     let test = Evaluator.scoreSplit(model, data: data, batching: .discourse, perSentence: true)
    ///     Evaluator.byDomain(test, data: data)?["fiction"]?.perplexity
    public static func byDomain(_ result: EvaluationResult, data: EncodedCorpus) -> [String: DomainPerplexity]? {
        guard let sentences = result.sentences, !sentences.isEmpty, sentences.count == data.sentenceCount else { return nil }
        var sums: [String: (sentences: Int, tokens: Int, logProbability: Double)] = [:]
        var covered = 0
        for document in data.documents where !document.sentences.isEmpty {
            guard let domain = document.domain else { return nil }
            for s in document.sentences {
                sums[domain, default: (0, 0, 0)].sentences += 1
                sums[domain, default: (0, 0, 0)].tokens += sentences[s].tokens
                sums[domain, default: (0, 0, 0)].logProbability += sentences[s].logProbability
            }
            covered += document.sentences.count
        }
        // Every sentence belongs to exactly one document (data given without documents: none).
        guard covered == sentences.count else { return nil }
        return sums.mapValues { DomainPerplexity(sentences: $0.sentences, tokens: $0.tokens, logProbability: $0.logProbability) }
    }
}
