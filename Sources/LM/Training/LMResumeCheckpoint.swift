import GLoMoGraph
import NN
import Support

/// The whole state of a training run in `last.safetensors`, for an exact `--resume`:
/// `NN.TrainingCheckpoint`'s layout (parameters under their PyTorch names, `optimizer.…`,
/// `rng.dropout`) plus the LSTM state carried into the next window and the `ResumeState`:
///
/// | name | dtype, shape | what |
/// | --- | --- | --- |
/// | `encoder.weight`, `rnn.…`, `decoder.…` | F32, as the model | parameters (docs/lm-model.md) |
/// | `optimizer.step`, `optimizer.<buffer>.<param>` | I64 [], F32 | optimizer state (docs/nn-core.md) |
/// | `rng.dropout` | U64 [4] | the training random generator (dropout masks) |
/// | `state.h_l{k}`, `state.c_l{k}` | F32 [B, H] | carried hidden and cell state of LSTM layer k |
/// | `state.glomo_count`, `state.glomo_ids`, `state.glomo_features` | I64 [], I32 [C, B], F32 [C, B, D] | with `--glomo`: the carried graph context (docs/glomo.md) |
/// | `__metadata__.resume` | JSON string | `ResumeState` |
///
/// The file is written atomically (`SafetensorsFile.write`). `NN.TrainingCheckpoint` is the generic
/// serializer (any parameters, optimizer, generators, metadata) that `model.safetensors` uses; this
/// is the language model trainer's own resume file on top of the same layout.
///
///     try LMResumeCheckpoint.save(to: run.lastCheckpointPath, model: model, optimizer: sgd, rng: rng, state: state)
///     let (rng, state) = try LMResumeCheckpoint.restore(from: run.lastCheckpointPath, model: model, optimizer: sgd)
public enum LMResumeCheckpoint {
    /// The name of the training random generator in the checkpoint (`rng.dropout`).
    public static let rngName = "dropout"

    /// Writes parameters, optimizer state, `rng`, the carried LSTM state and `state` to `path`.
    public static func save(to path: String, model: LanguageModel, optimizer: any Optimizer, rng: RNG,
                            state: ResumeState) throws {
        var file = SafetensorsFile(tensors: model.store.checkpointTensors(), metadata: state.metadata)
        for (k, v) in optimizer.stateTensors(for: model.store, prefix: "optimizer.") { file.tensors[k] = v }
        file.tensors["rng." + rngName] = rng.checkpointTensor
        for (l, lstm) in model.lstms.enumerated() {
            let shape = [lstm.batchSize, lstm.hiddenSize]
            file.tensors["state.h_l\(l)"] = SafeTensor(lstm.hiddenState, shape: shape)
            file.tensors["state.c_l\(l)"] = SafeTensor(lstm.cellState, shape: shape)
        }
        for (k, v) in model.glomo?.checkpointTensors() ?? [:] { file.tensors[k] = v }
        try file.write(to: path)
    }

    /// The names of every tensor `save` writes for `model` and `optimizer`.
    static func tensorNames(model: LanguageModel, optimizer: any Optimizer) -> Set<String> {
        var names = Set(model.store.views.map(\.name))
        names.formUnion(optimizer.stateTensors(for: model.store, prefix: "optimizer.").keys)
        names.insert("rng." + rngName)
        for l in model.lstms.indices { names.formUnion(["state.h_l\(l)", "state.c_l\(l)"]) }
        if let glomo = model.glomo { names.formUnion(glomo.checkpointTensors().keys) }
        return names
    }

    /// Reads `path` into `model` (parameters and carried state) and `optimizer`, and returns the
    /// random generator and the resume state. Throws `FileError` naming the file when it is
    /// unreadable, malformed, does not fit the model, or holds a tensor `save` would not write
    /// (then the model may be half-loaded: the caller stops).
    public static func restore(from path: String, model: LanguageModel, optimizer: any Optimizer) throws
        -> (rng: RNG, state: ResumeState)
    {
        let file = try SafetensorsFile(contentsOf: path)
        let state = try ResumeState(metadata: file.metadata, path: path)
        do {
            // Exactly the tensors `save` writes for this model and optimizer: a tensor the
            // configuration does not imply means the checkpoint belongs to another model.
            let expected = tensorNames(model: model, optimizer: optimizer)
            if let extra = file.tensors.keys.sorted().first(where: { !expected.contains($0) }) {
                throw CheckpointError("unexpected tensor '\(extra)': not part of the model config.json describes (or its training state)")
            }
            guard let rngTensor = file.tensors["rng." + rngName] else { throw CheckpointError("no 'rng.\(rngName)' tensor") }
            let rng = try RNG(checkpointTensor: rngTensor)
            var carried: [(h: [Float], c: [Float])] = []
            for (l, lstm) in model.lstms.enumerated() {
                let shape = [lstm.batchSize, lstm.hiddenSize]
                var pair: [[Float]] = []
                for name in ["state.h_l\(l)", "state.c_l\(l)"] {
                    guard let t = file.tensors[name], t.dtype == .f32, t.shape == shape else {
                        throw CheckpointError("no F32 tensor '\(name)' of shape \(shape) (the carried LSTM state)")
                    }
                    pair.append(try t.values(as: Float.self))
                }
                carried.append((pair[0], pair[1]))
            }
            try optimizer.loadState(from: file.tensors, for: model.store, prefix: "optimizer.")
            try model.store.load(from: file.tensors)
            for (lstm, s) in zip(model.lstms, carried) {
                lstm.hiddenState = s.h
                lstm.cellState = s.c
            }
            try model.glomo?.restoreCheckpoint(from: file.tensors)
            return (rng, state)
        } catch let e as GLoMoTransferError {
            throw FileError(path: path, message: e.message)
        } catch let e as CheckpointError {
            throw FileError(path: path, message: e.message)
        } catch let e as SafeTensorTypeError {
            throw FileError(path: path, message: e.description)
        }
    }
}
