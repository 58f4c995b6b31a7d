import Glibc
import NN

/// A bidirectional LSTM language model: a forward LM (reads left to right, predicts the next
/// token) and a backward LM (reads right to left, predicts the previous token), with separate
/// LSTMs and a shared input embedding and shared output softmax, as ELMo (Peters et al. 2018).
///
/// Parameters, in one `ParameterStore` (PyTorch-style names):
///
///     embedding.weight          [V, E]   shared by both directions
///     forward.weight_ih_l0      [4H, E]  forward LSTM (gate rows i, f, g, o)
///     forward.weight_hh_l0      [4H, H]
///     forward.bias_ih_l0        [4H]
///     forward.bias_hh_l0        [4H]
///     backward.weight_ih_l0 …   the backward LSTM, same shapes
///     softmax.weight            [V, H]   shared output layer
///     softmax.bias              [V]
///
/// or, with `adaptiveCutoffs`, the shared output layer is an `NN.AdaptiveLogSoftmax` over the
/// LSTM states (div 4): `softmax.head.weight [S + C, H]`, `softmax.tail.{i}.0.weight`,
/// `softmax.tail.{i}.1.weight` (PyTorch's names), and the loss is its exact cross-entropy (no
/// candidates, no sampling).
///
/// **Loss**: sampled softmax with candidates shared by the whole window (Jean et al. 2015): the
/// target's logit competes with the logits of `K` candidate ids drawn from a proposal `Q`, each
/// logit corrected by `−log(K·Q(id))` (`logExpectedCount`); a candidate equal to the row's target
/// is left out (an accidental hit). With all `V` ids as candidates and zero corrections this is
/// exactly the full softmax cross-entropy. The full softmax over a 30k vocabulary would cost
/// ~50 MFLOP per token here, the sampled one with K = 512 ~1 MFLOP.
///
/// **Direction d** (0 forward, 1 backward) reads a time-major window `[T, B]` of its own stream:
/// the corpus for d = 0, the corpus reversed for d = 1 (so "the next token" of the backward
/// stream is the previous token of the text). The LSTM state is carried between windows of a
/// direction; `resetState()` zeroes both.
///
///     let model = BiLanguageModel(vocabularySize: V, embeddingSize: 64, hiddenSize: 32, batchSize: 32, maxSteps: 35, rng: &rng)
///     model.store.zeroGradients()
///     let loss = model.forward(direction: 0, inputs: x, targets: y, steps: 35, candidates: c)
///     model.backward(direction: 0)        // adds the gradient of the mean loss
public final class BiLanguageModel {
    public let vocabularySize: Int
    public let embeddingSize: Int
    public let hiddenSize: Int
    public let batchSize: Int
    public let maxSteps: Int
    public let store: ParameterStore
    /// The forward (0) and backward (1) LSTMs.
    public let lstms: [LSTM]
    public let embeddingWeight: ParameterView
    /// The sampled softmax's output layer (nil with the adaptive softmax).
    public let softmaxWeight: ParameterView?
    public let softmaxBias: ParameterView?
    /// The adaptive softmax, one per direction over the same parameters (each keeps its own
    /// forward for backward); empty with the sampled softmax.
    let adaptive: [AdaptiveLogSoftmax]
    let adaptiveView: ParameterView?
    let lstmOffsets: [Int]
    /// `log(K·Q(id))` per id, subtracted from every logit of that id (zeros: no correction).
    public var logExpectedCount: [Float]

    // Per-direction state of the last forward (what backward differentiates).
    private var lastSteps = [0, 0]
    private var lastCandidates: [[Int32]] = [[], []]
    // Buffers (N = maxSteps · batchSize), one set per direction.
    private let ids: [UnsafeMutablePointer<Int32>]      // 2 × [N]
    private let targetIds: [UnsafeMutablePointer<Int32>] // 2 × [N]
    private let x: [UnsafeMutablePointer<Float>]        // 2 × [N, E]
    private let h: [UnsafeMutablePointer<Float>]        // 2 × [N, H]
    private let targetProb: [UnsafeMutablePointer<Float>] // 2 × [N] softmax probability of the target
    private var candidateProbs: [[Float]] = [[], []]    // 2 × [N, K] probabilities of the candidates
    private var candidateWeights: [Float] = []          // [K, H] gathered softmax rows
    private var dCandidateWeights: [Float] = []         // [K, H]
    private let dh: UnsafeMutablePointer<Float>         // [N, H]
    private let dx: UnsafeMutablePointer<Float>         // [N, E]
    private let logProbs: UnsafeMutablePointer<Float>   // [N] (adaptive softmax's per-row output)
    /// Owns every buffer below.
    private let arena: BufferArena

    /// A model with every parameter uniform in ±`initRange` (softmax bias 0); with
    /// `adaptiveCutoffs` (valid for V: `AdaptiveLogSoftmax.validate`) an adaptive softmax output.
    public init(vocabularySize V: Int, embeddingSize E: Int, hiddenSize H: Int, batchSize B: Int, maxSteps T: Int,
                initRange: Float = 0.1, adaptiveCutoffs: [Int]? = nil, rng: inout RNG) {
        precondition(V > 0 && E > 0 && H > 0 && B > 0 && T > 0, "BiLanguageModel: sizes must be positive")
        vocabularySize = V; embeddingSize = E; hiddenSize = H; batchSize = B; maxSteps = T
        let store = ParameterStore()
        self.store = store
        embeddingWeight = store.register("embedding.weight", shape: [V, E])
        var offsets: [Int] = []
        for name in ["forward", "backward"] {
            offsets.append(store.register("\(name).weight_ih_l0", shape: [4 * H, E]).offset)
            store.register("\(name).weight_hh_l0", shape: [4 * H, H])
            store.register("\(name).bias_ih_l0", shape: [4 * H])
            store.register("\(name).bias_hh_l0", shape: [4 * H])
        }
        lstmOffsets = offsets
        if let adaptiveCutoffs {
            do {
                adaptive = try (0..<2).map { _ in try AdaptiveLogSoftmax(inputSize: H, classCount: V, cutoffs: adaptiveCutoffs) }
            } catch {
                preconditionFailure("BiLanguageModel: \(error)")
            }
            adaptiveView = adaptive[0].register(in: store, prefix: "softmax.")
            softmaxWeight = nil; softmaxBias = nil
        } else {
            softmaxWeight = store.register("softmax.weight", shape: [V, H])
            softmaxBias = store.register("softmax.bias", shape: [V])
            adaptive = []; adaptiveView = nil
        }
        lstms = (0..<2).map { _ in LSTM(inputSize: E, hiddenSize: H, batchSize: B, maxSteps: T) }
        logExpectedCount = [Float](repeating: 0, count: V)

        let N = T * B
        let arena = BufferArena()
        let floats = arena.floats, int32s = arena.int32s
        ids = (0..<2).map { _ in int32s(N) }
        targetIds = (0..<2).map { _ in int32s(N) }
        x = (0..<2).map { _ in floats(N * E) }
        h = (0..<2).map { _ in floats(N * H) }
        targetProb = (0..<2).map { _ in floats(N) }
        dh = floats(N * H)
        dx = floats(N * E)
        logProbs = floats(N)
        self.arena = arena

        for view in store.views where view != softmaxBias {
            let values = store.values(view)
            for i in 0..<values.count { values[i] = rng.uniform(-initRange, initRange) }
        }
    }

    /// Zeroes the carried LSTM state of both directions.
    public func resetState() { for lstm in lstms { lstm.resetState() } }

    /// Runs direction `d` over `steps` time steps of `inputs` (`[steps · batchSize]`, time-major)
    /// from its carried state and returns the top hidden states `[steps · batchSize, H]`, valid
    /// until the next call for that direction.
    public func encode(direction d: Int, inputs: UnsafePointer<Int32>, steps T: Int) -> UnsafePointer<Float> {
        precondition(d == 0 || d == 1, "BiLanguageModel: direction is 0 (forward) or 1 (backward)")
        precondition(T > 0 && T <= maxSteps, "BiLanguageModel: \(T) steps, but 1...\(maxSteps) allowed")
        let N = T * batchSize
        let p = store.values.baseAddress!
        ids[d].update(from: inputs, count: N)
        Embedding(vocabularySize: vocabularySize, embeddingSize: embeddingSize)
            .forward(output: x[d], ids: ids[d], weight: p + embeddingWeight.offset, n: N)
        lstms[d].forward(output: h[d], input: x[d], parameters: p + lstmOffsets[d], steps: T)
        lastSteps[d] = T
        return UnsafePointer(h[d])
    }

    /// The mean sampled-softmax loss (natural log) of direction `d` on one window: each
    /// `targets[r]` against `candidates` (see the type's discussion). Keeps what `backward`
    /// needs.
    /// With the adaptive softmax `candidates` is ignored and the loss is exact.
    public func forward(direction d: Int, inputs: [Int32], targets: [Int32], steps T: Int, candidates: [Int32]) -> Double {
        let N = T * batchSize, H = hiddenSize, K = candidates.count
        precondition(inputs.count == N && targets.count == N, "BiLanguageModel: inputs and targets must hold steps × batchSize ids")
        precondition(K > 0 || adaptiveView != nil, "BiLanguageModel: no candidates")
        let hd = inputs.withUnsafeBufferPointer { encode(direction: d, inputs: $0.baseAddress!, steps: T) }
        targets.withUnsafeBufferPointer { targetIds[d].update(from: $0.baseAddress!, count: N) }
        lastCandidates[d] = candidates
        let p = store.values.baseAddress!
        if let adaptiveView {
            return adaptive[d].forward(logProbs: logProbs, input: hd, parameters: p + adaptiveView.offset,
                                       targets: targetIds[d], mask: nil, n: N).loss / Double(N)
        }
        let W = p + softmaxWeight!.offset, bias = p + softmaxBias!.offset
        let correction = logExpectedCount
        // Gather the candidates' softmax rows: Wc [K, H].
        if candidateWeights.count < K * H { candidateWeights = [Float](repeating: 0, count: K * H) }
        if candidateProbs[d].count < N * K { candidateProbs[d] = [Float](repeating: 0, count: N * K) }
        var loss: Double = 0
        candidateWeights.withUnsafeMutableBufferPointer { wc in
            for (k, id) in candidates.enumerated() {
                precondition(id >= 0 && Int(id) < vocabularySize, "BiLanguageModel: candidate \(id) outside 0..<\(vocabularySize)")
                (wc.baseAddress! + k * H).update(from: W + Int(id) * H, count: H)
            }
            candidateProbs[d].withUnsafeMutableBufferPointer { probs in
                let s = probs.baseAddress!  // [N, K] logits, then probabilities
                // S[N, K] = h[N, H] · Wcᵀ
                sgemm(.none, .transpose, m: N, n: K, k: H, a: hd, lda: H, b: wc.baseAddress!, ldb: H, beta: 0, c: s, ldc: K)
                // Per candidate: bias − correction; where each id sits among the candidates
                // (an id equal to a row's target is an accidental hit, left out of that row).
                var candidateShift = [Float](repeating: 0, count: K)
                var positions: [Int32: [Int]] = [:]
                for (k, id) in candidates.enumerated() {
                    candidateShift[k] = bias[Int(id)] - correction[Int(id)]
                    positions[id, default: []].append(k)
                }
                candidateShift.withUnsafeBufferPointer { shift in
                    for r in 0..<N {
                        let t = Int(targetIds[d][r])
                        precondition(t >= 0 && t < vocabularySize, "BiLanguageModel: target \(t) outside 0..<\(vocabularySize)")
                        let row = s + r * K, hr = hd + r * H, wt = W + t * H
                        var targetLogit = bias[t] - correction[t]
                        for j in 0..<H { targetLogit += hr[j] * wt[j] }
                        let mx = addAndMax(row, shift.baseAddress!, count: K, start: targetLogit)
                        let targetExp = FastMath.exp(targetLogit - mx)
                        expInPlace(row, minus: mx, count: K)
                        if let hits = positions[Int32(t)] { for k in hits { row[k] = 0 } }
                        let sum = targetExp + sumOf(row, count: K)
                        let inv = 1 / sum
                        scaleInPlace(row, by: inv, count: K)
                        targetProb[d][r] = targetExp * inv
                        loss += Double(mx) + log(Double(sum)) - Double(targetLogit)
                    }
                }
            }
        }
        return loss / Double(N)
    }

    /// Adds the gradient of direction `d`'s last mean loss into `store.gradients`.
    public func backward(direction d: Int) {
        let T = lastSteps[d]
        precondition(T > 0, "BiLanguageModel: backward without a preceding forward")
        let N = T * batchSize, H = hiddenSize, E = embeddingSize
        let p = store.values.baseAddress!, g = store.gradients.baseAddress!
        let scale = 1 / Float(N)
        if let adaptiveView {
            dh.update(repeating: 0, count: N * H)
            adaptive[d].backward(dinput: dh, dparameters: g + adaptiveView.offset, input: h[d], parameters: p + adaptiveView.offset,
                                 targets: targetIds[d], mask: nil, n: N, scale: scale)
        } else {
            backwardSampledSoftmax(direction: d, n: N, scale: scale)
        }
        dx.update(repeating: 0, count: N * E)
        lstms[d].backward(dinput: dx, dparameters: g + lstmOffsets[d], doutput: dh, input: x[d], parameters: p + lstmOffsets[d])
        Embedding(vocabularySize: vocabularySize, embeddingSize: E).backward(dweight: g + embeddingWeight.offset, doutput: dx, ids: ids[d], n: N)
        lastSteps[d] = 0
    }

    /// The sampled softmax's part of `backward`: writes dh and adds the output layer's gradient.
    private func backwardSampledSoftmax(direction d: Int, n N: Int, scale: Float) {
        let H = hiddenSize
        let candidates = lastCandidates[d], K = candidates.count
        let p = store.values.baseAddress!, g = store.gradients.baseAddress!
        let W = p + softmaxWeight!.offset, dW = g + softmaxWeight!.offset, db = g + softmaxBias!.offset
        // Re-gather Wc (another direction's forward may have used other candidates).
        if dCandidateWeights.count < K * H { dCandidateWeights = [Float](repeating: 0, count: K * H) }
        candidateWeights.withUnsafeMutableBufferPointer { wc in
            for (k, id) in candidates.enumerated() { (wc.baseAddress! + k * H).update(from: W + Int(id) * H, count: H) }
            candidateProbs[d].withUnsafeMutableBufferPointer { probs in
                dCandidateWeights.withUnsafeMutableBufferPointer { dwc in
                    let p = probs.baseAddress!  // [N, K] probabilities; dS = P / N
                    let hd = UnsafePointer(h[d])
                    // dh[N, H] = dS · Wc
                    sgemm(.none, .none, m: N, n: H, k: K, alpha: scale, a: p, lda: K, b: wc.baseAddress!, ldb: H, beta: 0, c: dh, ldc: H)
                    // dWc[K, H] = dSᵀ · h, scattered to the candidates' rows; db[c] += Σ_r dS[r, c]
                    sgemm(.transpose, .none, m: K, n: H, k: N, alpha: scale, a: p, lda: K, b: hd, ldb: H, beta: 0, c: dwc.baseAddress!, ldc: H)
                    var columnSums = [Float](repeating: 0, count: K)
                    columnSums.withUnsafeMutableBufferPointer { cs in
                        for r in 0..<N {
                            let row = p + r * K
                            for k in 0..<K { cs[k] += row[k] }
                        }
                    }
                    for (k, id) in candidates.enumerated() {
                        let dst = dW + Int(id) * H, src = dwc.baseAddress! + k * H
                        for j in 0..<H { dst[j] += src[j] }
                        db[Int(id)] += columnSums[k] * scale
                    }
                    // The target column: d logit = (p_t − 1) / N.
                    for r in 0..<N {
                        let t = Int(targetIds[d][r])
                        let dt = (targetProb[d][r] - 1) * scale
                        let hr = hd + r * H, wt = W + t * H, dwt = dW + t * H, dhr = dh + r * H
                        for j in 0..<H {
                            dhr[j] += dt * wt[j]
                            dwt[j] += dt * hr[j]
                        }
                        db[t] += dt
                    }
                }
            }
        }
    }
}

// MARK: Row kernels (eight lanes at a time)

@inline(__always) private func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) private func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// `row[k] += shift[k]`; returns max(start, max_k row[k]).
@inline(__always)
private func addAndMax(_ row: UnsafeMutablePointer<Float>, _ shift: UnsafePointer<Float>, count: Int, start: Float) -> Float {
    var m8 = SIMD8<Float>(repeating: start)
    var k = 0
    while k + 8 <= count {
        let v = load8(row + k) + load8(shift + k)
        store8(v, row + k)
        m8 = m8.replacing(with: v, where: v .> m8)
        k += 8
    }
    var mx = m8.max()
    while k < count { row[k] += shift[k]; mx = max(mx, row[k]); k += 1 }
    return mx
}

/// `row[k] = exp(row[k] − m)`.
@inline(__always)
private func expInPlace(_ row: UnsafeMutablePointer<Float>, minus m: Float, count: Int) {
    let m8 = SIMD8<Float>(repeating: m)
    var k = 0
    while k + 8 <= count { store8(FastMath.exp(load8(row + k) - m8), row + k); k += 8 }
    while k < count { row[k] = FastMath.exp(row[k] - m); k += 1 }
}

/// Σ_k row[k] (eight partial sums).
@inline(__always)
private func sumOf(_ row: UnsafeMutablePointer<Float>, count: Int) -> Float {
    var s8 = SIMD8<Float>(repeating: 0)
    var k = 0
    while k + 8 <= count { s8 += load8(row + k); k += 8 }
    var s = s8.sum()
    while k < count { s += row[k]; k += 1 }
    return s
}

/// `row[k] *= c`.
@inline(__always)
private func scaleInPlace(_ row: UnsafeMutablePointer<Float>, by c: Float, count: Int) {
    let c8 = SIMD8<Float>(repeating: c)
    var k = 0
    while k + 8 <= count { store8(load8(row + k) * c8, row + k); k += 8 }
    while k < count { row[k] *= c; k += 1 }
}
