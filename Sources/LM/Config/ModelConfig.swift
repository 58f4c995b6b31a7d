/// The shape of an LSTM language model: embedding → dropout → LSTM layers → dropout → linear
/// decoder over the vocabulary (as pytorch/examples word_language_model and Zaremba et al. 2014),
/// or an adaptive softmax (`softmax`).
public struct ModelConfig: Codable, Equatable, Sendable {
    /// Number of ids in the vocabulary (set from the vocabulary at training time).
    public var vocabularySize: Int
    public var embeddingSize: Int
    public var hiddenSize: Int
    public var layers: Int
    /// Dropout on the embeddings, between LSTM layers and on the LSTM output (0 = none).
    public var dropout: Float
    /// Share the decoder weight with the input embedding (with a projection when
    /// `hiddenSize != embeddingSize`).
    public var tieWeights: Bool
    /// Parameters start uniform in [-initRange, initRange].
    public var initRange: Float
    /// The output layer: nil (or `full`) a full softmax, else an adaptive softmax
    /// (`SoftmaxConfig`); left out of `config.json` when nil.
    public var softmax: SoftmaxConfig?

    public init(vocabularySize: Int, embeddingSize: Int, hiddenSize: Int, layers: Int,
                dropout: Float, tieWeights: Bool = false, initRange: Float, softmax: SoftmaxConfig? = nil) {
        self.vocabularySize = vocabularySize
        self.embeddingSize = embeddingSize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.dropout = dropout
        self.tieWeights = tieWeights
        self.initRange = initRange
        self.softmax = softmax
    }
}
