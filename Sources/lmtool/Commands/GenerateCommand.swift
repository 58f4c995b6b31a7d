import ArgumentParser
import Corpus
import Foundation
import LM
import NN

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Sample text from a trained run.",
        discussion: """
            Starts from a sentence start (<eos>), reads the prompt if given, then samples --words \
            tokens, each fed back as the next input; <eos> prints as a line break. The same --seed \
            gives the same text. --temperature below 1 sharpens the distribution, above 1 flattens \
            it, 0 always takes the most probable token; --top-k K samples among the K most probable \
            tokens only (1 = greedy); --top-p P samples from the nucleus: the most probable tokens \
            whose probabilities (after --temperature and --top-k) first sum to P or more. Prompt \
            words outside the vocabulary are read as <unk> (a note on standard error lists them). \
            --num-samples N writes N texts, each from the prompt, each after a line "# sample I"; \
            they draw from one random stream, so the first is the text --num-samples 1 gives.

            Example: lmtool generate --model runs/tiny --prompt "the history of" --words 40 --temperature 0.8 --top-k 40 --seed 7
            """)

    @Option(help: "The run directory (from lmtool train --run DIR).")
    var model: String

    @Option(help: "Text the generated words continue (tokenized as the run's text).")
    var prompt: String?

    @Option(parsing: .unconditional, help: "Sampling temperature, finite and >= 0 (0 = greedy).")
    var temperature: Double = 1

    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Sample among the K most probable tokens only (K >= 1).")
    var topK: Int?

    @Option(name: .customLong("top-p"), parsing: .unconditional, help: "Sample from the nucleus of probability P only, P in (0, 1] (1 = all tokens).")
    var topP: Double?

    @Option(name: .customLong("num-samples"), parsing: .unconditional, help: "Number of texts to sample.")
    var numSamples = 1

    @Option(parsing: .unconditional, help: "Random seed.")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: "Number of tokens to generate (<eos> counts as one).")
    var words = 50

    @OptionGroup var threads: ThreadsOption

    func validate() throws { try OptionBounds.checkPaths("--model", [model]) }

    func run() throws {
        threads.apply()
        guard temperature.isFinite && temperature >= 0 else {
            throw ScoringOptionError("--temperature must be a finite number >= 0, got \(temperature)")
        }
        if let topK, topK < 1 { throw ScoringOptionError("--top-k must be at least 1, got \(topK)") }
        if let topP, !(topP > 0 && topP <= 1) { throw ScoringOptionError("--top-p must be in (0, 1], got \(topP)") }
        if words < 0 { throw ScoringOptionError("--words must be at least 0, got \(words)") }
        if numSamples < 1 { throw ScoringOptionError("--num-samples must be at least 1, got \(numSamples)") }
        let evaluator = try Evaluator.load(run: model, mode: .discourse, batchSize: 1, window: 1)
        var rng = RNG(seed: seed)
        let sampler = Sampler(temperature: Float(temperature), topK: topK, topP: topP)
        let promptWords = prompt.map { WhitespaceTokenizer().tokens($0) } ?? []
        for sample in 1...numSamples {
            let generation = evaluator.generate(prompt: prompt, count: words, sampler: sampler, rng: &rng)
            if sample == 1 && !generation.unknownPromptWords.isEmpty {
                let words = generation.unknownPromptWords
                FileHandle.standardError.write(Data("note: \(words.count) prompt word\(words.count == 1 ? "" : "s") not in the vocabulary, read as <unk>: \(words.joined(separator: " "))\n".utf8))
            }
            if numSamples > 1 { print("# sample \(sample)") }
            print(generation.text(prompt: promptWords))
        }
    }
}
