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
            tokens only (1 = greedy). Prompt words outside the vocabulary are read as <unk> (a note \
            on standard error lists them).

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

    @Option(parsing: .unconditional, help: "Random seed.")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: "Number of tokens to generate (<eos> counts as one).")
    var words = 50

    func run() throws {
        guard temperature.isFinite && temperature >= 0 else {
            throw ScoringOptionError("--temperature must be a finite number >= 0, got \(temperature)")
        }
        if let topK, topK < 1 { throw ScoringOptionError("--top-k must be at least 1, got \(topK)") }
        if words < 0 { throw ScoringOptionError("--words must be at least 0, got \(words)") }
        let evaluator = try Evaluator.load(run: model, mode: .discourse, batchSize: 1, window: 1)
        var rng = RNG(seed: seed)
        let generation = evaluator.generate(prompt: prompt, count: words,
                                            sampler: Sampler(temperature: Float(temperature), topK: topK), rng: &rng)
        if !generation.unknownPromptWords.isEmpty {
            let words = generation.unknownPromptWords
            FileHandle.standardError.write(Data("note: \(words.count) prompt word\(words.count == 1 ? "" : "s") not in the vocabulary, read as <unk>: \(words.joined(separator: " "))\n".utf8))
        }
        let promptWords = prompt.map { WhitespaceTokenizer().tokens($0) } ?? []
        print(generation.text(prompt: promptWords))
    }
}
