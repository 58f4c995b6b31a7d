import Corpus

/// Turns a run's recorded input representation into the object the model reads its vectors from.
///
/// Each pretrained source adds its `kind` here. Parameters of the representation (including a
/// frozen pretrained table) live in the model's `ParameterStore`, so `model.safetensors` restores
/// them; `make` only builds the right shapes.
public enum InputFactory {
    /// The input representation `input` describes, with shapes only (values come from the
    /// model's initialisation, then `initialize`, or from `model.safetensors`).
    ///
    /// `random` is a `TrainableEmbedding`; `pretrained` is a pretrained table
    /// (`PretrainedInput`, `mode` frozen, finetune or concat); every pretrained value comes from
    /// `model.safetensors`, so a run reloads from its directory alone.
    ///
    ///     let input = try InputFactory.make(.init(kind: .pretrained, path: "w2v.vec", mode: .frozen),
    ///                                       model: config.model)
    public static func make(_ input: RunConfig.InputSource, model: ModelConfig) throws -> InputRepresentation {
        switch input.kind {
        case .random: return TrainableEmbedding(vocabularySize: model.vocabularySize, embeddingSize: model.embeddingSize)
        case .pretrained: return try PretrainedInput.make(input, model: model)
        }
    }

    /// Completes and checks a new run's configuration before anything is written: reads the
    /// pretrained sources it names (embeddings file, GLoMo model), fills in their content hashes
    /// and throws a clear error (naming the file) when one is unreadable or does not fit the
    /// model. `random` with no GLoMo needs nothing.
    ///
    /// Pretrained embeddings (kind `pretrained`, with a `path`): the file is read with
    /// `EmbeddingFile.read` (any format; every bad row is an error naming file and line), its
    /// SHA-256 becomes `contentHash`, `mode` defaults to `frozen`, `frozen` is set (true unless
    /// finetune). frozen and finetune need D == `embeddingSize`; `--tie-weights` needs finetune;
    /// a file sharing no word with the vocabulary is refused.
    public static func prepare(_ config: inout RunConfig, vocabulary: Vocabulary) throws {
        if config.inputRepresentation.kind == .pretrained {
            try PretrainedInput.prepare(&config.inputRepresentation, model: config.model, vocabulary: vocabulary)
        }
        if config.glomo != nil { try prepareGLoMo(&config, vocabulary: vocabulary) }
    }

    /// Puts pretrained values into a freshly initialised model (a new run, not a resumed one,
    /// whose values come from its checkpoint), returning one line per source for the log
    /// (e.g. a coverage report). `random` needs nothing.
    ///
    /// Pretrained embeddings: the rows of the vocabulary words found in the file (exact, `<eos>`
    /// as `</s>`, then lowercased) replace the random values; missing words keep the model's
    /// random initialisation. The file must still have the SHA-256 `prepare` recorded.
    public static func initialize(_ model: LanguageModel, config: RunConfig, vocabulary: Vocabulary) throws -> [String] {
        var lines: [String] = []
        if config.inputRepresentation.kind == .pretrained {
            lines += try PretrainedInput.initialize(model, input: config.inputRepresentation, vocabulary: vocabulary)
        }
        if let use = config.glomo, let glomo = model.glomo { lines.append(try initializeGLoMo(glomo, use: use, vocabulary: vocabulary)) }
        return lines
    }
}

/// A run configuration names an input representation this build does not know.
public struct InputFactoryError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}
