import Corpus

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

    /// Where the input embedding (and, later, graphs) came from: `random` (initialised from the
    /// seed), or a pretrained file with its content hash.
    public struct InputRepresentation: Codable, Equatable, Sendable {
        /// `random`, or the name of a pretrained source (e.g. `word2vec`, `domain-classifier`, `glomo`).
        public var kind: String
        /// The file it was read from, if any.
        public var path: String?
        /// A hash of that file's content, if known.
        public var contentHash: String?
        /// Whether the pretrained values were kept frozen during training.
        public var frozen: Bool?
        /// How a pretrained table is used: `frozen`, `finetune` or `concat` (nil for `random`).
        public var mode: String?
        /// The width D of the pretrained vectors (so that a run reloads without its embeddings file).
        public var dimension: Int?

        public init(kind: String = "random", path: String? = nil, contentHash: String? = nil, frozen: Bool? = nil,
                    mode: String? = nil, dimension: Int? = nil) {
            self.kind = kind
            self.path = path
            self.contentHash = contentHash
            self.frozen = frozen
            self.mode = mode
            self.dimension = dimension
        }

        public static let random = InputRepresentation()
    }

    /// GLoMo graphs used by the model (`lmtool train --glomo DIR --glomo-on embeddings|hidden`).
    public struct GLoMoUse: Codable, Equatable, Sendable {
        /// The pretrained graph model directory (`lmtool pretrain-glomo --out DIR`).
        public var path: String
        /// A hash of that model's content.
        public var contentHash: String
        /// `embeddings` or `hidden`: what the mixed graphs are applied to.
        public var on: String
        /// `global` (one learned mixture for every position) or `per-token` (mixture weights
        /// predicted from the features at each position): `GraphMixWeighting`'s raw values.
        /// Absent in config.json written before the option existed: `global`.
        public var weights: String

        public init(path: String, contentHash: String, on: String, weights: String = "global") {
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
            on = try c.decode(String.self, forKey: .on)
            weights = try c.decodeIfPresent(String.self, forKey: .weights) ?? "global"
        }
    }

    public var model: ModelConfig
    public var training: TrainingConfig
    public var corpus: CorpusPaths
    public var tokenization: TokenizationOptions
    /// `Vocabulary.contentHash` of the run's `vocab.txt`.
    public var vocabularyHash: String
    public var inputRepresentation: InputRepresentation
    /// GLoMo graphs, when used (nil = off).
    public var glomo: GLoMoUse?

    public init(model: ModelConfig, training: TrainingConfig, corpus: CorpusPaths, tokenization: TokenizationOptions,
                vocabularyHash: String, inputRepresentation: InputRepresentation = .random, glomo: GLoMoUse? = nil) {
        self.model = model
        self.training = training
        self.corpus = corpus
        self.tokenization = tokenization
        self.vocabularyHash = vocabularyHash
        self.inputRepresentation = inputRepresentation
        self.glomo = glomo
    }
}
