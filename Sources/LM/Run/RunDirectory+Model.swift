import Foundation
import Corpus
import GLoMoGraph
import NN
import Support

/// Building, saving and loading the model a run describes.
///
/// `model.safetensors` holds every parameter of the model's `ParameterStore` under its own name
/// (PyTorch's, see docs/lm-model.md) plus the metadata `vocabulary_hash`; it is written atomically.
/// The model's shape and its input representation come from `config.json`, so a run directory
/// alone rebuilds the model:
///
///     let (run, config, vocabulary) = try RunDirectory.open(at: "runs/tiny")
///     let model = try run.loadModel(config: config, batchSize: 1, maxSteps: 64)
extension RunDirectory {
    /// The metadata key of `model.safetensors` that records the vocabulary's content hash.
    public static let vocabularyHashKey = "vocabulary_hash"

    /// A freshly initialised model of the shape `config` describes (the input representation
    /// chosen by `config.inputRepresentation`, see `InputFactory`; the output layer by
    /// `config.model.softmax`). Throws `RunConfigError` for an adaptive softmax whose cutoffs do
    /// not fit the vocabulary or that is tied (`RunConfig.checkSizes` words it the same way).
    public static func makeModel(config: RunConfig, batchSize: Int, maxSteps: Int, rng: inout RNG) throws -> LanguageModel {
        if let softmax = config.model.softmax, softmax.kind == .adaptive {
            do { try softmax.validate(vocabularySize: config.model.vocabularySize) } catch {
                throw RunConfigError(message: "model.softmax: \(error)")
            }
            if config.model.tieWeights { throw RunConfigError(message: "an adaptive model.softmax cannot be tied") }
        }
        let input = try InputFactory.make(config.inputRepresentation, model: config.model)
        let glomo = try config.glomo.map { try InputFactory.makeGLoMo($0, config: config) }
        return LanguageModel(config: config.model, input: input, glomo: glomo, batchSize: batchSize, maxSteps: maxSteps, rng: &rng)
    }

    /// Writes `model`'s parameters to `model.safetensors` (the best model) atomically.
    public func saveModel(_ model: LanguageModel, config: RunConfig, metadata: [String: String] = [:]) throws {
        var meta = metadata
        meta[RunDirectory.vocabularyHashKey] = config.vocabularyHash
        try TrainingCheckpoint.save(to: modelPath, parameters: model.store, metadata: meta)
    }

    /// Rebuilds the run's model and reads `model.safetensors` into it.
    ///
    /// - Throws: `FileError` naming `model.safetensors` when it is missing, malformed, does not
    ///   fit the configuration, was saved with another vocabulary, or holds a NaN or infinite
    ///   weight (naming the tensor: `ParameterStore.requireFinite`).
    public func loadModel(config: RunConfig, batchSize: Int, maxSteps: Int) throws -> LanguageModel {
        var rng = RNG(seed: 0)
        let model: LanguageModel
        do { model = try RunDirectory.makeModel(config: config, batchSize: batchSize, maxSteps: maxSteps, rng: &rng) } catch let e as InputFactoryError {
            throw FileError(path: configPath, message: e.message)
        } catch let e as RunConfigError {
            throw FileError(path: configPath, message: e.message)
        }
        guard FileManager.default.fileExists(atPath: modelPath) else {
            throw FileError(path: modelPath, message: "no trained model in this run yet (train it first, or wait for the first evaluation)")
        }
        let (_, metadata) = try TrainingCheckpoint.restore(from: modelPath, parameters: model.store)
        try model.store.requireFinite(file: modelPath)
        if let hash = metadata[RunDirectory.vocabularyHashKey], hash != config.vocabularyHash {
            throw FileError(path: modelPath, message: "vocabulary hash mismatch: the model was saved with \(hash), config.json says \(config.vocabularyHash)")
        }
        if let glomo = model.glomo {
            do { try glomo.validateVocabularyMap() } catch { throw FileError(path: modelPath, message: "\(error)") }
        }
        return model
    }
}

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
