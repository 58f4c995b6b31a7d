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
    ///   fit the configuration, or was saved with another vocabulary.
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
        if let hash = metadata[RunDirectory.vocabularyHashKey], hash != config.vocabularyHash {
            throw FileError(path: modelPath, message: "vocabulary hash mismatch: the model was saved with \(hash), config.json says \(config.vocabularyHash)")
        }
        if let glomo = model.glomo {
            do { try glomo.validateVocabularyMap() } catch { throw FileError(path: modelPath, message: "\(error)") }
        }
        return model
    }
}
