import Glibc

/// Adam with bias correction and L2 weight decay, as `torch.optim.Adam` (not AdamW).
///
/// At step `t` (from 1), with gradient `g` and weight decay `λ`:
///
///     g ← g + λ·p
///     m ← β₁·m + (1 − β₁)·g          v ← β₂·v + (1 − β₂)·g²
///     p ← p − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
///
///     let adam = Adam(beta1: 0.9, beta2: 0.999)
///     adam.step(store, learningRate: 1e-3)
///
/// Frozen parameters (`ParameterStore.setFrozen`) are left untouched (their state stays zero).
public final class Adam: Optimizer {
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    public private(set) var stepCount = 0
    private var state = OptimizerBuffers(names: ["exp_avg", "exp_avg_sq"])

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
        precondition((0..<1).contains(beta1) && (0..<1).contains(beta2), "Adam: betas must be in [0, 1)")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    public func step(_ store: ParameterStore, learningRate lr: Float) {
        state.prepare(for: store)
        stepCount += 1
        // Scalars in double precision, as PyTorch computes them in Python floats.
        let t = Double(stepCount)
        let stepSize = Float(Double(lr) / (1 - pow(Double(beta1), t)))
        let correction2 = Float(sqrt(1 - pow(Double(beta2), t)))
        let b1 = beta1, b2 = beta2, w1 = 1 - beta1, w2 = 1 - beta2, eps = epsilon, wd = weightDecay
        let p = store.values, g = store.gradients
        var m = state.buffers.removeValue(forKey: "exp_avg")!
        var v = state.buffers.removeValue(forKey: "exp_avg_sq")!
        m.withUnsafeMutableBufferPointer { m in
            v.withUnsafeMutableBufferPointer { v in
                guard let p0 = p.baseAddress, let g0 = g.baseAddress, let m0 = m.baseAddress, let v0 = v.baseAddress
                else { return }
                let lerpLow = w1 < 0.5
                // Frozen parameters are skipped: each trainable range is updated on its own.
                for range in store.trainableRanges {
                    let p = p0 + range.lowerBound, g = g0 + range.lowerBound
                    let m = m0 + range.lowerBound, v = v0 + range.lowerBound, count = range.count
                    // Eight lanes at a time (same IEEE operations per element as the scalar tail).
                    typealias V = SIMD8<Float>
                    let raw = (p: UnsafeMutableRawPointer(p), g: UnsafeRawPointer(g),
                               m: UnsafeMutableRawPointer(m), v: UnsafeMutableRawPointer(v))
                    var i = 0
                    while i + 8 <= count {
                        let o = i * MemoryLayout<Float>.stride
                        let pi = raw.p.loadUnaligned(fromByteOffset: o, as: V.self)
                        let mo = raw.m.loadUnaligned(fromByteOffset: o, as: V.self)
                        let d = raw.g.loadUnaligned(fromByteOffset: o, as: V.self) + wd * pi
                        let mi = lerpLow ? mo + w1 * (d - mo) : d - (d - mo) * b1
                        let vi = b2 * raw.v.loadUnaligned(fromByteOffset: o, as: V.self) + w2 * (d * d)
                        raw.m.storeBytes(of: mi, toByteOffset: o, as: V.self)
                        raw.v.storeBytes(of: vi, toByteOffset: o, as: V.self)
                        raw.p.storeBytes(of: pi - stepSize * (mi / (vi.squareRoot() / correction2 + eps)),
                                         toByteOffset: o, as: V.self)
                        i += 8
                    }
                    while i < count {
                        let d = g[i] + wd * p[i]
                        // m.lerp_(d, 1 − β₁), as ATen evaluates it (by the weight's side of 0.5).
                        let mi = lerpLow ? m[i] + w1 * (d - m[i]) : d - (d - m[i]) * b1
                        let vi = b2 * v[i] + w2 * (d * d)
                        m[i] = mi
                        v[i] = vi
                        p[i] -= stepSize * (mi / (vi.squareRoot() / correction2 + eps))
                        i += 1
                    }
                }
            }
        }
        state.buffers["exp_avg"] = m
        state.buffers["exp_avg_sq"] = v
    }

    public func stateTensors(for store: ParameterStore, prefix: String = "") -> [String: SafeTensor] {
        state.export(step: stepCount, store: store, prefix: prefix)
    }

    public func loadState(from tensors: [String: SafeTensor], for store: ParameterStore, prefix: String = "") throws {
        stepCount = try state.load(tensors, store: store, prefix: prefix)
    }
}
