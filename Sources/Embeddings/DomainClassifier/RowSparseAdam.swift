import Foundation
import NN

/// Adam for a model whose first parameter is an embedding table: the table's rows are updated
/// only when they occur in the batch (PyTorch's `SparseAdam` semantics), every other parameter
/// as by `NN.Adam` (`torch.optim.Adam`, no weight decay).
///
/// With dense Adam, every step reads and writes the whole `[V, E]` table and its two moment
/// buffers (here 30,000 x 64: ~56 MB of memory traffic per step, about as much time as the
/// BiLSTM itself on a batch of sentences). A row's moments and value change only at the steps
/// where the row is given; bias correction uses the global step count, as SparseAdam does.
/// Gradients are zeroed the same way (`zeroGradients`) and clipped over the rows that can be
/// non-zero (`clipGradientNorm`), which gives the same norm as over the whole store. Frozen
/// parameters (`ParameterStore.setFrozen`) after the table are never touched.
///
/// State tensors have `NN.Adam`'s names (`step`, `exp_avg.<name>`, `exp_avg_sq.<name>`), so a
/// checkpoint reads like one written with `Adam`.
///
///     let adam = RowSparseAdam(tableRows: V, tableWidth: E)
///     adam.zeroGradients(store)              // the rows of the previous step and the dense part
///     model.forwardBackward(batch, rng: &rng)
///     adam.rows = rowsOfTheBatch             // sorted, unique
///     adam.clipGradientNorm(store, maxNorm: 5)
///     adam.step(store, learningRate: 3e-3)
public final class RowSparseAdam: Optimizer {
    public let beta1: Float, beta2: Float, epsilon: Float
    public private(set) var stepCount = 0
    /// The table is the first `tableRows · tableWidth` parameters of the store.
    public let tableRows: Int, tableWidth: Int
    /// The table rows the next step updates (and `zeroGradients` clears afterwards).
    public var rows: [Int] = []
    private var m: [Float] = [], v: [Float] = []

    public init(tableRows: Int, tableWidth: Int, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
        self.tableRows = tableRows
        self.tableWidth = tableWidth
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
    }

    private var tableCount: Int { tableRows * tableWidth }

    /// The element ranges the next step touches: the given rows of the table, then the trainable
    /// rest (frozen parameters, such as a classifier's pretrained graph predictor, are skipped).
    private func ranges(_ store: ParameterStore) -> [Range<Int>] {
        rows.map { ($0 * tableWidth)..<(($0 + 1) * tableWidth) }
            + store.trainableRanges.map { $0.clamped(to: tableCount..<store.count) }.filter { !$0.isEmpty }
    }

    /// Zeroes the gradients of `rows` and of the dense part (call before each backward; on the
    /// first call, or after `rows` were replaced, call `store.zeroGradients()` instead).
    public func zeroGradients(_ store: ParameterStore) {
        let g = store.gradients.baseAddress!
        for r in ranges(store) { (g + r.lowerBound).update(repeating: 0, count: r.count) }
    }

    /// Scales the gradients of `rows` and the dense part so that their L2 norm is at most
    /// `maxNorm` (as `clip_grad_norm_`, other gradients being zero); returns the norm before.
    @discardableResult
    public func clipGradientNorm(_ store: ParameterStore, maxNorm: Float) -> Float {
        let g = store.gradients.baseAddress!
        var sum = 0.0
        for r in ranges(store) { for i in r { sum += Double(g[i]) * Double(g[i]) } }
        let norm = Float(sum.squareRoot())
        let coefficient = maxNorm / (norm + 1e-6)
        if coefficient < 1 {
            for r in ranges(store) { for i in r { g[i] *= coefficient } }
        }
        return norm
    }

    public func step(_ store: ParameterStore, learningRate lr: Float) {
        precondition(store.count >= tableCount, "RowSparseAdam: the store is smaller than the table")
        if m.count != store.count {
            precondition(m.isEmpty, "RowSparseAdam: the store changed size")
            m = [Float](repeating: 0, count: store.count)
            v = [Float](repeating: 0, count: store.count)
        }
        stepCount += 1
        let t = Double(stepCount)
        let stepSize = Float(Double(lr) / (1 - pow(Double(beta1), t)))
        let correction2 = Float(sqrt(1 - pow(Double(beta2), t)))
        let b1 = beta1, b2 = beta2, w1 = 1 - beta1, w2 = 1 - beta2, eps = epsilon
        let lerpLow = w1 < 0.5
        let p = store.values.baseAddress!, g = store.gradients.baseAddress!
        let spans = ranges(store)
        m.withUnsafeMutableBufferPointer { m in
            v.withUnsafeMutableBufferPointer { v in
                for r in spans {
                    for i in r {
                        let d = g[i]
                        // m.lerp_(d, 1 − β₁), as NN.Adam (and ATen) evaluate it.
                        let mi = lerpLow ? m[i] + w1 * (d - m[i]) : d - (d - m[i]) * b1
                        let vi = b2 * v[i] + w2 * (d * d)
                        m[i] = mi
                        v[i] = vi
                        p[i] -= stepSize * (mi / (vi.squareRoot() / correction2 + eps))
                    }
                }
            }
        }
    }

    public func stateTensors(for store: ParameterStore, prefix: String) -> [String: SafeTensor] {
        var out: [String: SafeTensor] = [prefix + "step": SafeTensor([Int64(stepCount)], shape: [])]
        for (name, buffer) in [("exp_avg", m), ("exp_avg_sq", v)] {
            for view in store.views {
                let values = buffer.isEmpty ? [Float](repeating: 0, count: view.count) : Array(buffer[view.range])
                out["\(prefix)\(name).\(view.name)"] = SafeTensor(values, shape: view.shape)
            }
        }
        return out
    }

    public func loadState(from tensors: [String: SafeTensor], for store: ParameterStore, prefix: String) throws {
        guard let s = tensors[prefix + "step"], s.dtype == .i64, s.shape == [], let step = try s.values(as: Int64.self).first, step >= 0 else {
            throw CheckpointError("optimizer state lacks a non-negative I64 scalar '\(prefix)step'")
        }
        var loaded: [[Float]] = []
        for name in ["exp_avg", "exp_avg_sq"] {
            var buffer = [Float](repeating: 0, count: store.count)
            for view in store.views {
                let key = "\(prefix)\(name).\(view.name)"
                guard let t = tensors[key], t.dtype == .f32, t.shape == view.shape else {
                    throw CheckpointError("optimizer state lacks F32 '\(key)' of shape \(view.shape)")
                }
                buffer.replaceSubrange(view.range, with: try t.values(as: Float.self))
            }
            loaded.append(buffer)
        }
        m = loaded[0]; v = loaded[1]; stepCount = Int(step)
    }
}
