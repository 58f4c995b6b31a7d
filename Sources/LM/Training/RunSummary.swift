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
/// completed epochs (the last one cut short when `--time-limit` ended it), `stop_reason` why
/// training ended (`finished 6 epochs`, `early stop: …`, `time limit of 1800 s reached in epoch
/// 2`; absent in summaries written before it existed).
///
/// When every test sentence came from a JSONL record with a `domain`, `test_by_domain` holds
/// the test figures per domain (`DomainPerplexity`), e.g.
/// `"test_by_domain":{"fiction":{"log_prob":-5012.3,"ppl":151.2,"sentences":40,"tokens":998}}`;
/// the key is absent otherwise, and summaries without it (older runs) still load.
public struct RunSummary: Codable, Equatable, Sendable {
    public var validPerplexity: Double
    public var testPerplexity: Double?
    public var parameters: Int
    public var trainableParameters: Int
    public var seconds: Double
    public var epochs: Int
    /// Test figures per domain; nil without a test split whose every record has a domain.
    public var testByDomain: [String: DomainPerplexity]? = nil
    /// Why training ended (the schedule's stop reason); nil in older summaries.
    public var stopReason: String? = nil

    public init(validPerplexity: Double, testPerplexity: Double?, parameters: Int, trainableParameters: Int,
                seconds: Double, epochs: Int, testByDomain: [String: DomainPerplexity]? = nil, stopReason: String? = nil) {
        self.validPerplexity = validPerplexity
        self.testPerplexity = testPerplexity
        self.parameters = parameters
        self.trainableParameters = trainableParameters
        self.seconds = seconds
        self.epochs = epochs
        self.testByDomain = testByDomain
        self.stopReason = stopReason
    }

    enum CodingKeys: String, CodingKey {
        case validPerplexity = "valid_ppl"
        case testPerplexity = "test_ppl"
        case parameters
        case trainableParameters = "trainable_parameters"
        case seconds, epochs
        case testByDomain = "test_by_domain"
        case stopReason = "stop_reason"
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
        try c.encodeIfPresent(testByDomain, forKey: .testByDomain)
        try c.encodeIfPresent(stopReason, forKey: .stopReason)
    }

    /// 1 less a rounding hair: exp of a mean −log p that rounding left just below 0.
    static let lowestPerplexity = 1 - 1e-6

    /// The keys `summary.json` may hold (any other is a damaged or foreign file).
    static let keys = Set(["valid_ppl", "test_ppl", "parameters", "trainable_parameters", "seconds", "epochs",
                           "test_by_domain", "stop_reason"])

    /// The first impossible value, if any: a perplexity is a finite number of at least 1 (up to
    /// the rounding of a near-certain model: `lowestPerplexity`), counts and seconds are not
    /// negative, trainable parameters are among the parameters.
    public var impossibleValue: String? {
        for (key, ppl) in [("valid_ppl", validPerplexity), ("test_ppl", testPerplexity)] {
            if let ppl, !(ppl.isFinite && ppl >= RunSummary.lowestPerplexity) { return "\(key) \(ppl) is not a perplexity (a finite number of at least 1)" }
        }
        if parameters < 1 { return "parameters \(parameters) is not a positive count" }
        if trainableParameters < 0 || trainableParameters > parameters {
            return "trainable_parameters \(trainableParameters) is not between 0 and parameters (\(parameters))"
        }
        if !(seconds.isFinite && seconds >= 0) { return "seconds \(seconds) is not a finite number of at least 0" }
        if epochs < 0 { return "epochs \(epochs) is negative" }
        for (domain, d) in (testByDomain ?? [:]).sorted(by: { $0.key < $1.key }) {
            if !(d.perplexity.isFinite && d.perplexity >= RunSummary.lowestPerplexity) { return "test_by_domain \(domain): ppl \(d.perplexity) is not a perplexity (a finite number of at least 1)" }
            if d.sentences < 1 || d.tokens < d.sentences { return "test_by_domain \(domain): \(d.sentences) sentences and \(d.tokens) tokens are not counts of a scored domain" }
        }
        return nil
    }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return e
    }
}

/// One domain's share of a split's figures: `sentences` and `tokens` (scored positions, `<eos>`
/// included, as for `test_ppl`), `log_prob` = Σ ln p over those tokens, and `ppl` =
/// exp(−log_prob / tokens). The domains' sentences, tokens and log_prob add up to the split's.
public struct DomainPerplexity: Codable, Equatable, Sendable {
    public var sentences: Int
    public var tokens: Int
    public var logProbability: Double
    public var perplexity: Double

    public init(sentences: Int, tokens: Int, logProbability: Double) {
        self.sentences = sentences
        self.tokens = tokens
        self.logProbability = logProbability
        self.perplexity = tokens > 0 ? exp(-logProbability / Double(tokens)) : .nan
    }

    enum CodingKeys: String, CodingKey {
        case sentences, tokens
        case logProbability = "log_prob"
        case perplexity = "ppl"
    }
}
