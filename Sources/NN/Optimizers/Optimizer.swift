/// An optimizer: updates a `ParameterStore`'s values from its gradients, one step at a time.
///
/// The learning rate is passed at every step, so schedules live with the caller. Gradients are
/// read, never changed (weight decay is added on the fly, as `torch.optim` does). The state
/// (step count, moment buffers) exports to named tensors for a checkpoint and imports back, so
/// that a resumed run continues exactly:
///
///     let adam = Adam()
///     adam.step(store, learningRate: 1e-3)
///     file.tensors.merge(adam.stateTensors(for: store, prefix: "optimizer."), uniquingKeysWith: { $1 })
///     // … later, after building the same model:
///     try adam.loadState(from: file.tensors, for: store, prefix: "optimizer.")
///
/// State tensor names: `step` (I64 scalar) and one F32 tensor per parameter and buffer, named
/// `<buffer>.<parameter name>` with the parameter's shape, e.g. `exp_avg.decoder.weight`
/// (PyTorch's state names).
public protocol Optimizer: AnyObject {
    /// How many steps have been taken.
    var stepCount: Int { get }
    /// Updates `store.values` from `store.gradients` with learning rate `learningRate`.
    func step(_ store: ParameterStore, learningRate: Float)
    /// The optimizer state as named tensors (each name starts with `prefix`).
    func stateTensors(for store: ParameterStore, prefix: String) -> [String: SafeTensor]
    /// Restores the state written by `stateTensors(for:prefix:)`; throws if anything is missing
    /// or of the wrong type or shape.
    func loadState(from tensors: [String: SafeTensor], for store: ParameterStore, prefix: String) throws
}

/// Per-element state buffers laid out like a store's flat parameter buffer, with the
/// export/import by parameter name that every optimizer shares.
struct OptimizerBuffers {
    /// Buffer name (PyTorch's state key, e.g. "exp_avg") → `store.count` floats.
    var buffers: [String: [Float]] = [:]
    var names: [String]

    init(names: [String]) { self.names = names }

    /// Allocates zeroed buffers on first use; checks the store did not change size afterwards.
    mutating func prepare(for store: ParameterStore) {
        for name in names {
            if let b = buffers[name] {
                precondition(b.count == store.count,
                             "optimizer state has \(b.count) elements but the store has \(store.count) parameters")
            } else {
                buffers[name] = [Float](repeating: 0, count: store.count)
            }
        }
    }

    func export(step: Int, store: ParameterStore, prefix: String) -> [String: SafeTensor] {
        var out: [String: SafeTensor] = [prefix + "step": SafeTensor([Int64(step)], shape: [])]
        for name in names {
            let b = buffers[name] ?? [Float](repeating: 0, count: store.count)
            for v in store.views {
                out["\(prefix)\(name).\(v.name)"] = SafeTensor(Array(b[v.range]), shape: v.shape)
            }
        }
        return out
    }

    /// Reads the state back; returns the step count. Leaves `self` unchanged on failure.
    mutating func load(_ tensors: [String: SafeTensor], store: ParameterStore, prefix: String) throws -> Int {
        guard let s = tensors[prefix + "step"] else { throw CheckpointError("optimizer state lacks '\(prefix)step'") }
        guard s.dtype == .i64, s.shape == [], let step = try s.values(as: Int64.self).first, step >= 0 else {
            throw CheckpointError("optimizer '\(prefix)step' must be a non-negative I64 scalar")
        }
        var loaded: [String: [Float]] = [:]
        for name in names {
            var b = [Float](repeating: 0, count: store.count)
            for v in store.views {
                let key = "\(prefix)\(name).\(v.name)"
                guard let t = tensors[key] else { throw CheckpointError("optimizer state lacks '\(key)'") }
                guard t.dtype == .f32, t.shape == v.shape else {
                    throw CheckpointError("optimizer state '\(key)' is \(t.dtype.rawValue) \(t.shape), expected F32 \(v.shape)")
                }
                b.replaceSubrange(v.range, with: try t.values(as: Float.self))
            }
            loaded[name] = b
        }
        buffers = loaded
        return Int(step)
    }
}
