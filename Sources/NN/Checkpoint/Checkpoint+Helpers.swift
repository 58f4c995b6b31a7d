/// A checkpoint entry could not be restored: missing, of the wrong type or shape.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension RNG {
    /// The generator's state as a checkpoint tensor: U64, shape `[4]` (the xoshiro256** words).
    ///
    ///     file.tensors["rng.state"] = rng.checkpointTensor
    ///     var resumed = try RNG(checkpointTensor: file.tensors["rng.state"]!)
    public var checkpointTensor: SafeTensor { SafeTensor(state, shape: [4]) }

    /// Restores a generator saved with `checkpointTensor`; throws on a wrong dtype, shape or an
    /// all-zero state.
    public init(checkpointTensor t: SafeTensor) throws {
        guard t.dtype == .u64, t.shape == [4] else {
            throw CheckpointError("RNG state must be a U64 tensor of shape [4], found \(t.dtype.rawValue) \(t.shape)")
        }
        let words = try t.values(as: UInt64.self)
        guard words.contains(where: { $0 != 0 }) else { throw CheckpointError("RNG state is all zero") }
        self.init(state: words)
    }
}

extension ParameterStore {
    /// Every parameter as an F32 tensor under its own name (`prefix` + name), ready for a
    /// `SafetensorsFile`; a PyTorch user loads them with `safetensors.torch.load_file`.
    public func checkpointTensors(prefix: String = "") -> [String: SafeTensor] {
        var out: [String: SafeTensor] = [:]
        for v in views { out[prefix + v.name] = SafeTensor(Array(values(v)), shape: v.shape) }
        return out
    }

    /// Restores every registered parameter from `tensors` (names with `prefix`). Every parameter
    /// must be present as F32 with its shape; extra tensors are ignored.
    public func load(from tensors: [String: SafeTensor], prefix: String = "") throws {
        try validate(tensors, prefix: prefix)  // first, so that a failure leaves the store untouched
        for v in views { try tensors[prefix + v.name]!.copyFloats(into: values(v)) }
    }
}
