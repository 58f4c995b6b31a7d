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
            tokens, each fed back as the next input; <eos> prints as a line break. The text is \
            printed as it is sampled, a line at a time. The same --seed gives the same text. \
            --temperature below 1 sharpens the distribution, above 1 flattens \
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

    @Option(name: .customLong("num-samples"), parsing: .unconditional,
            help: ArgumentHelp("Number of texts to sample, 1 to \(ScoringBounds.maxSamples)."))
    var numSamples = 1

    @Option(parsing: .unconditional, help: "Random seed.")
    var seed: UInt64 = 1

    @Option(parsing: .unconditional, help: ArgumentHelp("Number of tokens to generate (<eos> counts as one), 0 to \(ScoringBounds.maxWords)."))
    var words = 50

    @OptionGroup var threads: ThreadsOption

    func validate() throws {
        try OptionBounds.checkPaths("--model", [model])
        guard temperature.isFinite && temperature >= 0 else {
            throw ValidationError("--temperature must be a finite number >= 0, got \(temperature)")
        }
        try OptionBounds.checkAtLeast(1, topK, "--top-k")
        if let topP, !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1], got \(topP)") }
        try OptionBounds.checkRange(0...ScoringBounds.maxWords, words, "--words")
        try OptionBounds.checkRange(1...ScoringBounds.maxSamples, numSamples, "--num-samples")
    }

    func run() throws {
        threads.apply()
        let evaluator = try Evaluator.load(run: model, mode: .discourse, batchSize: 1, window: 1)
        var rng = RNG(seed: seed)
        let sampler = Sampler(temperature: Float(temperature), topK: topK, topP: topP)
        let promptWords = prompt.map { WhitespaceTokenizer().tokens($0) } ?? []
        // Printed as it is sampled, each line flushed when it ends (so an interrupted run keeps
        // its text, and a write error stops it): the bytes `Generation.text` would make.
        for sample in 1...numSamples {
            var stream = GenerationStream(evaluator: evaluator, prompt: prompt)
            if sample == 1 && !stream.unknownPromptWords.isEmpty {
                let words = stream.unknownPromptWords
                FileHandle.standardError.write(Data("note: \(words.count) prompt word\(words.count == 1 ? "" : "s") not in the vocabulary, read as <unk>: \(words.joined(separator: " "))\n".utf8))
            }
            if numSamples > 1 { print("# sample \(sample)") }
            var text = GenerationText()
            for word in promptWords { print(text.append(word), terminator: "") }
            for _ in 0..<words {
                let piece = text.append(stream.next(sampler: sampler, rng: &rng))
                print(piece, terminator: "")
                if piece == "\n" { try flushStandardOutput() }
            }
            print()
            try flushStandardOutput()
        }
    }
}
