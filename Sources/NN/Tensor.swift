// NN conventions (read this first)
// ================================
//
// - Shapes are row-major and written next to every buffer, outermost first: `// [T, B, 4H]`
//   means `T·B·4H` contiguous floats where the last index moves fastest.
// - Kernels work on raw pointers (llm.c style): `(outputs, inputs, sizes)` in that order.
//   `Tensor` is only the convenient owner of a dense Float32 array with a shape.
// - Parameters of a model live in one flat buffer (`ParameterStore.values`) and their gradients
//   in a second buffer of the same layout (`ParameterStore.gradients`); a `ParameterView` names a
//   slice (offset, count, shape). Optimizers, clipping and checkpoints handle the whole array.
// - Backward passes ADD into gradient buffers (`beta: 1` in `sgemm`); zeroing is a separate
//   step (`ParameterStore.zeroGradients()`), done once per optimizer step.
// - Matrices follow PyTorch's layouts (a Linear weight is `[out, in]`), so a checkpoint's tensors
//   load into PyTorch unchanged (see docs/nn-core.md for the naming conventions).
// - Programming errors (shape mismatches) stop with a `precondition` naming the shapes; errors a
//   user can cause (bad files) are thrown.

/// A dense, row-major Float32 array with a shape.
///
/// `Tensor` is a value type (copy-on-write through its `Array` storage). It is the owner of
/// data; kernels borrow its storage as unsafe pointers through `withUnsafeBufferPointer` and
/// `withUnsafeMutableBufferPointer`.
///
///     let x = Tensor(shape: [2, 3], [1, 2, 3, 4, 5, 6])
///     var y = Tensor(shape: [2, 2])
///     y.matmul(x, .none, x, .transpose, beta: 0)   // [2, 2] = x · xᵀ
///
/// Element access by index, `reshaped`, `fill` and random normal tensors are test conveniences
/// (Tests/NNTestSupport).
public struct Tensor: Equatable, Sendable, CustomStringConvertible {
    /// The extent of each dimension, outermost first. A scalar has shape `[]`.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `storage.count == shape.reduce(1, *)`.
    public private(set) var storage: [Float]

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        let count = Tensor.elementCount(shape)
        self.shape = shape
        self.storage = [Float](repeating: value, count: count)
    }

    /// A tensor of `shape` holding `values` in row-major order.
    public init(shape: [Int], _ values: [Float]) {
        let count = Tensor.elementCount(shape)
        precondition(values.count == count,
                     "Tensor: \(values.count) values do not fill shape \(shape) (\(count) elements)")
        self.shape = shape
        self.storage = values
    }

    /// A tensor of `shape` with elements drawn uniformly from `[lo, hi)`.
    public static func uniform(shape: [Int], _ lo: Float, _ hi: Float, rng: inout RNG) -> Tensor {
        var t = Tensor(shape: shape)
        for i in t.storage.indices { t.storage[i] = rng.uniform(lo, hi) }
        return t
    }

    /// The number of elements of `shape` (1 for a scalar), checking for negative extents and overflow.
    public static func elementCount(_ shape: [Int]) -> Int {
        var count = 1
        for d in shape {
            precondition(d >= 0, "Tensor: negative dimension in shape \(shape)")
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            precondition(!overflow, "Tensor: shape \(shape) has too many elements")
            count = p
        }
        return count
    }

    /// The number of elements.
    public var count: Int { storage.count }
    /// The number of dimensions.
    public var rank: Int { shape.count }

    /// Calls `body` with the elements as a buffer pointer (valid only inside `body`).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer(body)
    }

    /// Calls `body` with the elements as a mutable buffer pointer (valid only inside `body`).
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (inout UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try storage.withUnsafeMutableBufferPointer(body)
    }

    /// `self = alpha · op(a) · op(b) + beta · self`; pass `beta: 1` to accumulate (backward passes).
    public mutating func matmul(_ a: Tensor, _ transA: Transpose, _ b: Tensor, _ transB: Transpose,
                                alpha: Float = 1, beta: Float) {
        let (m, k) = Tensor.matmulSizes(a, transA)
        let (kb, n) = Tensor.matmulSizes(b, transB)
        precondition(k == kb, "matmul: inner sizes differ: op(a) is [\(m), \(k)], op(b) is [\(kb), \(n)] "
                     + "(a \(a.shape) \(transA), b \(b.shape) \(transB))")
        precondition(shape == [m, n], "matmul: result has shape \(shape), expected [\(m), \(n)]")
        if m == 0 || n == 0 { return }
        if k == 0 {  // the product is zero; only the beta scaling remains
            storage.withUnsafeMutableBufferPointer { pc in
                for i in pc.indices { pc[i] = beta == 0 ? 0 : beta * pc[i] }
            }
            return
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                storage.withUnsafeMutableBufferPointer { pc in
                    sgemm(transA, transB, m: m, n: n, k: k, alpha: alpha,
                          a: pa.baseAddress!, lda: a.shape[1], b: pb.baseAddress!, ldb: b.shape[1],
                          beta: beta, c: pc.baseAddress!, ldc: n)
                }
            }
        }
    }

    /// The `(rows, columns)` of `op(t)` for a matrix `t`.
    static func matmulSizes(_ t: Tensor, _ trans: Transpose) -> (Int, Int) {
        precondition(t.rank == 2, "matmul: operand must be a matrix, got shape \(t.shape)")
        return trans == .none ? (t.shape[0], t.shape[1]) : (t.shape[1], t.shape[0])
    }

    public var description: String {
        let head = storage.prefix(8).map { "\($0)" }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(head)\(count > 8 ? ", …" : "")])"
    }
}
