import Corpus
import Foundation
import GLoMoGraph
import NN

/// The GLoMo side of `InputFactory`: `lmtool train --glomo DIR --glomo-on embeddings|hidden`.
///
/// - `prepareGLoMo` (new run, before anything is written): DIR must hold a loadable graph model (`GLoMoModelDirectory.load`: config.json,
///   vocab.txt and model.safetensors checked, one-line errors naming the file); its content hash
///   is recorded and the path made absolute; at least one LM word (besides `<unk>`, `<eos>`) must be in its vocabulary.
/// - `makeGLoMo`: the `GLoMoTransfer` of the shapes DIR's `config.json` gives, applied at `on`,
///   with the previous `bptt` tokens as carried context and global mixture weights.
/// - `initializeGLoMo` (new run): copies the pretrained embedding and predictor into the model
///   and maps the LM vocabulary onto the graph model's by token (`<unk>` for missing words).
///
///     config.glomo = .init(path: "glomo", contentHash: "", on: .hidden)
///     try InputFactory.prepare(&config, vocabulary: vocab)      // fills contentHash
///     let model = try RunDirectory.makeModel(config: config, batchSize: 20, maxSteps: 35, rng: &rng)
///     print(try InputFactory.initialize(model, config: config, vocabulary: vocab))
extension InputFactory {
    /// Checks a new run's GLoMo model and records its content hash.
    public static func prepareGLoMo(_ config: inout RunConfig, vocabulary: Vocabulary) throws {
        guard var use = config.glomo else { return }
        let graphModel = try GLoMoGraphModel.loadForTransfer(at: use.path, vocabulary: vocabulary, consumer: "LM")
        use.contentHash = graphModel.contentHash
        // An absolute path, so that the run loads from any working directory.
        use.path = URL(fileURLWithPath: use.path).standardizedFileURL.path
        config.glomo = use
    }

    /// The transfer module a run's GLoMo use describes (shapes only; values come from
    /// `initializeGLoMo` or from `model.safetensors`).
    public static func makeGLoMo(_ use: RunConfig.GLoMoUse, config: RunConfig) throws -> GLoMoTransfer {
        let site = use.on, weighting = use.weights
        let graphConfig = try GLoMoModelDirectory(path: use.path).readConfig()
        let transferConfig = GLoMoTransferConfig(predictor: graphConfig.graph, graphVocabularySize: graphConfig.vocabularySize,
                                                 site: site, weighting: weighting, context: config.training.bptt)
        let model = config.model
        return GLoMoTransfer(config: transferConfig, vocabularySize: model.vocabularySize,
                             featureSize: site == .embeddings ? model.embeddingSize : model.hiddenSize)
    }

    /// Loads the pretrained graph model into a fresh model's frozen GLoMo parameters; returns
    /// the log line.
    static func initializeGLoMo(_ glomo: GLoMoTransfer, use: RunConfig.GLoMoUse, vocabulary: Vocabulary) throws -> String {
        let graphModel = try GLoMoGraphModel.loadForTransfer(at: use.path, vocabulary: vocabulary, consumer: "LM")
        if !use.contentHash.isEmpty && graphModel.contentHash != use.contentHash {
            throw InputFactoryError(message: "\(use.path): the GLoMo model changed since the run was configured (content hash \(graphModel.contentHash), config.json says \(use.contentHash))")
        }
        let found = try glomo.load(graphModel, lmVocabulary: vocabulary)
        return "GLoMo graphs from \(use.path) on \(use.on.rawValue) (\(use.weights.rawValue) mixture weights): \(found) of \(vocabulary.count - 2) vocabulary words found in its vocabulary (the rest read as <unk>), \(glomo.config.predictor.graphLayers) layers × \(glomo.config.predictor.heads) heads, \(glomo.config.context) tokens of carried context"
    }
}
