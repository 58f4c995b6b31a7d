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
        var text = GenerationText()
        return (prompt + tokens).map { text.append($0) }.joined()
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
        var stream = GenerationStream(evaluator: self, prompt: prompt)
        let ids = (0..<count).map { _ in stream.nextID(sampler: sampler, rng: &rng) }
        return Generation(promptTokens: stream.promptTokens, unknownPromptWords: stream.unknownPromptWords,
                          tokens: ids.map(vocabulary.token), ids: ids)
    }
}
