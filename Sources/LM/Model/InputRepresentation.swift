import NN

/// What turns token ids into the vectors the LSTM reads: the pluggable first stage of a
/// `LanguageModel`.
///
/// The default is `TrainableEmbedding` (PyTorch's `encoder`, an `nn.Embedding`). Later sources
/// (a frozen pretrained table, GLoMo graph mixing) conform to this protocol, so the model and the
/// trainer never change when a source is added. A representation registers its parameters (if
/// any) in the model's `ParameterStore` once, in `register(in:)`; afterwards the store's buffers
/// do not move, so it may keep views and read `store.values` / add into `store.gradients`.
///
/// Forward writes `[T·B, E]` rows in time-major order (row `t·B + b` is step t of column b);
/// backward *adds* the parameter gradients given the gradient of that output. A frozen
/// representation simply does nothing in backward.
///
///     final class Frozen: InputRepresentation {
///         let outputSize = 300
///         func register(in store: ParameterStore) {}
///         func forward(output: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, count: Int,
///                      store: ParameterStore) { /* copy rows of a fixed table */ }
///         func backward(doutput: UnsafePointer<Float>, ids: UnsafePointer<Int32>, count: Int,
///                       store: ParameterStore) {}
///     }
public protocol InputRepresentation: AnyObject {
    /// The size E of each output vector.
    var outputSize: Int { get }

    /// Registers this representation's trainable parameters in `store` (called once, first).
    func register(in store: ParameterStore)

    /// Writes the vectors of `ids[0..<count]`.
    func forward(
        output: UnsafeMutablePointer<Float>,  // [count, E]
        ids: UnsafePointer<Int32>,            // [count]
        count: Int,
        store: ParameterStore)

    /// Adds the gradients of this representation's parameters into `store.gradients`, given the
    /// gradient of the last forward's output (same `ids`).
    func backward(
        doutput: UnsafePointer<Float>,  // [count, E]
        ids: UnsafePointer<Int32>,      // [count]
        count: Int,
        store: ParameterStore)

    /// The parameter that may serve as the tied decoder weight (`[V, E]`), if any.
    var tiedWeight: ParameterView? { get }
}

/// The default input representation: a trainable embedding table `encoder.weight [V, E]`, as
/// `nn.Embedding(V, E)` in pytorch/examples word_language_model.
///
///     let input = TrainableEmbedding(vocabularySize: 10_000, embeddingSize: 200)
public final class TrainableEmbedding: InputRepresentation {
    public let embedding: Embedding
    /// The view of `encoder.weight` once registered.
    public private(set) var weight: ParameterView?
    /// The registered name (`encoder.weight`).
    public let name: String

    public init(vocabularySize: Int, embeddingSize: Int, name: String = "encoder.weight") {
        embedding = Embedding(vocabularySize: vocabularySize, embeddingSize: embeddingSize)
        self.name = name
    }

    public var outputSize: Int { embedding.embeddingSize }
    public var tiedWeight: ParameterView? { weight }

    public func register(in store: ParameterStore) {
        weight = store.register(name, shape: [embedding.vocabularySize, embedding.embeddingSize])
    }

    public func forward(output: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, count: Int,
                        store: ParameterStore) {
        guard let weight else { preconditionFailure("TrainableEmbedding: forward before register(in:)") }
        embedding.forward(output: output, ids: ids, weight: store.values.baseAddress! + weight.offset, n: count)
    }

    public func backward(doutput: UnsafePointer<Float>, ids: UnsafePointer<Int32>, count: Int,
                         store: ParameterStore) {
        guard let weight else { preconditionFailure("TrainableEmbedding: backward before register(in:)") }
        embedding.backward(dweight: store.gradients.baseAddress! + weight.offset, doutput: doutput, ids: ids, n: count)
    }
}
