import Glibc

/// Why an adaptive softmax's cutoffs (or its division value) were refused: one line, for the
/// caller to prefix with the flag or file they came from.
public struct AdaptiveSoftmaxError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Adaptive softmax (Grave et al. 2017, "Efficient softmax approximation for GPUs"): exact,
/// normalized log-probabilities over a frequency-sorted vocabulary at a fraction of a full
/// softmax's cost. PyTorch equivalent: `nn.AdaptiveLogSoftmaxWithLoss(in_features, n_classes,
/// cutoffs, div_value, head_bias)`, the same parameters, names and layouts.
///
/// With cutoffs `c_0 < c_1 < … < c_{C-1}` (and `c_C = V`) the words `0..<c_0` (the shortlist)
/// live in the head; cluster i holds the words `c_i..<c_{i+1}`. The head is a linear layer
/// `[S + C, K]` (S = c_0) whose last C outputs stand for the clusters; cluster i is two linear
/// layers without bias, a down-projection `[h_i, K]` with `h_i = ⌊K / div^(i+1)⌋` and an output
/// `[c_{i+1} − c_i, h_i]`. For an input row x:
///
///     log p(w) = logsoftmax(head(x))[w]                                        w < S
///     log p(w) = logsoftmax(head(x))[S + i] + logsoftmax(tail_i(x))[w − c_i]   w in cluster i
///
/// so the probabilities of all V words sum to 1. A cluster whose `h_i` is 0 (small K, many
/// clusters) has all-zero logits, i.e. a uniform distribution inside the cluster, as in PyTorch.
///
/// Parameters, in one flat buffer `[parameterCount]` (PyTorch's names, `parameterTensors`):
///
///     head.weight        [S + C, K]
///     head.bias          [S + C]        only with headBias
///     tail.{i}.0.weight  [h_i, K]
///     tail.{i}.1.weight  [c_{i+1} − c_i, h_i]
///
/// The loss (`forward`) computes the head for every row but cluster i only for the rows whose
/// target is in cluster i (their inputs gathered into one GEMM); `backward` reuses what the
/// last `forward` kept (head logits, gathered inputs, projections, cluster logits), so it must
/// follow the forward of the same batch. `logProb` writes whole `[N, V]` rows (for sampling),
/// forward only. The head's and each cluster's softmax use `SoftmaxCrossEntropy`'s row kernels
/// (log-sum-exp, gradient row). Reductions follow `LinearCrossEntropy`: `forward` returns the masked *sum* of
/// −log p and the count of scored rows; PyTorch's `loss` (a mean) is `loss / count`, whose
/// gradient is `backward(…, scale: 1 / count)`.
///
///     let asm = try AdaptiveLogSoftmax(inputSize: H, classCount: V, cutoffs: [2000, 10000])
///     let first = asm.register(in: store, prefix: "decoder.")    // consecutive views
///     let p = store.values.baseAddress! + first.offset             // [asm.parameterCount]
///     let (loss, count) = asm.forward(logProbs: lp, input: h, parameters: p, targets: y,
///                                     mask: nil, n: N)
///     asm.backward(dinput: dh, dparameters: store.gradients.baseAddress! + first.offset,
///                  input: h, parameters: p, targets: y, mask: nil, n: N, scale: Float(1 / count))
public final class AdaptiveLogSoftmax {
    public let inputSize: Int    // K
    public let classCount: Int   // V
    /// The cutoffs as given (without V): strictly increasing, in `1..<V`.
    public let cutoffs: [Int]
    public let divValue: Double
    public let headBias: Bool
    /// `h_i = ⌊K / div^(i+1)⌋`, each cluster's projection width (may be 0).
    public let projectionSizes: [Int]
    /// `c_{i+1} − c_i`, the words of each cluster.
    public let clusterSizes: [Int]
    /// Total number of parameters (the flat buffer's length).
    public let parameterCount: Int

    /// Words in the head (`c_0`).
    public var shortlistSize: Int { cutoffs[0] }
    /// Tail clusters (`C`).
    public var clusterCount: Int { cutoffs.count }
    /// Head outputs: the shortlist plus one per cluster.
    public var headSize: Int { cutoffs[0] + cutoffs.count }

    private let headBiasOffset: Int?
    private let projectionOffsets: [Int]
    private let outputOffsets: [Int]

    // What `forward` keeps for `backward`.
    private var state: UnsafeMutablePointer<Float>?
    private var stateCapacity = 0
    private var scratch: UnsafeMutablePointer<Float>?
    private var scratchCapacity = 0
    private var savedRows = -1
    private var headTargets: [Int32] = []   // [N] head column of each row's target, −1 if masked
    private var clusterRows: [[Int]] = []   // per cluster: the rows whose target is in it
    private var clusterOffsets: [(x: Int, projection: Int, logits: Int, logSumExp: Int)] = []

    /// Validates the configuration (`AdaptiveSoftmaxError` for cutoffs that are empty, not
    /// positive, not below `classCount`, repeated or not increasing, and for a division value
    /// that is not a positive finite number).
    public init(inputSize: Int, classCount: Int, cutoffs: [Int], divValue: Double = 4, headBias: Bool = false) throws {
        precondition(inputSize > 0, "AdaptiveLogSoftmax: inputSize must be positive")
        try AdaptiveLogSoftmax.validate(cutoffs: cutoffs, classCount: classCount)
        guard divValue.isFinite && divValue > 0 else {
            throw AdaptiveSoftmaxError("adaptive softmax: division value \(divValue) must be a positive number")
        }
        self.inputSize = inputSize
        self.classCount = classCount
        self.cutoffs = cutoffs
        self.divValue = divValue
        self.headBias = headBias
        let bounds = cutoffs + [classCount]
        projectionSizes = (0..<cutoffs.count).map {
            AdaptiveLogSoftmax.pythonFloorDivide(Double(inputSize), pow(divValue, Double($0 + 1)))
        }
        clusterSizes = (0..<cutoffs.count).map { bounds[$0 + 1] - bounds[$0] }
        let headSize = cutoffs[0] + cutoffs.count
        var offset = headSize * inputSize
        if headBias { headBiasOffset = offset; offset += headSize } else { headBiasOffset = nil }
        var p: [Int] = [], o: [Int] = []
        for i in 0..<cutoffs.count {
            p.append(offset); offset += projectionSizes[i] * inputSize
            o.append(offset); offset += clusterSizes[i] * projectionSizes[i]
        }
        projectionOffsets = p
        outputOffsets = o
        parameterCount = offset
    }

    deinit {
        state?.deallocate()
        scratch?.deallocate()
    }

    /// Checks cutoffs as PyTorch does, with a one-line message: at least one, each in
    /// `1..<classCount`, no duplicates, strictly increasing.
    public static func validate(cutoffs: [Int], classCount: Int) throws {
        let list = "[" + cutoffs.map(String.init).joined(separator: ",") + "]"
        guard !cutoffs.isEmpty else {
            throw AdaptiveSoftmaxError("adaptive softmax cutoffs: need at least one cutoff")
        }
        for c in cutoffs where c <= 0 {
            throw AdaptiveSoftmaxError("adaptive softmax cutoffs \(list): cutoff \(c) is not positive")
        }
        for c in cutoffs where c >= classCount {
            throw AdaptiveSoftmaxError("adaptive softmax cutoffs \(list): cutoff \(c) is not below the vocabulary size \(classCount)")
        }
        var seen = Set<Int>()
        for c in cutoffs where !seen.insert(c).inserted {
            throw AdaptiveSoftmaxError("adaptive softmax cutoffs \(list): cutoff \(c) appears twice")
        }
        for i in 1..<cutoffs.count where cutoffs[i] <= cutoffs[i - 1] {
            throw AdaptiveSoftmaxError("adaptive softmax cutoffs \(list): not increasing (\(cutoffs[i]) after \(cutoffs[i - 1]))")
        }
    }

    /// Cutoffs for a vocabulary whose ids are sorted by descending count (lmtool's are, after
    /// `<unk>` and `<eos>`), from `counts [V]`:
    ///
    /// - the head (shortlist) is the fewest most frequent words that cover `headCoverage` of
    ///   all tokens (default 0.8), at least 1 and at most V − 1;
    /// - cluster boundaries then grow by `growth` (default 4): `S, S·4, S·16, …` while below V;
    /// - the last boundary is dropped when the final cluster would hold fewer words than the one
    ///   before it, so that cluster sizes keep growing.
    ///
    /// Why: the head runs for every token and a cluster only for the tokens in it, so the head
    /// should hold the words that make up most of the text (they also keep the full K-wide
    /// representation); past the head, frequencies fall off roughly as Zipf's law, so
    /// geometrically growing clusters carry shrinking token shares, and with projections
    /// shrinking by `div` per cluster each costs about the same. 80% reproduces the cutoffs of
    /// the literature: WikiText-2's training text (V = 33,278) gives [2583, 10332] (commonly
    /// [2000, 10000]); Zipf counts over 267k words (WikiText-103's size) [19545, 78180]
    /// (Baevski & Auli 2019: [20000, 60000]); the Gutenberg text in ../shared/corpora cut to
    /// 100k words [3458, 13832, 55328]. A higher coverage buys a larger head at a steep price:
    /// on that Gutenberg vocabulary (K = 200, div 4) about 0.79M multiply-adds per token at
    /// 80%, 2.7M at 90%, against 20M for the full softmax.
    public static func chooseCutoffs(counts: [Int], headCoverage: Double = 0.8, growth: Int = 4) throws -> [Int] {
        let V = counts.count
        guard V >= 2 else {
            throw AdaptiveSoftmaxError("adaptive softmax: a vocabulary of \(V) words has no room for a cluster")
        }
        guard headCoverage > 0 && headCoverage <= 1 else {
            throw AdaptiveSoftmaxError("adaptive softmax: head coverage \(headCoverage) must be in (0, 1]")
        }
        guard growth >= 2 else {
            throw AdaptiveSoftmaxError("adaptive softmax: cluster growth \(growth) must be at least 2")
        }
        let total = counts.reduce(0.0) { $0 + Double(Swift.max($1, 0)) }
        var covered = 0.0, shortlist = V
        for (k, c) in counts.enumerated() {
            covered += Double(Swift.max(c, 0))
            if covered >= headCoverage * total { shortlist = k + 1; break }
        }
        shortlist = Swift.min(Swift.max(shortlist, 1), V - 1)
        var cuts = [shortlist]
        while cuts.last! <= (V - 1) / growth { cuts.append(cuts.last! * growth) }  // each product < V
        if cuts.count >= 2 {
            let last = V - cuts[cuts.count - 1], previous = cuts[cuts.count - 1] - cuts[cuts.count - 2]
            if last < previous { cuts.removeLast() }
        }
        return cuts
    }

    /// Python's `int(a // b)` for positive floats (how PyTorch computes `h_i`): the floor of the
    /// exact quotient, computed as CPython does so that e.g. `16 // 4.0**2` is exactly 1.
    static func pythonFloorDivide(_ a: Double, _ b: Double) -> Int {
        let mod = fmod(a, b)
        let div = (a - mod) / b
        var floorDiv = div.rounded(.down)
        if div - floorDiv > 0.5 { floorDiv += 1 }
        return Int(floorDiv)
    }

    /// PyTorch names, offsets and shapes of every tensor in the flat parameter buffer.
    public var parameterTensors: [(name: String, offset: Int, shape: [Int])] {
        let K = inputSize
        var t: [(name: String, offset: Int, shape: [Int])] = [("head.weight", 0, [headSize, K])]
        if let headBiasOffset { t.append(("head.bias", headBiasOffset, [headSize])) }
        for i in 0..<clusterCount {
            t.append(("tail.\(i).0.weight", projectionOffsets[i], [projectionSizes[i], K]))
            t.append(("tail.\(i).1.weight", outputOffsets[i], [clusterSizes[i], projectionSizes[i]]))
        }
        return t
    }

    /// Registers every tensor of `parameterTensors` in `store` as `prefix + name`, one after the
    /// other (so they form one contiguous `[parameterCount]` slice), and returns the first view:
    /// pass `store.values.baseAddress! + view.offset` as `parameters`.
    @discardableResult
    public func register(in store: ParameterStore, prefix: String = "") -> ParameterView {
        var first: ParameterView?
        for (name, offset, shape) in parameterTensors {
            let view = store.register(prefix + name, shape: shape)
            if first == nil { first = view }
            precondition(view.offset == first!.offset + offset, "AdaptiveLogSoftmax: parameters not contiguous")
        }
        return first!
    }

    /// Fills `parameters [parameterCount]` as PyTorch initializes the module: every Linear's
    /// weight (and the head's bias) uniform in [-1/√in, 1/√in).
    public func initialize(parameters: UnsafeMutablePointer<Float>, rng: inout RNG) {
        let K = inputSize
        let bound = 1 / Float(K).squareRoot()
        for k in 0..<(headSize * K) { parameters[k] = rng.uniform(-bound, bound) }
        if let headBiasOffset { for k in 0..<headSize { parameters[headBiasOffset + k] = rng.uniform(-bound, bound) } }
        for i in 0..<clusterCount {
            for k in 0..<(projectionSizes[i] * K) { parameters[projectionOffsets[i] + k] = rng.uniform(-bound, bound) }
            let h = projectionSizes[i]
            if h > 0 {
                let b = 1 / Float(h).squareRoot()
                for k in 0..<(clusterSizes[i] * h) { parameters[outputOffsets[i] + k] = rng.uniform(-b, b) }
            }
        }
    }

    /// The cluster of word `t ≥ shortlistSize`.
    @inline(__always)
    private func cluster(of t: Int) -> Int {
        var c = 0
        while c + 1 < cutoffs.count && t >= cutoffs[c + 1] { c += 1 }
        return c
    }

    // MARK: Loss

    /// Returns the masked summed loss `Σ_r mask[r] · (−log p(targets[r] | input[r]))` and the
    /// summed mask (the count of scored rows); writes log p(target) per row into `logProbs`
    /// (0 where masked). `mask` nil means every row counts with weight 1; masked rows cost
    /// nothing in the tails and their targets may be anything. Keeps what `backward` needs.
    ///
    /// With `rowIndependent` the products go through `PackedGEMM.rowIndependentMultiplyAdd`: each
    /// row's log-probability then depends on its own input alone, bitwise, whatever the number of
    /// rows or the other rows' clusters (evaluation; scoring documents as batch columns needs it).
    @discardableResult
    public func forward(
        logProbs: UnsafeMutablePointer<Float>,  // [N]
        input: UnsafePointer<Float>,            // [N, K]
        parameters: UnsafePointer<Float>,       // [parameterCount]
        targets: UnsafePointer<Int32>,          // [N]
        mask: UnsafePointer<Float>?,            // [N] 0/1 weights
        n: Int,
        rowIndependent: Bool = false
    ) -> (loss: Double, count: Double) {
        precondition(n >= 0, "AdaptiveLogSoftmax: negative row count")
        let K = inputSize, V = classCount, S = shortlistSize, Hs = headSize, C = clusterCount
        if rowIndependent {
            // `scratch` holds the packed weights of one product at a time (backward reserves it anew).
            var packedNeed = PackedGEMM.packedCount(n: Hs, k: K)
            for c in 0..<C where projectionSizes[c] > 0 {
                packedNeed = Swift.max(packedNeed, PackedGEMM.packedCount(n: projectionSizes[c], k: K),
                                       PackedGEMM.packedCount(n: clusterSizes[c], k: projectionSizes[c]))
            }
            reserve(&scratch, &scratchCapacity, packedNeed)
        }
        /// `c[m, cols] (+)= a[m, k] · wᵀ` (w stored `[cols, k]`); `accumulate` false overwrites c.
        func product(_ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                     m: Int, k: Int, cols: Int, accumulate: Bool) {
            if rowIndependent {
                if !accumulate { c.update(repeating: 0, count: m * cols) }
                PackedGEMM.rowIndependentMultiplyAdd(c: c, ldc: cols, a: a, lda: k, weight: w, m: m, k: k, n: cols,
                                                     packed: scratch!)
            } else {
                sgemm(.none, .transpose, m: m, n: cols, k: k, a: a, lda: k, b: w, ldb: k,
                      beta: accumulate ? 1 : 0, c: c, ldc: cols)
            }
        }

        // Each scored row's head column, and the rows of each cluster.
        var heads = [Int32](repeating: -1, count: n)
        var rows = [[Int]](repeating: [], count: C)
        for r in 0..<n where (mask?[r] ?? 1) != 0 {
            let t = Int(targets[r])
            precondition(t >= 0 && t < V, "AdaptiveLogSoftmax: target \(t) outside 0..<\(V)")
            if t < S {
                heads[r] = Int32(t)
            } else {
                let c = cluster(of: t)
                heads[r] = Int32(S + c)
                rows[c].append(r)
            }
        }
        var need = n * Hs + n
        var offsets: [(x: Int, projection: Int, logits: Int, logSumExp: Int)] = []
        for c in 0..<C {
            let m = rows[c].count
            let x = need; need += m * K
            let projection = need; need += m * projectionSizes[c]
            let logits = need; need += m * clusterSizes[c]
            offsets.append((x, projection, logits, need)); need += m
        }
        reserve(&state, &stateCapacity, need)
        let state = self.state!
        let headLogits = state                // [N, Hs]
        let headLSE = state + n * Hs          // [N]

        // headLogits[N, Hs] = input · Wᵀ (+ bias); per scored row its log-sum-exp.
        let weight = parameters                          // [Hs, K]
        let bias = headBiasOffset.map { parameters + $0 }  // [Hs]
        if let bias {
            WorkerPool.shared.forEachShare(of: n, minimumCount: WorkerPool.shared.options.elementwiseMinimum / Swift.max(Hs, 1)) { share in
                for r in share { (headLogits + r * Hs).update(from: bias, count: Hs) }
            }
        }
        if n > 0 { product(headLogits, input, weight, m: n, k: K, cols: Hs, accumulate: bias != nil) }
        heads.withUnsafeBufferPointer { heads in
            WorkerPool.shared.forEachShare(of: n, minimumCount: WorkerPool.shared.options.elementwiseMinimum / Swift.max(Hs, 1)) { share in
                for r in share {
                    if heads[r] < 0 { headLSE[r] = 0; logProbs[r] = 0; continue }
                    let row = headLogits + r * Hs
                    headLSE[r] = SoftmaxCrossEntropy.logSumExp(row, count: Hs)
                    logProbs[r] = row[Int(heads[r])] - headLSE[r]
                }
            }
        }

        // Each cluster on its own rows: gathered inputs, projection, logits, log-sum-exp.
        for c in 0..<C where !rows[c].isEmpty {
            let m = rows[c].count, h = projectionSizes[c], o = clusterSizes[c], o0 = offsets[c]
            let x = state + o0.x                  // [m, K]
            let projection = state + o0.projection  // [m, h]
            let logits = state + o0.logits        // [m, o]
            let lse = state + o0.logSumExp        // [m]
            for (i, r) in rows[c].enumerated() { (x + i * K).update(from: input + r * K, count: K) }
            if h > 0 {
                product(projection, x, parameters + projectionOffsets[c], m: m, k: K, cols: h, accumulate: false)
                product(logits, projection, parameters + outputOffsets[c], m: m, k: h, cols: o, accumulate: false)
            } else {
                logits.update(repeating: 0, count: m * o)
            }
            let clusterRows = rows[c], first = cutoffs[c]
            WorkerPool.shared.forEachShare(of: m, minimumCount: WorkerPool.shared.options.elementwiseMinimum / Swift.max(o, 1)) { share in
                for i in share {
                    let r = clusterRows[i], row = logits + i * o
                    lse[i] = SoftmaxCrossEntropy.logSumExp(row, count: o)
                    logProbs[r] += row[Int(targets[r]) - first] - lse[i]
                }
            }
        }

        // The loss in row order.
        var loss: Double = 0, count: Double = 0
        for r in 0..<n where heads[r] >= 0 {
            let w = Double(mask?[r] ?? 1)
            loss -= w * Double(logProbs[r])
            count += w
        }
        savedRows = n
        headTargets = heads
        clusterRows = rows
        clusterOffsets = offsets
        return (loss, count)
    }

    /// Adds `scale ·` the gradient of the loss `forward` returned into `dparameters` and (if
    /// non-nil) `dinput`. Must follow the `forward` of the same rows (it reuses the head logits,
    /// gathered inputs, projections and cluster logits that forward kept).
    public func backward(
        dinput: UnsafeMutablePointer<Float>?,      // [N, K]
        dparameters: UnsafeMutablePointer<Float>,  // [parameterCount]
        input: UnsafePointer<Float>,               // [N, K]
        parameters: UnsafePointer<Float>,          // [parameterCount]
        targets: UnsafePointer<Int32>,             // [N]
        mask: UnsafePointer<Float>?,               // [N]
        n: Int,
        scale: Float
    ) {
        precondition(n == savedRows, "AdaptiveLogSoftmax: backward of \(n) rows after a forward of \(savedRows)")
        let K = inputSize, Hs = headSize, C = clusterCount
        var clusterNeed = 0
        for c in 0..<C {
            clusterNeed = Swift.max(clusterNeed, clusterRows[c].count * (clusterSizes[c] + projectionSizes[c] + K))
        }
        reserve(&scratch, &scratchCapacity, n * Hs + clusterNeed)
        let state = self.state!, scratch = self.scratch!
        let headLogits = state, headLSE = state + n * Hs  // [N, Hs], [N]
        let dhead = scratch                                // [N, Hs]

        // dhead = scale · mask · (softmax(headLogits) − onehot(head column)).
        headTargets.withUnsafeBufferPointer { heads in
            WorkerPool.shared.forEachShare(of: n, minimumCount: WorkerPool.shared.options.elementwiseMinimum / Swift.max(Hs, 1)) { share in
                for r in share {
                    let drow = dhead + r * Hs
                    if heads[r] < 0 { drow.update(repeating: 0, count: Hs); continue }
                    SoftmaxCrossEntropy.gradientRow(drow, logits: headLogits + r * Hs, logSumExp: headLSE[r],
                                                    target: Int(heads[r]), count: Hs, scale: scale * (mask?[r] ?? 1),
                                                    accumulate: false)
                }
            }
        }
        if n > 0 {
            // dW_head[Hs, K] += dheadᵀ · input; dbias[Hs] += column sums; dinput += dhead · W_head.
            sgemm(.transpose, .none, m: Hs, n: K, k: n, a: dhead, lda: Hs, b: input, ldb: K,
                  beta: 1, c: dparameters, ldc: K)
            if let headBiasOffset { addColumnSums(dparameters + headBiasOffset, dhead, rows: n, columns: Hs) }
            if let dinput {
                sgemm(.none, .none, m: n, n: K, k: Hs, a: dhead, lda: Hs, b: parameters, ldb: K,
                      beta: 1, c: dinput, ldc: K)
            }
        }

        for c in 0..<C where !clusterRows[c].isEmpty {
            let rows = clusterRows[c]
            let m = rows.count, h = projectionSizes[c], o = clusterSizes[c], o0 = clusterOffsets[c]
            if h == 0 { continue }  // constant logits: no parameter, no input gradient
            let x = state + o0.x, projection = state + o0.projection  // [m, K], [m, h]
            let logits = state + o0.logits, lse = state + o0.logSumExp  // [m, o], [m]
            let dlogits = scratch + n * Hs      // [m, o]
            let dprojection = dlogits + m * o   // [m, h]
            let dx = dprojection + m * h        // [m, K]
            let first = cutoffs[c]
            WorkerPool.shared.forEachShare(of: m, minimumCount: WorkerPool.shared.options.elementwiseMinimum / Swift.max(o, 1)) { share in
                for i in share {
                    let r = rows[i]
                    SoftmaxCrossEntropy.gradientRow(dlogits + i * o, logits: logits + i * o, logSumExp: lse[i],
                                                    target: Int(targets[r]) - first, count: o,
                                                    scale: scale * (mask?[r] ?? 1), accumulate: false)
                }
            }
            let w1 = parameters + projectionOffsets[c], w2 = parameters + outputOffsets[c]  // [h, K], [o, h]
            // dW2[o, h] += dlogitsᵀ · projection; dprojection[m, h] = dlogits · W2
            sgemm(.transpose, .none, m: o, n: h, k: m, a: dlogits, lda: o, b: projection, ldb: h,
                  beta: 1, c: dparameters + outputOffsets[c], ldc: h)
            sgemm(.none, .none, m: m, n: h, k: o, a: dlogits, lda: o, b: w2, ldb: h, beta: 0, c: dprojection, ldc: h)
            // dW1[h, K] += dprojectionᵀ · x; dx[m, K] = dprojection · W1, scattered into dinput.
            sgemm(.transpose, .none, m: h, n: K, k: m, a: dprojection, lda: h, b: x, ldb: K,
                  beta: 1, c: dparameters + projectionOffsets[c], ldc: K)
            if let dinput {
                sgemm(.none, .none, m: m, n: K, k: h, a: dprojection, lda: h, b: w1, ldb: K, beta: 0, c: dx, ldc: K)
                for (i, r) in rows.enumerated() {
                    let src = dx + i * K, dst = dinput + r * K
                    for k in 0..<K { dst[k] += src[k] }
                }
            }
        }
    }

    // MARK: Full distributions

    /// Writes the log-probabilities of all V words for each row (PyTorch's `log_prob`), forward
    /// only: for sampling and generation, where `n` is a few positions. Exact: each row's
    /// `exp` sums to 1 up to rounding.
    public func logProb(
        output: UnsafeMutablePointer<Float>,  // [N, V]
        input: UnsafePointer<Float>,          // [N, K]
        parameters: UnsafePointer<Float>,     // [parameterCount]
        n: Int
    ) {
        guard n > 0 else { return }
        let K = inputSize, V = classCount, S = shortlistSize, Hs = headSize
        let maxH = projectionSizes.max() ?? 0
        let head = UnsafeMutablePointer<Float>.allocate(capacity: n * Hs)         // [N, Hs]
        let projection = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(1, n * maxH))  // [N, h]
        defer { head.deallocate(); projection.deallocate() }

        if let b = headBiasOffset {
            for r in 0..<n { (head + r * Hs).update(from: parameters + b, count: Hs) }
        }
        sgemm(.none, .transpose, m: n, n: Hs, k: K, a: input, lda: K, b: parameters, ldb: K,
              beta: headBiasOffset == nil ? 0 : 1, c: head, ldc: Hs)
        for r in 0..<n {
            let row = head + r * Hs
            let lse = SoftmaxCrossEntropy.logSumExp(row, count: Hs)
            for j in 0..<Hs { row[j] -= lse }
            (output + r * V).update(from: row, count: S)
        }
        for c in 0..<clusterCount {
            let h = projectionSizes[c], o = clusterSizes[c], start = cutoffs[c]
            // output[:, start..<start + o] = (input · W1ᵀ) · W2ᵀ
            if h > 0 {
                sgemm(.none, .transpose, m: n, n: h, k: K, a: input, lda: K, b: parameters + projectionOffsets[c], ldb: K,
                      beta: 0, c: projection, ldc: h)
                sgemm(.none, .transpose, m: n, n: o, k: h, a: projection, lda: h, b: parameters + outputOffsets[c], ldb: h,
                      beta: 0, c: output + start, ldc: V)
            } else {
                for r in 0..<n { (output + r * V + start).update(repeating: 0, count: o) }
            }
            for r in 0..<n {
                let row = output + r * V + start
                let shift = head[r * Hs + S + c] - SoftmaxCrossEntropy.logSumExp(row, count: o)
                for j in 0..<o { row[j] += shift }
            }
        }
    }

    /// Grows a buffer to at least `count` floats (never shrinks).
    private func reserve(_ buffer: inout UnsafeMutablePointer<Float>?, _ capacity: inout Int, _ count: Int) {
        let count = Swift.max(count, 1)
        if count > capacity {
            buffer?.deallocate()
            buffer = .allocate(capacity: count)
            capacity = count
        }
    }
}
