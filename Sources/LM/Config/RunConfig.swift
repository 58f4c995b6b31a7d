import Corpus
import Support
import Foundation
import GLoMoGraph

/// Everything needed to rebuild a trained model and its data path, stored as a run's
/// `config.json` (pretty JSON with sorted keys).
///
///     let config = RunConfig(model: Preset.tiny.model(vocabularySize: vocab.count),
///                            training: Preset.tiny.training,
///                            corpus: .init(train: ["train.txt.zst"], valid: ["valid.txt.zst"]),
///                            tokenization: TokenizationOptions(),
///                            vocabularyHash: vocab.contentHash)
public struct RunConfig: Codable, Equatable, Sendable {
    /// The corpus files a run was trained and evaluated on, as given on the command line.
    public struct CorpusPaths: Codable, Equatable, Sendable {
        public var train: [String]
        public var valid: [String]
        public var test: [String]

        public init(train: [String] = [], valid: [String] = [], test: [String] = []) {
            self.train = train
            self.valid = valid
            self.test = test
        }
    }

    /// What the input embedding is (`input_representation.kind` in config.json).
    public enum InputKind: String, CaseIterable, Codable, Sendable {
        /// A trainable table initialised from the seed.
        case random
        /// A table read from an embeddings file (`path`), used as `mode` says.
        case pretrained
    }

    /// Where the input embedding came from: `random` (initialised from the seed), or a pretrained
    /// file with its content hash (`input_representation` in config.json). `InputFactory` builds
    /// the model's `InputRepresentation` from it. An unknown `kind` or `mode` in a config.json is
    /// refused when it is read (naming the file and the field).
    public struct InputSource: Codable, Equatable, Sendable {
        public var kind: InputKind
        /// The file it was read from, if any.
        public var path: String?
        /// A hash of that file's content, if known.
        public var contentHash: String?
        /// Whether the pretrained values were kept frozen during training.
        public var frozen: Bool?
        /// How a pretrained table is used: `frozen`, `finetune` or `concat` (nil for `random`).
        public var mode: EmbeddingMode?
        /// The width D of the pretrained vectors (so that a run reloads without its embeddings file).
        public var dimension: Int?

        public init(kind: InputKind = .random, path: String? = nil, contentHash: String? = nil, frozen: Bool? = nil,
                    mode: EmbeddingMode? = nil, dimension: Int? = nil) {
            self.kind = kind
            self.path = path
            self.contentHash = contentHash
            self.frozen = frozen
            self.mode = mode
            self.dimension = dimension
        }

        private enum CodingKeys: String, CodingKey { case kind, path, contentHash, frozen, mode, dimension }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            kind = try c.decodeChoice(InputKind.self, forKey: .kind)
            path = try c.decodeIfPresent(String.self, forKey: .path)
            contentHash = try c.decodeIfPresent(String.self, forKey: .contentHash)
            frozen = try c.decodeIfPresent(Bool.self, forKey: .frozen)
            mode = try c.decodeChoiceIfPresent(EmbeddingMode.self, forKey: .mode)
            dimension = try c.decodeIfPresent(Int.self, forKey: .dimension)
        }

        public static let random = InputSource()
    }

    /// GLoMo graphs used by the model (`lmtool train --glomo DIR --glomo-on embeddings|hidden`).
    public struct GLoMoUse: Codable, Equatable, Sendable {
        /// The pretrained graph model directory (`lmtool pretrain-glomo --out DIR`).
        public var path: String
        /// A hash of that model's content.
        public var contentHash: String
        /// `embeddings` or `hidden`: what the mixed graphs are applied to.
        public var on: GLoMoSite
        /// `global` (one learned mixture for every position) or `per-token` (mixture weights
        /// predicted from the features at each position).
        /// Absent in config.json written before the option existed: `global`.
        public var weights: GraphMixWeighting

        public init(path: String, contentHash: String, on: GLoMoSite, weights: GraphMixWeighting = .global) {
            self.path = path
            self.contentHash = contentHash
            self.on = on
            self.weights = weights
        }

        private enum CodingKeys: String, CodingKey { case path, contentHash, on, weights }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            path = try c.decode(String.self, forKey: .path)
            contentHash = try c.decode(String.self, forKey: .contentHash)
            on = try c.decodeChoice(GLoMoSite.self, forKey: .on)
            weights = try c.decodeChoiceIfPresent(GraphMixWeighting.self, forKey: .weights) ?? .global
        }
    }

    /// The format of `config.json`: `currentVersion` when written. A file without the field was
    /// written before it existed (the same format: it reads as version 1); a newer version is refused.
    public var version = RunConfig.currentVersion
    public var model: ModelConfig
    public var training: TrainingConfig
    public var corpus: CorpusPaths
    public var tokenization: TokenizationOptions
    /// How the corpus files were read (`--format`, `--replace-invalid`, `--max-line-bytes`), so
    /// that `--resume` reads them the same way without the flags repeated; nil in runs written
    /// before it was recorded (they are resumed with the reading flags given).
    public var reading: ReadOptions?
    /// `Vocabulary.contentHash` of the run's `vocab.txt`.
    public var vocabularyHash: String
    public var inputRepresentation: InputSource
    /// GLoMo graphs, when used (nil = off).
    public var glomo: GLoMoUse?

    public init(model: ModelConfig, training: TrainingConfig, corpus: CorpusPaths, tokenization: TokenizationOptions,
                reading: ReadOptions? = nil, vocabularyHash: String, inputRepresentation: InputSource = .random,
                glomo: GLoMoUse? = nil) {
        self.model = model
        self.training = training
        self.corpus = corpus
        self.tokenization = tokenization
        self.reading = reading
        self.vocabularyHash = vocabularyHash
        self.inputRepresentation = inputRepresentation
        self.glomo = glomo
    }

    /// The `config.json` format this build writes and reads.
    public static let currentVersion = 1

    private enum CodingKeys: String, CodingKey {
        case version, model, training, corpus, tokenization, reading, vocabularyHash, inputRepresentation, glomo
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        version = try c.decodeIfPresent(Int.self, forKey: .version) ?? 1
        guard (1...RunConfig.currentVersion).contains(version) else {
            throw DecodingError.dataCorruptedError(forKey: .version, in: c, debugDescription:
                "version \(version) is not one this lmtool reads (1 to \(RunConfig.currentVersion); a newer lmtool wrote it?)")
        }
        model = try c.decode(ModelConfig.self, forKey: .model)
        training = try c.decode(TrainingConfig.self, forKey: .training)
        corpus = try c.decode(CorpusPaths.self, forKey: .corpus)
        tokenization = try c.decode(TokenizationOptions.self, forKey: .tokenization)
        reading = try c.decodeIfPresent(ReadOptions.self, forKey: .reading)
        vocabularyHash = try c.decode(String.self, forKey: .vocabularyHash)
        inputRepresentation = try c.decode(InputSource.self, forKey: .inputRepresentation)
        glomo = try c.decodeIfPresent(GLoMoUse.self, forKey: .glomo)
    }
}

extension RunConfig {
    /// The most floats a configuration read back from disk may size: parameters, or the
    /// activations of one training window (2³² floats, 16 GiB).
    public static let maxFloats: Double = 0x1p32

    /// Throws a one-line message naming the field when the sizes of a configuration read back
    /// from a file cannot build a model: a size below 1, dropout outside [0, 1), a vocabulary
    /// beyond the 32-bit token ids, or a model (or training window) of more than `maxFloats`
    /// floats, so that a damaged `config.json` never sizes an allocation (or traps) before a
    /// clear error; also adaptive softmax cutoffs that do not fit the vocabulary, and an adaptive
    /// softmax with tied weights. Every configuration `lmtool train` accepts passes.
    public func checkSizes() throws {
        let m = model, t = training, d = inputRepresentation.dimension
        let sizes = [("model.vocabularySize", m.vocabularySize), ("model.embeddingSize", m.embeddingSize),
                     ("model.hiddenSize", m.hiddenSize), ("model.layers", m.layers),
                     ("training.bptt", t.bptt), ("training.batchSize", t.batchSize)] + (d.map { [("inputRepresentation.dimension", $0)] } ?? [])
        for (name, value) in sizes where value < 1 { throw RunConfigError(message: "\(name) must be at least 1, got \(value)") }
        if let reading, reading.maxLineBytes < 1 {
            throw RunConfigError(message: "reading.maxLineBytes must be at least 1, got \(reading.maxLineBytes)")
        }
        if m.vocabularySize > Int(Int32.max) {
            throw RunConfigError(message: "model.vocabularySize \(m.vocabularySize) exceeds the largest token id \(Int32.max)")
        }
        if !(m.dropout >= 0 && m.dropout < 1) { throw RunConfigError(message: "model.dropout must be in [0, 1), got \(m.dropout)") }
        if !(m.initRange >= 0 && m.initRange.isFinite) { throw RunConfigError(message: "model.initRange must be a non-negative number, got \(m.initRange)") }
        if let softmax = m.softmax {
            do { try softmax.validate(vocabularySize: m.vocabularySize) } catch { throw RunConfigError(message: "model.softmax: \(error)") }
            if softmax.kind == .adaptive && m.tieWeights {
                throw RunConfigError(message: "model.tieWeights and an adaptive model.softmax exclude each other (PyTorch's AdaptiveLogSoftmaxWithLoss has no tied weights)")
            }
        }
        // In Double, so that no product overflows; generous upper estimates.
        let V = Double(m.vocabularySize), E = Double(m.embeddingSize), H = Double(m.hiddenSize), L = Double(m.layers)
        let D = Double(d ?? 0), N = Double(t.bptt) * Double(t.batchSize)
        let parameters = V * (D + E + H + 1) + E * (D + E + H) + L * 4 * H * (E + H + 2)
        // Per row, the [N, V] logits of a full softmax; an adaptive one keeps the head's logits
        // and at most one cluster's gathered input, projection and logits.
        var outputs = V
        if m.isAdaptive, let cutoffs = m.softmax?.cutoffs, let first = cutoffs.first {
            let bounds = cutoffs + [m.vocabularySize]
            let largest = zip(bounds.dropFirst(), bounds).map { $0 - $1 }.max() ?? 0
            outputs = Double(first + cutoffs.count) + 2 * H + Double(largest)
        }
        let activations = N * (outputs + 4 * (D + E) + 16 * L * H)
        for (what, n) in [("parameters", parameters), ("floats of activations per training window", activations)] where n > RunConfig.maxFloats {
            throw RunConfigError(message: "the sizes give about \(String(format: "%.3g", n)) \(what), more than the limit of 2^32")
        }
    }
}

/// A run configuration whose sizes cannot build a model (see `RunConfig.checkSizes()`).
public struct RunConfigError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

/// Named recipes: `small` and `medium` as Zaremba et al. 2014 / TensorFlow's ptb_word_lm
/// (published PTB test perplexities ~115 and ~82), converted to a per-token mean loss; `tiny`
/// for the demo and quick experiments.
///
/// | preset | emb/hidden | layers | BPTT | batch | lr (mean loss) | clip | init | dropout | schedule | epochs |
/// | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
/// | tiny | 64/64 | 1 | 35 | 32 | 20 | 0.25 | ±0.1 | 0 | ÷4 on plateau | 6 |
/// | small | 200/200 | 2 | 20 | 20 | 20 (= 1 × 20) | 0.25 (= 5 / 20) | ±0.1 | 0 | ×0.5 after epoch 4 | 13 |
/// | medium | 650/650 | 2 | 35 | 20 | 35 (= 1 × 35) | 0.143 (= 5 / 35) | ±0.05 | 0.5 | ×0.8 after epoch 6 | 39 |
public enum Preset: String, CaseIterable, Codable, Sendable {
    case tiny, small, medium

    /// The model shape for a vocabulary of `vocabularySize` ids.
    public func model(vocabularySize: Int) -> ModelConfig {
        switch self {
        case .tiny:
            return ModelConfig(vocabularySize: vocabularySize, embeddingSize: 64, hiddenSize: 64, layers: 1, dropout: 0, initRange: 0.1)
        case .small:
            return ModelConfig(vocabularySize: vocabularySize, embeddingSize: 200, hiddenSize: 200, layers: 2, dropout: 0, initRange: 0.1)
        case .medium:
            return ModelConfig(vocabularySize: vocabularySize, embeddingSize: 650, hiddenSize: 650, layers: 2, dropout: 0.5, initRange: 0.05)
        }
    }

    public var training: TrainingConfig {
        switch self {
        case .tiny:
            return TrainingConfig(bptt: 35, batchSize: 32, learningRate: 20, clip: 0.25, schedule: .plateau(factor: 0.25), epochs: 6)
        case .small:
            return TrainingConfig(bptt: 20, batchSize: 20, learningRate: 20, clip: 0.25, schedule: .decayAfter(epoch: 4, factor: 0.5), epochs: 13)
        case .medium:
            return TrainingConfig(bptt: 35, batchSize: 20, learningRate: 35, clip: 5.0 / 35.0, schedule: .decayAfter(epoch: 6, factor: 0.8), epochs: 39)
        }
    }
}
