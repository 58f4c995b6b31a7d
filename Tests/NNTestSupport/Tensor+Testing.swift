import NN

// Tensor and ParameterStore conveniences that only tests use: element access by index, random
// normal tensors, reshaping, filling, a matrix product that allocates its result, and copies of
// one parameter as a tensor. The shipped code works on buffers (`withUnsafeBufferPointer`) and
// `Tensor.matmul(_:_:_:_:alpha:beta:)` instead.

extension Tensor {
    /// A tensor of `shape` with standard normal elements scaled by `std`.
    public static func normal(shape: [Int], std: Float = 1, rng: inout RNG) -> Tensor {
        var values = [Float](repeating: 0, count: Tensor.elementCount(shape))
        for i in values.indices { values[i] = std * rng.normal() }
        return Tensor(shape: shape, values)
    }

    /// The row-major offset of the element at `indices` (one index per dimension).
    public func offset(_ indices: [Int]) -> Int {
        precondition(indices.count == shape.count,
                     "Tensor: \(indices.count) indices for a tensor of shape \(shape)")
        var offset = 0
        for (i, d) in zip(indices, shape) {
            precondition(i >= 0 && i < d, "Tensor: index \(indices) out of range for shape \(shape)")
            offset = offset * d + i
        }
        return offset
    }

    /// The element at `indices`; `t[i, j]` for a matrix.
    public subscript(_ indices: Int...) -> Float {
        get { storage[offset(indices)] }
        set {
            let i = offset(indices)
            withUnsafeMutableBufferPointer { $0[i] = newValue }
        }
    }

    /// The same elements with another shape of the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.elementCount(newShape) == count,
                     "Tensor: cannot reshape \(shape) (\(count) elements) to \(newShape)")
        return Tensor(shape: newShape, storage)
    }

    /// Sets every element to `value`.
    public mutating func fill(_ value: Float) {
        withUnsafeMutableBufferPointer { p in
            for i in p.indices { p[i] = value }
        }
    }

    /// `op(a) · op(b)` for matrices, through `sgemm`: `op(a)` is `[m, k]`, `op(b)` is `[k, n]`,
    /// the result is `[m, n]`.
    ///
    ///     // logits[N, V] = h[N, H] · Wᵀ   (W stored [V, H], as PyTorch's Linear)
    ///     let logits = Tensor.matmul(h, .none, w, .transpose)
    public static func matmul(_ a: Tensor, _ transA: Transpose, _ b: Tensor, _ transB: Transpose) -> Tensor {
        precondition(a.rank == 2 && b.rank == 2, "matmul: operands must be matrices, got shapes \(a.shape) and \(b.shape)")
        let m = transA == .none ? a.shape[0] : a.shape[1]
        let n = transB == .none ? b.shape[1] : b.shape[0]
        var c = Tensor(shape: [m, n])
        c.matmul(a, transA, b, transB, beta: 0)
        return c
    }
}

extension ParameterStore {
    /// A copy of one parameter's values as a tensor.
    public func tensor(_ view: ParameterView) -> Tensor {
        Tensor(shape: view.shape, Array(values(view)))
    }

    /// A copy of one parameter's gradient as a tensor.
    public func gradientTensor(_ view: ParameterView) -> Tensor {
        Tensor(shape: view.shape, Array(gradient(view)))
    }

    /// Copies `tensor` into the parameter `view`; the shapes must match.
    public func set(_ view: ParameterView, to tensor: Tensor) {
        precondition(tensor.shape == view.shape,
                     "ParameterStore: '\(view.name)' has shape \(view.shape), got \(tensor.shape)")
        let dst = values(view)
        tensor.withUnsafeBufferPointer { src in
            for i in 0..<src.count { dst[i] = src[i] }
        }
    }
}
