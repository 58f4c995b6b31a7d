import Corpus
import NN

/// Text sampled from a language model by `Evaluator.generate`.
public struct Generation: Equatable, Sendable {
    /// The prompt's tokens as the model read them (`<unk>` for words outside the vocabulary).
    public var promptTokens: [String]
    /// Prompt words outside the vocabulary (read as `<unk>`), in order, repeats included.
    public var unknownPromptWords: [String]
    /// The sampled tokens, `<eos>` included where the model ended a sentence.
    public var tokens: [String]
    /// The ids of the sampled tokens.
    public var ids: [Int32]

    /// The prompt (as typed, one space between words) followed by the sampled tokens, with
    /// `<eos>` shown as a line break, as pytorch/examples' generate.py prints it.
    ///
    ///     ["the", "cat", "<eos>", "a"] after the prompt "so"  →  "so the cat\na"
    public func text(prompt: [String]) -> String {
        var out = ""
        var atLineStart = true
        for token in prompt + tokens {
            if token == Vocabulary.endOfSentenceToken {
                out += "\n"
                atLineStart = true
            } else {
                out += (atLineStart ? "" : " ") + token
                atLineStart = false
            }
        }
        return out
    }
}

extension Evaluator {
    /// Samples `count` tokens after `prompt`, deterministically for a given `rng` state.
    ///
    /// The state starts at zero with `<eos>` as the first input (a sentence start, as in
    /// scoring); the prompt (split by the run's tokenizer, no sentence splitting) is fed token
    /// by token, then each sampled token is fed back. A prompt word outside the vocabulary is
    /// read as `<unk>` and listed in `unknownPromptWords`. `<eos>` may be sampled like any token
    /// (it counts towards `count`). One `rng.uniform()` is drawn per token unless the sampler is
    /// greedy (temperature 0 or top-k 1: always the most probable token).
    ///
    ///     var rng = RNG(seed: 42)
    ///     let g = evaluator.generate(prompt: "the", count: 20,
    ///                                sampler: Sampler(temperature: 0.8, topK: 40), rng: &rng)
    ///     print(g.text(prompt: ["the"]))
    public func generate(prompt: String? = nil, count: Int, sampler: Sampler, rng: inout RNG) -> Generation {
        precondition(count >= 0, "Evaluator.generate: count must be >= 0")
        let tokenizer = tokenization.tokenizer.make(lowercase: tokenization.lowercase)
        var promptIDs: [Int32] = []
        var unknown: [String] = []
        if let prompt {
            tokenizer.forEachToken(in: prompt) { bytes in
                let p = position(of: bytes)
                promptIDs.append(p.id)
                if let word = p.word { unknown.append(word) }
            }
        }
        model.resetState()
        let B = model.batchSize, V = model.config.vocabularySize
        var logp: [Float] = []
        for id in [Vocabulary.endOfSentenceID] + promptIDs {
            logp = model.nextTokenLogProbabilities(inputs: [Int32](repeating: id, count: B))
        }
        var ids: [Int32] = []
        for _ in 0..<count {
            let next = logp.withUnsafeBufferPointer { row in
                sampler.sample(logProbabilities: UnsafeBufferPointer(rebasing: row[0..<V]), rng: &rng)
            }
            ids.append(Int32(next))
            if ids.count < count {
                logp = model.nextTokenLogProbabilities(inputs: [Int32](repeating: Int32(next), count: B))
            }
        }
        return Generation(promptTokens: promptIDs.map(vocabulary.token), unknownPromptWords: unknown,
                          tokens: ids.map(vocabulary.token), ids: ids)
    }
}
