import Foundation
import Support

/// `summary.json`, written last and atomically when a run is complete: its presence means
/// "finished".
///
///     {"epochs":6,"parameters":712645,"seconds":171.2,"test_ppl":181.3,"trainable_parameters":712645,"valid_ppl":190.9}
///
/// `valid_ppl` is the best validation perplexity (the model in `model.safetensors`),
/// `test_ppl` that model's test perplexity (`null` without a test split), `parameters` the
/// number of values in the model's parameter store (a tied decoder weight counted once),
/// `trainable_parameters` those the optimizer updates, `seconds` the training time summed
/// over resumed sessions (validation included, the final test evaluation not), `epochs` the
/// completed epochs.
public struct RunSummary: Codable, Equatable, Sendable {
    public var validPerplexity: Double
    public var testPerplexity: Double?
    public var parameters: Int
    public var trainableParameters: Int
    public var seconds: Double
    public var epochs: Int

    public init(validPerplexity: Double, testPerplexity: Double?, parameters: Int, trainableParameters: Int,
                seconds: Double, epochs: Int) {
        self.validPerplexity = validPerplexity
        self.testPerplexity = testPerplexity
        self.parameters = parameters
        self.trainableParameters = trainableParameters
        self.seconds = seconds
        self.epochs = epochs
    }

    enum CodingKeys: String, CodingKey {
        case validPerplexity = "valid_ppl"
        case testPerplexity = "test_ppl"
        case parameters
        case trainableParameters = "trainable_parameters"
        case seconds, epochs
    }

    /// Writes every key, `test_ppl` as `null` when there is no test split.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(validPerplexity, forKey: .validPerplexity)
        try c.encode(testPerplexity, forKey: .testPerplexity)
        try c.encode(parameters, forKey: .parameters)
        try c.encode(trainableParameters, forKey: .trainableParameters)
        try c.encode(seconds, forKey: .seconds)
        try c.encode(epochs, forKey: .epochs)
    }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }
}

extension RunDirectory {
    /// `summary.json`: present only when the run is complete.
    public var summaryPath: String { path + "/summary.json" }
    /// `test-sentences.tsv`: `tokens<TAB>logprob` per test sentence.
    public var testSentencesPath: String { path + "/test-sentences.tsv" }

    /// Whether the run is complete (`summary.json` exists).
    public var isFinished: Bool { FileManager.default.fileExists(atPath: summaryPath) }

    /// Writes `summary.json` atomically (one line of JSON with sorted keys).
    public func writeSummary(_ summary: RunSummary) throws {
        let data: Data
        do { data = try RunSummary.encoder().encode(summary) } catch {
            throw FileError(path: summaryPath, message: "cannot encode: \(error)")
        }
        try AtomicFile.write(Array(data) + [10], to: summaryPath)
    }

    /// Reads `summary.json`.
    public func readSummary() throws -> RunSummary {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: summaryPath)) } catch {
            throw FileError(path: summaryPath, message: "cannot read: \(error.localizedDescription)")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try decoder.decode(RunSummary.self, from: data) } catch {
            throw FileError(path: summaryPath, message: "not a run summary: \(RunDirectory.describe(error))")
        }
    }

    /// Writes `test-sentences.tsv` atomically: one line per sentence, `tokens<TAB>logprob`, the
    /// token count including `<eos>` and the summed natural-log probability of those tokens
    /// (written with Swift's shortest round-trip digits).
    ///
    ///     12	-58.03919982910156
    public func writeTestSentences(_ sentences: [(tokens: Int, logProbability: Double)]) throws {
        try AtomicFile.write(to: testSentencesPath) { sink in
            for s in sentences { try sink.write("\(s.tokens)\t\(s.logProbability)\n") }
        }
    }
}
