import Support

/// A whole training state in one safetensors file: parameters, optimizer state, random
/// generators and string metadata.
///
/// Tensor names (see docs/nn-core.md):
/// - parameters under their own names (`encoder.weight`, `rnn.weight_ih_l0`, …), F32, PyTorch
///   layouts, so `safetensors.torch.load_file` gives a state dict;
/// - optimizer state under `optimizer.`: `optimizer.step` (I64 scalar) and
///   `optimizer.<buffer>.<parameter>` (F32), e.g. `optimizer.exp_avg.decoder.weight`;
/// - each random generator as `rng.<name>` (U64 `[4]`, the xoshiro256** state words);
/// - everything else (epoch, vocabulary hash, configuration) as `__metadata__` strings.
///
///     try TrainingCheckpoint.save(to: "run/last.safetensors", parameters: store, optimizer: adam,
///                                 rngs: ["dropout": rng], metadata: ["epoch": "3"])
///     let (rngs, metadata) = try TrainingCheckpoint.restore(from: "run/last.safetensors",
///                                                           parameters: store, optimizer: adam)
public enum TrainingCheckpoint {
    /// Writes the training state to `path` atomically.
    public static func save(to path: String, parameters: ParameterStore, optimizer: (any Optimizer)? = nil,
                            rngs: [String: RNG] = [:], metadata: [String: String] = [:]) throws {
        var file = SafetensorsFile(tensors: parameters.checkpointTensors(), metadata: metadata)
        if let optimizer {
            for (k, v) in optimizer.stateTensors(for: parameters, prefix: "optimizer.") {
                precondition(file.tensors[k] == nil, "TrainingCheckpoint: name clash on '\(k)'")
                file.tensors[k] = v
            }
        }
        for (name, rng) in rngs {
            precondition(file.tensors["rng." + name] == nil, "TrainingCheckpoint: name clash on 'rng.\(name)'")
            file.tensors["rng." + name] = rng.checkpointTensor
        }
        try file.write(to: path)
    }

    /// Reads `path` into `parameters` (and `optimizer`, if given) and returns the random
    /// generators and metadata. Throws a `FileError` naming the file if it is malformed or does
    /// not match the model (a missing parameter, another shape or dtype, or a tensor that is not
    /// a parameter, optimizer state or `rng.` generator); then `parameters` and `optimizer` are
    /// left as they were.
    public static func restore(from path: String, parameters: ParameterStore, optimizer: (any Optimizer)? = nil)
        throws -> (rngs: [String: RNG], metadata: [String: String])
    {
        let file = try SafetensorsFile(contentsOf: path)
        do {
            var rngs: [String: RNG] = [:]
            for (name, t) in file.tensors where name.hasPrefix("rng.") {
                rngs[String(name.dropFirst(4))] = try RNG(checkpointTensor: t)
            }
            // Parameters are checked first and the optimizer loads all or nothing, so a failure changes nothing.
            try parameters.validate(file.tensors)
            // Nothing else: a tensor that is neither a parameter, the optimizer's state nor a
            // random generator means the file belongs to another model.
            var known = Set(parameters.views.map(\.name))
            if let optimizer { known.formUnion(optimizer.stateTensors(for: parameters, prefix: "optimizer.").keys) }
            if let extra = file.tensors.keys.sorted().first(where: { !known.contains($0) && !$0.hasPrefix("rng.") }) {
                throw CheckpointError("unexpected tensor '\(extra)' (not a parameter\(optimizer == nil ? "" : " or optimizer state") of this model)")
            }
            try optimizer?.loadState(from: file.tensors, for: parameters, prefix: "optimizer.")
            try parameters.load(from: file.tensors)
            return (rngs, file.metadata)
        } catch let e as CheckpointError {
            throw FileError(path: path, message: e.message)
        }
    }
}

extension ParameterStore {
    /// Throws unless `tensors` hold every parameter as F32 with its shape.
    func validate(_ tensors: [String: SafeTensor], prefix: String = "") throws {
        for v in views {
            guard let t = tensors[prefix + v.name] else { throw CheckpointError("checkpoint lacks parameter '\(prefix + v.name)'") }
            guard t.dtype == .f32, t.shape == v.shape else {
                throw CheckpointError("parameter '\(prefix + v.name)' is \(v.shape) F32, checkpoint has \(t.shape) \(t.dtype.rawValue)")
            }
        }
    }
}
