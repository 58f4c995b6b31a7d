/// Adagrad, as `torch.optim.Adagrad` (initial accumulator 0, ε = 1e-10 by default).
///
/// At step `t` (from 1), with gradient `g`, weight decay `λ` and learning-rate decay `δ`:
///
///     g ← g + λ·p
///     s ← s + g²
///     p ← p − lr / (1 + (t − 1)·δ) · g / (√s + ε)
///
///     let adagrad = Adagrad()
///     adagrad.step(store, learningRate: 0.1)
///
/// Frozen parameters (`ParameterStore.setFrozen`) are left untouched.
public final class Adagrad: Optimizer {
    public let epsilon: Float, weightDecay: Float, learningRateDecay: Float
    public private(set) var stepCount = 0
    private var state = OptimizerBuffers(names: ["sum"])

    public init(epsilon: Float = 1e-10, weightDecay: Float = 0, learningRateDecay: Float = 0) {
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.learningRateDecay = learningRateDecay
    }

    public func step(_ store: ParameterStore, learningRate lr: Float) {
        state.prepare(for: store)
        stepCount += 1
        let clr = Float(Double(lr) / (1 + Double(stepCount - 1) * Double(learningRateDecay)))
        let eps = epsilon, wd = weightDecay
        let p = store.values, g = store.gradients
        var s = state.buffers.removeValue(forKey: "sum")!
        s.withUnsafeMutableBufferPointer { s in
            guard let p0 = p.baseAddress, let g0 = g.baseAddress, let s0 = s.baseAddress else { return }
            // Frozen parameters are skipped: each trainable range is updated on its own.
            for range in store.trainableRanges {
                let p = p0 + range.lowerBound, g = g0 + range.lowerBound, s = s0 + range.lowerBound
                let count = range.count
                // Eight lanes at a time (same IEEE operations per element as the scalar tail).
                typealias V = SIMD8<Float>
                let raw = (p: UnsafeMutableRawPointer(p), g: UnsafeRawPointer(g), s: UnsafeMutableRawPointer(s))
                var i = 0
                while i + 8 <= count {
                    let o = i * MemoryLayout<Float>.stride
                    let pi = raw.p.loadUnaligned(fromByteOffset: o, as: V.self)
                    let d = raw.g.loadUnaligned(fromByteOffset: o, as: V.self) + wd * pi
                    let si = raw.s.loadUnaligned(fromByteOffset: o, as: V.self) + d * d
                    raw.s.storeBytes(of: si, toByteOffset: o, as: V.self)
                    raw.p.storeBytes(of: pi - clr * (d / (si.squareRoot() + eps)), toByteOffset: o, as: V.self)
                    i += 8
                }
                while i < count {
                    let d = g[i] + wd * p[i]
                    s[i] += d * d
                    p[i] -= clr * (d / (s[i].squareRoot() + eps))
                    i += 1
                }
            }
        }
        state.buffers["sum"] = s
    }

    public func stateTensors(for store: ParameterStore, prefix: String = "") -> [String: SafeTensor] {
        state.export(step: stepCount, store: store, prefix: prefix)
    }

    public func loadState(from tensors: [String: SafeTensor], for store: ParameterStore, prefix: String = "") throws {
        stepCount = try state.load(tensors, store: store, prefix: prefix)
    }
}
