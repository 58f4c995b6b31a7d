import Corpus
import Foundation
import GLoMoGraph
import NN

/// GLoMo graphs inside a `DomainClassifier` (issue 6, the second consumer): the shapes.
///
/// A frozen pretrained graph predictor (`lmtool pretrain-glomo`) computes graphs over the
/// example's words, and a trainable `GraphMixer` (global or per-token mixture weights, a gate
/// over `[h ; M·h]`) mixes the BiLSTM states `h [T, B, 2H]` before pooling: the classifier pools
/// the mixed states instead. This is a `GLoMoTransfer` at `.hidden` with no carried context.
///
/// **Window.** The predictor's buffers are sized once, for `window` positions (activations grow
/// as window²). Training examples must fit one window (the trainer cuts them to `maxLength`,
/// which is at most `window`); a longer example (evaluation reads up to 2,048 tokens) is mixed
/// window by window, with no edges between windows.
public struct DomainGraphConfig: Codable, Equatable, Sendable {
    /// The pretrained graph predictor's sizes (the graph model's `config.json`).
    public var predictor: GraphPredictorConfig
    /// Rows of the graph model's embedding table (its vocabulary size).
    public var graphVocabularySize: Int
    /// Global or per-token mixture weights.
    public var weighting: GraphMixWeighting
    /// The longest stretch of positions one graph covers.
    public var window: Int

    public init(predictor: GraphPredictorConfig, graphVocabularySize: Int, weighting: GraphMixWeighting = .global, window: Int) {
        self.predictor = predictor
        self.graphVocabularySize = graphVocabularySize
        self.weighting = weighting
        self.window = window
    }

    /// The transfer module's configuration: the BiLSTM states, no carried context.
    var transfer: GLoMoTransferConfig {
        GLoMoTransferConfig(predictor: predictor, graphVocabularySize: graphVocabularySize, site: .hidden,
                            weighting: weighting, context: 0)
    }
}

/// Where a classifier run's graphs came from (`DomainRunConfig.graphModel`).
public struct GraphModelSource: Codable, Equatable, Sendable {
    /// The graph model directory, absolute.
    public var path: String
    /// `GLoMoGraphModel.contentHash` of it when the run was configured.
    public var contentHash: String

    public init(path: String, contentHash: String) {
        self.path = path
        self.contentHash = contentHash
    }
}

extension DomainGraphConfig {
    /// The graph configuration and source of a new classifier run over `vocabulary` with the
    /// graph model in `path` (checked as `GLoMoGraphModel.loadForTransfer`), and the loaded model,
    /// for `DomainClassifier.loadGraphs`.
    ///
    ///     let (graphs, source, graphModel) = try DomainGraphConfig.prepare(path: "glomo", vocabulary: vocab,
    ///                                                                       weighting: .global, window: 128)
    public static func prepare(path: String, vocabulary: Vocabulary, weighting: GraphMixWeighting, window: Int) throws
        -> (config: DomainGraphConfig, source: GraphModelSource, graphModel: GLoMoGraphModel) {
        precondition(window > 0, "DomainGraphConfig: the window must be positive")
        let graphModel = try GLoMoGraphModel.loadForTransfer(at: path, vocabulary: vocabulary, consumer: "classifier")
        let config = DomainGraphConfig(predictor: graphModel.config.graph, graphVocabularySize: graphModel.config.vocabularySize,
                                       weighting: weighting, window: window)
        let source = GraphModelSource(path: URL(fileURLWithPath: path).standardizedFileURL.path, contentHash: graphModel.contentHash)
        return (config, source, graphModel)
    }
}

extension DomainClassifier {
    /// Copies a pretrained graph model into the classifier's frozen graph parameters and maps
    /// `vocabulary` onto the graph model's by token (`<unk>` for missing words); returns how many
    /// words (besides `<unk>` and `<eos>`) it knows.
    ///
    /// - Throws: `GLoMoTransferError` when the classifier has no graphs or was built for a graph
    ///   model of other sizes.
    @discardableResult
    public func loadGraphs(_ graphModel: GLoMoGraphModel, vocabulary: Vocabulary) throws -> Int {
        guard let graphs else { throw GLoMoTransferError(message: "the classifier was built without graphs") }
        return try graphs.load(graphModel, lmVocabulary: vocabulary)
    }
}
