import Corpus
import NN

/// Generation one token at a time, for a caller that shows the text as it is sampled (`lmtool
/// generate`); `Evaluator.generate` is a loop over it, and `GenerationText` makes
/// `Generation.text(prompt:)`.
///
/// Creating the stream resets the model's state and feeds `<eos>` and the prompt (the run's
/// tokenizer, no sentence splitting; a word outside the vocabulary is read as `<unk>` and listed
/// in `unknownPromptWords`); each `next` samples a token (the `Sampler` draws one
/// `rng.uniform()` unless greedy) after feeding the one before. The model's state belongs to the
/// stream until the evaluator is used for anything else.
///
///     var rng = RNG(seed: 7)
///     var stream = GenerationStream(evaluator: evaluator, prompt: "the")
///     var text = GenerationText()
///     var out = text.append("the")
///     for _ in 0..<20 { out += text.append(stream.next(sampler: Sampler(topK: 40), rng: &rng)) }
public struct GenerationStream {
    /// The prompt's tokens as the model read them (`<unk>` for words outside the vocabulary).
    public let promptTokens: [String]
    /// Prompt words outside the vocabulary (read as `<unk>`), in order, repeats included.
    public let unknownPromptWords: [String]
    private let evaluator: Evaluator
    /// The log-probabilities of the next token, `[batchSize, V]` (every column alike).
    private var logp: [Float] = []
    /// The token sampled last, fed at the next `next` (none is fed after the last one).
    private var pending: Int32?

    public init(evaluator: Evaluator, prompt: String? = nil) {
        self.evaluator = evaluator
        let tokenizer = evaluator.tokenization.tokenizer.make(lowercase: evaluator.tokenization.lowercase)
        var promptIDs: [Int32] = []
        var unknown: [String] = []
        if let prompt {
            tokenizer.forEachToken(in: prompt) { bytes in
                let p = evaluator.position(of: bytes)
                promptIDs.append(p.id)
                if let word = p.word { unknown.append(word) }
            }
        }
        promptTokens = promptIDs.map(evaluator.vocabulary.token)
        unknownPromptWords = unknown
        evaluator.model.resetState()
        for id in [Vocabulary.endOfSentenceID] + promptIDs { feed(id) }
    }

    /// Samples the next token (`<eos>` included) and returns it.
    public mutating func next(sampler: Sampler, rng: inout RNG) -> String {
        evaluator.vocabulary.token(nextID(sampler: sampler, rng: &rng))
    }

    /// Samples the next token and returns its id.
    public mutating func nextID(sampler: Sampler, rng: inout RNG) -> Int32 {
        if let pending { feed(pending) }
        let V = evaluator.model.config.vocabularySize
        let next = logp.withUnsafeBufferPointer { row in
            sampler.sample(logProbabilities: UnsafeBufferPointer(rebasing: row[0..<V]), rng: &rng)
        }
        pending = Int32(next)
        return Int32(next)
    }

    private mutating func feed(_ id: Int32) {
        logp = evaluator.model.nextTokenLogProbabilities(inputs: [Int32](repeating: id, count: evaluator.model.batchSize))
    }
}

/// `Generation.text(prompt:)` a token at a time: `append` returns what the token adds to the
/// text, `<eos>` as a line break and a word after a space unless it starts a line. The pieces of
/// the prompt's words and then the sampled tokens, concatenated, are `text(prompt:)`.
///
///     var text = GenerationText()
///     ["so", "the", "<eos>", "a"].map { text.append($0) }   // ["so", " the", "\n", "a"]
public struct GenerationText {
    private var atLineStart = true

    public init() {}

    public mutating func append(_ token: String) -> String {
        if token == Vocabulary.endOfSentenceToken {
            atLineStart = true
            return "\n"
        }
        defer { atLineStart = false }
        return atLineStart ? token : " " + token
    }
}
