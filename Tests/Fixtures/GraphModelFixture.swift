import Corpus
import GLoMoGraph
import NN

// Test fixtures shared by several test targets (the `TestFixtures` target: not shipped).

/// Writes a small GLoMo graph model with random parameters over `tokens` to `path` (embedding
/// size 3, one convolution layer, 2 graph layers × 2 heads), as `lmtool pretrain-glomo` would.
@discardableResult
public func writeRandomGraphModel(at path: String, tokens: [String], seed: UInt64 = 11) throws -> GLoMoModelDirectory {
    let vocabulary = try Vocabulary(tokens: tokens, counts: [1] + Array(repeating: 2, count: tokens.count - 1))
    let graph = GraphPredictorConfig(embeddingSize: 3, channels: 4, convLayers: 1, graphLayers: 2, heads: 2, headSize: 2)
    let config = GLoMoModelConfig(vocabulary: vocabulary, graph: graph, pretraining: GLoMoPretrainingConfig())
    let dir = try GLoMoModelDirectory.create(at: path, config: config, vocabulary: vocabulary)
    // The whole pretraining model (model.safetensors holds exactly its parameters); the feature
    // predictor and decoder, which a graph user never reads, stay zero.
    let model = ContextPredictionModel(vocabularySize: vocabulary.count, graph: graph, maxSteps: 4, maxBatch: 1,
                                       predictTokens: 1, maxPositions: 1)
    let store = model.store, gp = model.graphPredictor
    var rng = RNG(seed: seed)
    gp.initialize(rng: &rng)
    for i in 0..<(vocabulary.count * 3) { store.values[i] = rng.uniform(-1, 1) }
    try dir.saveModel(store, config: config)
    return dir
}
