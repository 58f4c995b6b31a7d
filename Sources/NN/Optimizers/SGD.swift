/// Stochastic gradient descent with optional momentum and weight decay, as `torch.optim.SGD`.
///
/// With gradient `g`, weight decay `λ`, momentum `μ` and dampening `τ`, each step does
///
///     g ← g + λ·p
///     b ← g                      (first step)      b ← μ·b + (1 − τ)·g   (later steps)
///     p ← p − lr·b               (or p ← p − lr·g without momentum)
///
///     let sgd = SGD(momentum: 0.9)
///     sgd.step(store, learningRate: 0.1)
///
/// Frozen parameters (`ParameterStore.setFrozen`) are left untouched. Without momentum and weight
/// decay, the rows of a tracked table that no backward pass touched (`ParameterStore
/// .trackGradientRows`) are skipped: their update is a no-op.
public final class SGD: Optimizer {
    public let momentum: Float
    public let dampening: Float
    public let weightDecay: Float
    public private(set) var stepCount = 0
    private var state: OptimizerBuffers

    public init(momentum: Float = 0, dampening: Float = 0, weightDecay: Float = 0) {
        precondition(momentum >= 0 && weightDecay >= 0, "SGD: momentum and weight decay must be non-negative")
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        state = OptimizerBuffers(names: momentum != 0 ? ["momentum_buffer"] : [])
    }

    public func step(_ store: ParameterStore, learningRate lr: Float) {
        state.prepare(for: store)
        let wd = weightDecay, mu = momentum, oneMinusDampening = 1 - dampening, first = stepCount == 0
        let p = store.values, g = store.gradients
        // Frozen parameters are skipped: only the trainable ranges are updated.
        // Elementwise, so each trainable range is cut between the threads of WorkerPool.shared.
        if mu == 0 {
            // With no weight decay and 0 ≤ lr < ∞, an element whose gradient is exactly +0 gets
            // p − lr·(+0 + 0·p) = p (for finite p): the rows a tracked parameter did not note
            // (ParameterStore.trackGradientRows) are skipped. Only an already infinite value
            // differs: the dense update would make it NaN, the skipped one leaves it infinite.
            let sparse = wd == 0 && lr >= 0 && lr.isFinite
            for range in store.trainableRanges {
                for segment in sparse ? store.gradientSegments(of: range) : [range] {
                    WorkerPool.shared.forEachShare(of: segment.count, minimumCount: WorkerPool.shared.options.elementwiseMinimum) { share in
                        for i in share.shifted(by: segment.lowerBound) { p[i] -= lr * (g[i] + wd * p[i]) }
                    }
                }
            }
        } else {
            state.buffers["momentum_buffer"]!.withUnsafeMutableBufferPointer { b in
                for range in store.trainableRanges {
                    WorkerPool.shared.forEachShare(of: range.count, minimumCount: WorkerPool.shared.options.elementwiseMinimum) { share in
                        for i in share.shifted(by: range.lowerBound) {
                            let d = wd == 0 ? g[i] : g[i] + wd * p[i]
                            b[i] = first ? d : mu * b[i] + oneMinusDampening * d
                            p[i] -= lr * b[i]
                        }
                    }
                }
            }
        }
        stepCount += 1
    }

    public func stateTensors(for store: ParameterStore, prefix: String = "") -> [String: SafeTensor] {
        state.export(step: stepCount, store: store, prefix: prefix)
    }

    public func loadState(from tensors: [String: SafeTensor], for store: ParameterStore, prefix: String = "") throws {
        stepCount = try state.load(tensors, store: store, prefix: prefix)
    }
}
