/// One LSTM layer over time-major sequences, with the semantics and parameter layout of a
/// single-layer PyTorch `nn.LSTM`. Deeper networks stack layers (`LanguageModel` does, with
/// dropout between them): a stack of L of these, each reading the outputs of the one below,
/// is `nn.LSTM(E, H, L)` without dropout.
///
/// Parameters live in one flat buffer owned by the caller, in PyTorch's order and layout:
///
///     weight_ih_l0  [4H, in]     gate rows in the order i, f, g, o
///     weight_hh_l0  [4H, H]
///     bias_ih_l0    [4H]
///     bias_hh_l0    [4H]
///
/// `parameterTensors` lists names, offsets and shapes, so a checkpoint maps 1:1 onto
/// `nn.LSTM(inputSize, hiddenSize)`. For each step t:
///
///     i, f, o = σ(W_i· x_t + b_i· + W_h· h_{t-1} + b_h·),  g = tanh(…)
///     c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
///
/// The forward pass computes the input projections of the whole window as one GEMM
/// `[T·B, in] × [in, 4H]` into rows that start as `b_ih + b_hh`, then per step one recurrent
/// GEMM `[B, H] × [H, 4H]` and one fused pass over the 4H pre-activations (activations, cell
/// and hidden update). It keeps the activated gates, cells and hiddens for backward in caches
/// preallocated for `maxSteps`, so no step allocates. The final (h, c) of each window becomes
/// the initial state of the next one (truncated BPTT: the backward pass does not flow into the
/// previous window); `resetState()` zeroes it.
///
///     let lstm = LSTM(inputSize: 200, hiddenSize: 200, batchSize: 20, maxSteps: 20)
///     var params = [Float](repeating: 0, count: lstm.parameterCount)   // fill with init values
///     lstm.forward(output: h, input: x, parameters: params, steps: 20)    // h [20, 20, 200]
///     lstm.backward(dinput: dx, dparameters: dparams, doutput: dh,
///                   input: x, parameters: params)                        // adds into dx, dparams
public final class LSTM {
    public let inputSize: Int
    public let hiddenSize: Int
    public let batchSize: Int
    public let maxSteps: Int

    /// Steps of the last forward pass (what backward differentiates).
    public private(set) var lastSteps = 0

    // Caches, all preallocated for maxSteps (T = maxSteps, B = batchSize).
    private let gates: UnsafeMutablePointer<Float>   // [T, B, 4H] activated i, f, g, o
    private let hs: UnsafeMutablePointer<Float>      // [T+1, B, H] slot 0 = initial h
    private let cs: UnsafeMutablePointer<Float>      // [T+1, B, H] slot 0 = initial c
    private let tanhCs: UnsafeMutablePointer<Float>  // [T, B, H] tanh(c_t)
    private let hState: UnsafeMutablePointer<Float>  // [B, H] carried between windows
    private let cState: UnsafeMutablePointer<Float>  // [B, H]
    private let biasSum: UnsafeMutablePointer<Float> // [4H] b_ih + b_hh
    private let dgates: UnsafeMutablePointer<Float>  // [T, B, 4H] pre-activation gradients
    private let dh: UnsafeMutablePointer<Float>      // [T, B, H] gradient w.r.t. the output
    private let dc: UnsafeMutablePointer<Float>      // [B, H] gradient w.r.t. c_t, carried back in time
    private let packedWeights: UnsafeMutablePointer<Float>  // W_hh (or, first, W_ih) in PackedGEMM panels
    private let allocations: [UnsafeMutablePointer<Float>]

    public init(inputSize: Int, hiddenSize: Int, batchSize: Int, maxSteps: Int) {
        precondition(inputSize > 0 && hiddenSize > 0 && batchSize > 0 && maxSteps > 0,
                     "LSTM: sizes must be positive")
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.batchSize = batchSize
        self.maxSteps = maxSteps
        let T = maxSteps, B = batchSize, H = hiddenSize
        func alloc(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            return p
        }
        gates = alloc(T * B * 4 * H)
        hs = alloc((T + 1) * B * H)
        cs = alloc((T + 1) * B * H)
        tanhCs = alloc(T * B * H)
        hState = alloc(B * H)
        cState = alloc(B * H)
        biasSum = alloc(4 * H)
        dgates = alloc(T * B * 4 * H)
        dh = alloc(T * B * H)
        dc = alloc(B * H)
        packedWeights = alloc(max(PackedGEMM.packedCount(n: 4 * H, k: H), PackedGEMM.packedCount(n: H, k: 4 * H),
                                  PackedGEMM.packedCount(n: 4 * H, k: inputSize)))
        allocations = [gates, hs, cs, tanhCs, hState, cState, biasSum, dgates, dh, dc, packedWeights]
    }

    deinit { for p in allocations { p.deallocate() } }

    // MARK: Parameter layout

    /// Offsets of the tensors in the flat parameter buffer.
    public struct Offsets: Sendable {
        public var weightIH: Int  // [4H, in]
        public var weightHH: Int  // [4H, H]
        public var biasIH: Int    // [4H]
        public var biasHH: Int    // [4H]
    }

    /// Where the tensors start in the flat parameter buffer.
    public var offsets: Offsets {
        let H = hiddenSize
        let whh = 4 * H * inputSize, bih = whh + 4 * H * H
        return Offsets(weightIH: 0, weightHH: whh, biasIH: bih, biasHH: bih + 4 * H)
    }

    /// Total number of parameters.
    public var parameterCount: Int { 4 * hiddenSize * (inputSize + hiddenSize + 2) }

    /// PyTorch names (of a single-layer `nn.LSTM`), offsets and shapes of every tensor in the
    /// flat parameter buffer.
    public var parameterTensors: [(name: String, offset: Int, shape: [Int])] {
        let H = hiddenSize, o = offsets
        return [("weight_ih_l0", o.weightIH, [4 * H, inputSize]),
                ("weight_hh_l0", o.weightHH, [4 * H, H]),
                ("bias_ih_l0", o.biasIH, [4 * H]),
                ("bias_hh_l0", o.biasHH, [4 * H])]
    }

    /// Fills `parameters [parameterCount]` as PyTorch initializes `nn.LSTM`: every entry
    /// uniform in [-1/√H, 1/√H).
    public func initialize(parameters: UnsafeMutablePointer<Float>, rng: inout RNG) {
        let bound = 1 / Float(hiddenSize).squareRoot()
        for k in 0..<parameterCount { parameters[k] = rng.uniform(-bound, bound) }
    }

    // MARK: State

    /// Zeroes the carried (h, c) (start of a new sequence).
    public func resetState() {
        let n = batchSize * hiddenSize
        hState.update(repeating: 0, count: n)
        cState.update(repeating: 0, count: n)
    }

    /// The carried hidden state `[B, H]` (the last forward's final h), settable.
    public var hiddenState: [Float] {
        get { Array(UnsafeBufferPointer(start: hState, count: batchSize * hiddenSize)) }
        set {
            precondition(newValue.count == batchSize * hiddenSize, "LSTM: hidden state must be [B, H]")
            hState.update(from: newValue, count: newValue.count)
        }
    }

    /// The carried cell state `[B, H]`, settable.
    public var cellState: [Float] {
        get { Array(UnsafeBufferPointer(start: cState, count: batchSize * hiddenSize)) }
        set {
            precondition(newValue.count == batchSize * hiddenSize, "LSTM: cell state must be [B, H]")
            cState.update(from: newValue, count: newValue.count)
        }
    }

    // MARK: Forward

    /// Runs `steps` time steps from the carried state, writes the hiddens to `output`, keeps
    /// what backward needs and carries the final state.
    ///
    /// With `rowIndependent` every product goes through `PackedGEMM` (the input projections
    /// through `rowIndependentMultiplyAdd`, the recurrence through the packed weights at any
    /// window size), so each batch column's outputs depend on that column's inputs and state
    /// alone, bitwise, whatever the batch size, the column's place in it or the thread count:
    /// what scoring several documents as columns needs (`LanguageModel.evaluate`).
    public func forward(
        output: UnsafeMutablePointer<Float>,  // [T, B, H]
        input: UnsafePointer<Float>,          // [T, B, in]
        parameters: UnsafePointer<Float>,     // [parameterCount]
        steps T: Int,
        rowIndependent: Bool = false
    ) {
        precondition(T > 0 && T <= maxSteps, "LSTM: \(T) steps, but 1...\(maxSteps) allowed")
        lastSteps = T
        let B = batchSize, H = hiddenSize, G = 4 * H, o = offsets
        hs.update(from: hState, count: B * H)
        cs.update(from: cState, count: B * H)
        for j in 0..<G { biasSum[j] = parameters[o.biasIH + j] + parameters[o.biasHH + j] }
        // Input projections of the whole window: [T·B, 4H] = [T·B, in] × W_ihᵀ + (b_ih + b_hh),
        // as a Linear layer (its rows start as the bias and the GEMM accumulates), so the
        // gate math needs no bias.
        Linear(inputSize: inputSize, outputSize: G).forward(output: gates, input: input, weight: parameters + o.weightIH,
                                                            bias: biasSum, n: T * B,
                                                            rowIndependentScratch: rowIndependent ? packedWeights : nil)
        forwardSteps(gates: gates, hs: hs, cs: cs, tanhCs: tanhCs, weightHH: parameters + o.weightHH, steps: T,
                     packed: rowIndependent || usePackedWeights(steps: T))
        hState.update(from: hs + T * B * H, count: B * H)
        cState.update(from: cs + T * B * H, count: B * H)
        output.update(from: hs + B * H, count: T * B * H)
    }

    // MARK: The time loops

    /// The recurrence of one layer over a window, on the threads of `WorkerPool.shared`: per
    /// step, `gates_t [B, 4H] += h_{t-1} [B, H] × W_hhᵀ` (through `PackedGEMM` on long windows)
    /// and the fused gate math. With enough batch rows (`splitsRows`) each thread runs the whole
    /// window on its own rows, after one barrier for the packing; otherwise each step's 4H
    /// columns are split between the threads, a barrier, the gate math with the batch rows
    /// split, and a barrier (h_t is then whole for the next step). Products too small to split
    /// run on the caller alone.
    private func forwardSteps(
        gates gl: UnsafeMutablePointer<Float>,  // [T, B, 4H] in: input projections + biases; out: activated
        hs hl: UnsafeMutablePointer<Float>,     // [T+1, B, H] slot 0 = initial h
        cs cl: UnsafeMutablePointer<Float>,     // [T+1, B, H] slot 0 = initial c
        tanhCs tl: UnsafeMutablePointer<Float>, // [T, B, H]
        weightHH: UnsafePointer<Float>,         // [4H, H]
        steps T: Int,
        packed usePacked: Bool
    ) {
        let B = batchSize, H = hiddenSize, G = 4 * H
        let packed = usePacked ? packedWeights : nil
        WorkerPool.shared.runSplitting(GEMMSplit(m: B, n: G, k: H, options: WorkerPool.shared.options) != nil) { member in
            if let packed, LSTM.splitsRows(batch: B, threads: member.count) {
                // The threads pack a share of the panels each, then every thread multiplies its
                // rows by all of them: a row's recurrence needs its own h_{t-1} alone.
                PackedGEMM.pack(packed, b: weightHH, ldb: H, transB: .transpose, k: H, n: G,
                                columns: member.share(of: G, alignment: PackedGEMM.panelWidth))
                member.sync()
                let rows = member.share(of: B), r = rows.lowerBound
                for t in 0..<T {
                    let gt = gl + t * B * G + r * G
                    PackedGEMM.multiplyAdd(c: gt, ldc: G, a: hl + t * B * H + r * H, lda: H, packed: packed,
                                           m: rows.count, k: H, n: G, columns: 0..<G)
                    LSTM.gatesForward(gates: gt, cNext: cl + (t + 1) * B * H + r * H, hNext: hl + (t + 1) * B * H + r * H,
                                      tanhC: tl + t * B * H + r * H, cPrev: cl + t * B * H + r * H,
                                      B: rows.count, H: H)
                }
                return
            }
            let cols = member.share(of: G, alignment: GEMMSplit.columnAlignment), rows = member.share(of: B)
            // Each thread packs (and only uses) the panels of its own columns.
            if let packed { PackedGEMM.pack(packed, b: weightHH, ldb: H, transB: .transpose, k: H, n: G, columns: cols) }
            for t in 0..<T {
                let gt = gl + t * B * G  // [B, 4H]
                if let packed {
                    PackedGEMM.multiplyAdd(c: gt, ldc: G, a: hl + t * B * H, lda: H, packed: packed,
                                           m: B, k: H, n: G, columns: cols)
                } else {
                    sgemmOneThread(.none, .transpose, m: B, n: cols.count, k: H, a: hl + t * B * H, lda: H,
                                   b: weightHH + cols.lowerBound * H, ldb: H, beta: 1, c: gt + cols.lowerBound, ldc: G)
                }
                member.sync()
                let r = rows.lowerBound
                LSTM.gatesForward(gates: gt + r * G, cNext: cl + (t + 1) * B * H + r * H, hNext: hl + (t + 1) * B * H + r * H,
                                  tanhC: tl + t * B * H + r * H, cPrev: cl + t * B * H + r * H,
                                  B: rows.count, H: H)
                member.sync()
            }
        }
    }

    /// Whether a window of `steps` multiplies by W_hh through `PackedGEMM` (packed once per
    /// window, each thread its own columns) rather than OpenBLAS: when the packing is spread over
    /// enough steps and rows (`lstmPackedMinimumRows` of the pool's options; not for
    /// generation's one step of one row).
    func usePackedWeights(steps: Int) -> Bool { steps * batchSize >= WorkerPool.shared.options.lstmPackedMinimumRows }

    /// Whether a time loop with packed weights on `threads` threads splits the batch rows for
    /// the whole window (`lstmRowsPerThread` rows per thread or more) rather than each step's
    /// columns. Both give every number the same bits: a `PackedGEMM` row's result does not
    /// depend on which rows are multiplied with it, and the gate math is per row.
    static func splitsRows(batch: Int, threads: Int) -> Bool {
        threads > 1 && batch >= threads * Swift.max(1, WorkerPool.shared.options.lstmRowsPerThread)
    }

    /// Backpropagation through the recurrence of one layer, on the threads of
    /// `WorkerPool.shared`: per step (last first), the fused gate backward and
    /// `dh_{t-1} [B, H] += dgates_t [B, 4H] × W_hh`. As in `forwardSteps`, either each thread
    /// takes its own batch rows for the whole window (`splitsRows`), or the gate backward splits
    /// the rows, a barrier, the product splits the H columns, and a barrier. Fills
    /// `dgates [T, B, 4H]`; `dh` and `dc` as in `backward`.
    private func backwardSteps(
        gates gl: UnsafePointer<Float>,         // [T, B, 4H] activated
        cs cl: UnsafePointer<Float>,            // [T+1, B, H]
        tanhCs tl: UnsafePointer<Float>,        // [T, B, H]
        weightHH: UnsafePointer<Float>,         // [4H, H]
        steps T: Int
    ) {
        let B = batchSize, H = hiddenSize, G = 4 * H
        let dgates = self.dgates, dh = self.dh, dc = self.dc
        let packed = usePackedWeights(steps: T) ? packedWeights : nil
        WorkerPool.shared.runSplitting(GEMMSplit(m: B, n: H, k: G, options: WorkerPool.shared.options) != nil) { member in
            if let packed, LSTM.splitsRows(batch: B, threads: member.count) {
                PackedGEMM.pack(packed, b: weightHH, ldb: H, transB: .none, k: G, n: H,
                                columns: member.share(of: H, alignment: PackedGEMM.panelWidth))
                member.sync()
                let rows = member.share(of: B), r = rows.lowerBound
                for t in stride(from: T - 1, through: 0, by: -1) {
                    LSTM.gatesBackward(dgates: dgates + t * B * G + r * G, dc: dc + r * H, dh: dh + t * B * H + r * H,
                                       gates: gl + t * B * G + r * G, tanhC: tl + t * B * H + r * H,
                                       cPrev: cl + t * B * H + r * H, B: rows.count, H: H)
                    guard t > 0 else { break }
                    PackedGEMM.multiplyAdd(c: dh + (t - 1) * B * H + r * H, ldc: H, a: dgates + t * B * G + r * G, lda: G,
                                           packed: packed, m: rows.count, k: G, n: H, columns: 0..<H)
                }
                return
            }
            let cols = member.share(of: H, alignment: GEMMSplit.columnAlignment), rows = member.share(of: B)
            let r = rows.lowerBound
            if let packed { PackedGEMM.pack(packed, b: weightHH, ldb: H, transB: .none, k: G, n: H, columns: cols) }
            for t in stride(from: T - 1, through: 0, by: -1) {
                LSTM.gatesBackward(dgates: dgates + t * B * G + r * G, dc: dc + r * H, dh: dh + t * B * H + r * H,
                                   gates: gl + t * B * G + r * G, tanhC: tl + t * B * H + r * H,
                                   cPrev: cl + t * B * H + r * H, B: rows.count, H: H)
                guard t > 0 else { break }
                member.sync()
                // dh_{t-1} += dgates_t [B, 4H] × W_hh [4H, H]
                if let packed {
                    PackedGEMM.multiplyAdd(c: dh + (t - 1) * B * H, ldc: H, a: dgates + t * B * G, lda: G,
                                           packed: packed, m: B, k: G, n: H, columns: cols)
                } else {
                    sgemmOneThread(.none, .none, m: B, n: cols.count, k: G, a: dgates + t * B * G, lda: G,
                                   b: weightHH + cols.lowerBound, ldb: H, beta: 1, c: dh + (t - 1) * B * H + cols.lowerBound, ldc: H)
                }
                member.sync()
            }
        }
    }

    /// The fused pointwise kernel of one step: activations, cell and hidden update.
    @inline(__always)
    static func gatesForward(
        gates: UnsafeMutablePointer<Float>,  // [B, 4H] in: pre-activations (biases included); out: i, f, g, o
        cNext: UnsafeMutablePointer<Float>,  // [B, H]
        hNext: UnsafeMutablePointer<Float>,  // [B, H]
        tanhC: UnsafeMutablePointer<Float>,  // [B, H]
        cPrev: UnsafePointer<Float>,         // [B, H]
        B: Int, H: Int
    ) {
        for b in 0..<B {
            let g = gates + b * 4 * H
            let cp = cPrev + b * H, cn = cNext + b * H, hn = hNext + b * H, tc = tanhC + b * H
            var j = 0
            while j + 8 <= H {  // eight units at a time (explicit SIMD: the streams might alias)
                let ig = FastMath.sigmoid(FastMath.load8(g + j))
                let fg = FastMath.sigmoid(FastMath.load8(g + H + j))
                let gg = FastMath.tanh(FastMath.load8(g + 2 * H + j))
                let og = FastMath.sigmoid(FastMath.load8(g + 3 * H + j))
                let c = fg * FastMath.load8(cp + j) + ig * gg
                let th = FastMath.tanh(c)
                FastMath.store8(ig, g + j); FastMath.store8(fg, g + H + j)
                FastMath.store8(gg, g + 2 * H + j); FastMath.store8(og, g + 3 * H + j)
                FastMath.store8(c, cn + j); FastMath.store8(th, tc + j); FastMath.store8(og * th, hn + j)
                j += 8
            }
            while j < H {
                let ig = FastMath.sigmoid(g[j])
                let fg = FastMath.sigmoid(g[H + j])
                let gg = FastMath.tanh(g[2 * H + j])
                let og = FastMath.sigmoid(g[3 * H + j])
                g[j] = ig; g[H + j] = fg; g[2 * H + j] = gg; g[3 * H + j] = og
                let c = fg * cp[j] + ig * gg
                let th = FastMath.tanh(c)
                cn[j] = c; tc[j] = th; hn[j] = og * th
                j += 1
            }
        }
    }

    // MARK: Backward

    /// Backpropagates through the last forward window: adds the gradients with respect to the
    /// parameters into `dparameters` and, if `dinput` is non-nil, with respect to the input.
    /// `input` and `parameters` must be the ones given to that forward call.
    public func backward(
        dinput: UnsafeMutablePointer<Float>?,  // [T, B, in]
        dparameters: UnsafeMutablePointer<Float>, // [parameterCount]
        doutput: UnsafePointer<Float>,         // [T, B, H]
        input: UnsafePointer<Float>,           // [T, B, in]
        parameters: UnsafePointer<Float>       // [parameterCount]
    ) {
        let T = lastSteps
        precondition(T > 0, "LSTM: backward before forward")
        let B = batchSize, H = hiddenSize, G = 4 * H, I = inputSize, o = offsets
        dh.update(from: doutput, count: T * B * H)
        dc.update(repeating: 0, count: B * H)
        backwardSteps(gates: gates, cs: cs, tanhCs: tanhCs, weightHH: parameters + o.weightHH, steps: T)
        // Weight gradients over the whole window.
        sgemm(.transpose, .none, m: G, n: I, k: T * B, a: dgates, lda: G, b: input, ldb: I,
              beta: 1, c: dparameters + o.weightIH, ldc: I)
        sgemm(.transpose, .none, m: G, n: H, k: T * B, a: dgates, lda: G, b: hs, ldb: H,
              beta: 1, c: dparameters + o.weightHH, ldc: H)
        addColumnSums(dparameters + o.biasIH, dgates, rows: T * B, columns: G)
        addColumnSums(dparameters + o.biasHH, dgates, rows: T * B, columns: G)
        // Gradient with respect to the input.
        if let dinput {
            sgemm(.none, .none, m: T * B, n: I, k: G, a: dgates, lda: G,
                  b: parameters + o.weightIH, ldb: I, beta: 1, c: dinput, ldc: I)
        }
    }

    /// The fused pointwise backward of one step: from dh_t and dc_{t+1} to the pre-activation
    /// gradients, carrying dc back to dc_t·f (the gradient reaching c_{t-1}).
    @inline(__always)
    static func gatesBackward(
        dgates: UnsafeMutablePointer<Float>,  // [B, 4H]
        dc: UnsafeMutablePointer<Float>,      // [B, H] in: from step t+1; out: to step t-1
        dh: UnsafePointer<Float>,             // [B, H]
        gates: UnsafePointer<Float>,          // [B, 4H] activated i, f, g, o
        tanhC: UnsafePointer<Float>,          // [B, H]
        cPrev: UnsafePointer<Float>,          // [B, H]
        B: Int, H: Int
    ) {
        for b in 0..<B {
            let g = gates + b * 4 * H, dg = dgates + b * 4 * H
            let dcb = dc + b * H, dhb = dh + b * H, tc = tanhC + b * H, cp = cPrev + b * H
            var j = 0
            while j + 8 <= H {
                let ig = FastMath.load8(g + j), fg = FastMath.load8(g + H + j)
                let gg = FastMath.load8(g + 2 * H + j), og = FastMath.load8(g + 3 * H + j)
                let th = FastMath.load8(tc + j), dht = FastMath.load8(dhb + j)
                let dct = FastMath.load8(dcb + j) + dht * og * (1 - th * th)
                FastMath.store8(dct * gg * ig * (1 - ig), dg + j)
                FastMath.store8(dct * FastMath.load8(cp + j) * fg * (1 - fg), dg + H + j)
                FastMath.store8(dct * ig * (1 - gg * gg), dg + 2 * H + j)
                FastMath.store8(dht * th * og * (1 - og), dg + 3 * H + j)
                FastMath.store8(dct * fg, dcb + j)
                j += 8
            }
            while j < H {
                let ig = g[j], fg = g[H + j], gg = g[2 * H + j], og = g[3 * H + j]
                let th = tc[j], dht = dhb[j]
                let dct = dcb[j] + dht * og * (1 - th * th)
                dg[j] = dct * gg * ig * (1 - ig)
                dg[H + j] = dct * cp[j] * fg * (1 - fg)
                dg[2 * H + j] = dct * ig * (1 - gg * gg)
                dg[3 * H + j] = dht * th * og * (1 - og)
                dcb[j] = dct * fg
                j += 1
            }
        }
    }
}
