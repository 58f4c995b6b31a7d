import Corpus
import NN

/// The language model's output layer: a full softmax over the vocabulary (`decoder.weight`,
/// `decoder.bias`) or an adaptive softmax (`NN.AdaptiveLogSoftmax`, PyTorch's
/// `nn.AdaptiveLogSoftmaxWithLoss` with `head_bias=False`). Recorded in `config.json` as
/// `model.softmax`, e.g. `{"kind": "adaptive", "cutoffs": [2000, 10000], "div_value": 4}`;
/// absent means full (so runs written before the option load unchanged).
///
/// Both give exact, normalized probabilities over every word; the adaptive softmax only costs
/// less. It is exact for any id order, but only cheap when the ids are sorted by descending
/// count (lmtool's built vocabularies are: `<unk>`, `<eos>`, then by count), because the head
/// holds the ids below the first cutoff.
public struct SoftmaxConfig: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case full, adaptive }

    public var kind: Kind
    /// The adaptive softmax's cutoffs (without V): strictly increasing, in `1..<V`. Empty for full.
    public var cutoffs: [Int]
    /// Each tail cluster's projection is `⌊H / divValue^(i+1)⌋` wide (PyTorch's `div_value`).
    public var divValue: Double

    /// PyTorch's default `div_value`.
    public static let defaultDivValue = 4.0

    public init(kind: Kind, cutoffs: [Int] = [], divValue: Double = SoftmaxConfig.defaultDivValue) {
        self.kind = kind
        self.cutoffs = cutoffs
        self.divValue = divValue
    }

    /// An adaptive softmax with these cutoffs.
    public static func adaptive(cutoffs: [Int], divValue: Double = SoftmaxConfig.defaultDivValue) -> SoftmaxConfig {
        SoftmaxConfig(kind: .adaptive, cutoffs: cutoffs, divValue: divValue)
    }

    private enum CodingKeys: String, CodingKey { case kind, cutoffs, divValue }

    /// `cutoffs` and `div_value` may be left out (full needs neither; an adaptive softmax
    /// without cutoffs is refused by `validate`).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(Kind.self, forKey: .kind)
        cutoffs = try c.decodeIfPresent([Int].self, forKey: .cutoffs) ?? []
        divValue = try c.decodeIfPresent(Double.self, forKey: .divValue) ?? SoftmaxConfig.defaultDivValue
    }

    /// Throws `AdaptiveSoftmaxError` (one line, for the caller to prefix with the flag or file)
    /// when an adaptive softmax's cutoffs do not fit a vocabulary of `vocabularySize` ids (none,
    /// not positive, not below V, repeated, not increasing) or `divValue` is not a positive
    /// number. Full needs nothing.
    public func validate(vocabularySize: Int) throws {
        guard kind == .adaptive else { return }
        try AdaptiveLogSoftmax.validate(cutoffs: cutoffs, classCount: vocabularySize)
        guard divValue.isFinite && divValue > 0 else {
            throw AdaptiveSoftmaxError("adaptive softmax: division value \(divValue) must be a positive number")
        }
    }
}

extension ModelConfig {
    /// Whether the output layer is an adaptive softmax (`softmax` nil or `full`: a full softmax).
    public var isAdaptive: Bool { softmax?.kind == .adaptive }
}

/// What `--softmax` asks for, before the vocabulary is known: `full`, `adaptive` (cutoffs chosen
/// from the vocabulary's counts, `AdaptiveLogSoftmax.chooseCutoffs`) or `adaptive:C1,C2,...`.
///
///     let choice = try SoftmaxChoice(parsing: "adaptive:2000,10000")
///     let softmax = try choice.resolve(vocabulary: vocab, source: "vocab.txt")  // SoftmaxConfig?
public enum SoftmaxChoice: Equatable, Sendable {
    case full
    /// Explicit cutoffs, or nil: chosen from the vocabulary's counts.
    case adaptive(cutoffs: [Int]?)

    /// Parses the value of `--softmax`; throws `TrainingSetupError` naming the flag for anything
    /// else, for cutoffs that are not positive integers, repeated or not increasing.
    public init(parsing text: String) throws {
        func fail(_ message: String) -> TrainingSetupError { TrainingSetupError("--softmax '\(text)': \(message)") }
        if text == "full" { self = .full; return }
        if text == "adaptive" { self = .adaptive(cutoffs: nil); return }
        guard text.hasPrefix("adaptive:") else { throw fail("expected full, adaptive or adaptive:C1,C2,...") }
        var cutoffs: [Int] = []
        for part in text.dropFirst("adaptive:".count).split(separator: ",", omittingEmptySubsequences: false) {
            guard let c = Int(part) else { throw fail("cutoff '\(part)' is not an integer") }
            cutoffs.append(c)
        }
        // Everything but the vocabulary bound (checked once the vocabulary is known).
        do { try AdaptiveLogSoftmax.validate(cutoffs: cutoffs, classCount: Int.max) } catch {
            throw fail("\(error)")
        }
        self = .adaptive(cutoffs: cutoffs)
    }

    /// The model's softmax for `vocabulary` (nil for full). `adaptive` without cutoffs picks them
    /// with `AdaptiveLogSoftmax.chooseCutoffs` from the counts, which needs ids sorted by
    /// descending count after `<unk>` and `<eos>` (every built vocabulary is; a `--vocab` file
    /// need not be): otherwise, or when the counts are all 0, it throws one line naming `source`
    /// (the vocabulary file) and the first out-of-order line
    /// (`Vocabulary.checkCountsForAdaptiveCutoffs`, as `pretrain-glomo` and `embed bilm`). Explicit cutoffs are checked
    /// against the vocabulary size by `TrainingRequest.check`.
    public func resolve(vocabulary: Vocabulary, source: String) throws -> SoftmaxConfig? {
        switch self {
        case .full:
            return nil
        case .adaptive(let cutoffs?):
            return .adaptive(cutoffs: cutoffs)
        case .adaptive(nil):
            let counts = vocabulary.counts
            do { try Vocabulary.checkCountsForAdaptiveCutoffs(counts, source: source) } catch {
                throw TrainingSetupError("\(error)")
            }
            do {
                return .adaptive(cutoffs: try AdaptiveLogSoftmax.chooseCutoffs(counts: counts))
            } catch {
                throw TrainingSetupError("--softmax adaptive: \(error)")
            }
        }
    }
}
