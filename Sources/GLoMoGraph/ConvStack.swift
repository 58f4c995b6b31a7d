import NN

/// A stack of causal convolution blocks: `Conv1d (kernel K, left padding) → LayerNorm → ReLU`,
/// repeated `layers` times, over time-major sequences `[T, B, C]`.
///
/// Parameters (registered under `prefix`, PyTorch layouts): `conv{n}.weight [C, Cin, K]`,
/// `conv{n}.bias [C]`, `norm{n}.weight [C]`, `norm{n}.bias [C]` for n = 0 ..< layers, with
/// Cin = input size for n = 0 and C after. Output step t sees input steps ≤ t only.
final class ConvStack {
    let inputSize: Int
    let channels: Int
    let layers: Int
    let maxRows: Int
    private let store: ParameterStore
    private let convs: [Conv1d]
    private let norm: LayerNorm
    private let convWeight: [ParameterView], convBias: [ParameterView]
    private let normWeight: [ParameterView], normBias: [ParameterView]
    // Activations for the last forward, per layer:
    private let convOut: [UnsafeMutablePointer<Float>]  // [T, B, C] conv output
    private let normOut: [UnsafeMutablePointer<Float>]  // [T, B, C] layer-norm output
    private let mean: [UnsafeMutablePointer<Float>]     // [T·B]
    private let rstd: [UnsafeMutablePointer<Float>]     // [T·B]
    private let act: [UnsafeMutablePointer<Float>]      // [T, B, C] ReLU output (input of the next layer)
    private let dA: UnsafeMutablePointer<Float>         // [T, B, C] scratch
    private let dB: UnsafeMutablePointer<Float>         // [T, B, C] scratch
    private let workspace = BufferArena()

    init(store: ParameterStore, prefix: String, inputSize: Int, channels: Int, layers: Int,
         kernelSize: Int, maxRows: Int) {
        precondition(layers >= 1, "ConvStack: at least one layer")
        self.store = store
        self.inputSize = inputSize
        self.channels = channels
        self.layers = layers
        self.maxRows = maxRows
        var convs: [Conv1d] = [], cw: [ParameterView] = [], cb: [ParameterView] = []
        var nw: [ParameterView] = [], nb: [ParameterView] = []
        for n in 0..<layers {
            let cin = n == 0 ? inputSize : channels
            convs.append(Conv1d(inputChannels: cin, outputChannels: channels, kernelSize: kernelSize))
            cw.append(store.register("\(prefix)conv\(n).weight", shape: [channels, cin, kernelSize]))
            cb.append(store.register("\(prefix)conv\(n).bias", shape: [channels]))
            nw.append(store.register("\(prefix)norm\(n).weight", shape: [channels]))
            nb.append(store.register("\(prefix)norm\(n).bias", shape: [channels]))
        }
        self.convs = convs
        convWeight = cw; convBias = cb; normWeight = nw; normBias = nb
        norm = LayerNorm(size: channels)
        let ws = workspace
        convOut = (0..<layers).map { _ in ws.floats(maxRows * channels) }
        normOut = (0..<layers).map { _ in ws.floats(maxRows * channels) }
        mean = (0..<layers).map { _ in ws.floats(maxRows) }
        rstd = (0..<layers).map { _ in ws.floats(maxRows) }
        act = (0..<layers).map { _ in ws.floats(maxRows * channels) }
        dA = ws.floats(maxRows * channels)
        dB = ws.floats(maxRows * channels)
    }

    /// PyTorch-default initialisation: conv weights and biases uniform in ±1/√(Cin·K);
    /// norm weights 1, biases 0.
    func initialize(rng: inout RNG) {
        for n in 0..<layers {
            let bound = 1 / Float(convs[n].inputChannels * convs[n].kernelSize).squareRoot()
            for v in [convWeight[n], convBias[n]] {
                let p = store.values(v)
                for i in 0..<p.count { p[i] = rng.uniform(-bound, bound) }
            }
            let w = store.values(normWeight[n]), b = store.values(normBias[n])
            for i in 0..<channels { w[i] = 1; b[i] = 0 }
        }
    }

    /// The output of the last forward call, `[T, B, C]`.
    var output: UnsafePointer<Float> { UnsafePointer(act[layers - 1]) }

    func forward(input: UnsafePointer<Float>,  // [T, B, Cin]
                 steps T: Int, batch B: Int) {
        let N = T * B, C = channels
        precondition(N <= maxRows, "ConvStack: \(T)×\(B) rows exceed the preallocated \(maxRows)")
        let p = store.values.baseAddress!
        var x = input
        for n in 0..<layers {
            convs[n].forward(output: convOut[n], input: x, weight: p + convWeight[n].offset,
                             bias: p + convBias[n].offset, steps: T, batch: B)
            norm.forward(output: normOut[n], mean: mean[n], rstd: rstd[n], input: convOut[n],
                         weight: p + normWeight[n].offset, bias: p + normBias[n].offset, n: N)
            let y = normOut[n], a = act[n]
            for r in 0..<N * C { a[r] = max(y[r], 0) }
            x = UnsafePointer(a)
        }
    }

    /// Adds parameter gradients and (if non-nil) the input gradient, given `doutput`.
    func backward(dinput: UnsafeMutablePointer<Float>?,  // [T, B, Cin]
                  doutput: UnsafePointer<Float>,         // [T, B, C]
                  steps T: Int, batch B: Int) {
        let N = T * B, C = channels
        let p = store.values.baseAddress!, g = store.gradients.baseAddress!
        dA.update(from: doutput, count: N * C)  // dA: gradient of act[n]
        for n in stride(from: layers - 1, through: 0, by: -1) {
            let y = normOut[n]
            for r in 0..<N * C where y[r] <= 0 { dA[r] = 0 }  // dA now: gradient of normOut[n]
            dB.update(repeating: 0, count: N * C)
            norm.backward(dinput: dB, dweight: g + normWeight[n].offset, dbias: g + normBias[n].offset,
                          doutput: dA, input: convOut[n], weight: p + normWeight[n].offset,
                          mean: mean[n], rstd: rstd[n], n: N)
            if n > 0 {
                dA.update(repeating: 0, count: N * C)
                convs[n].backward(dinput: dA, dweight: g + convWeight[n].offset, dbias: g + convBias[n].offset,
                                  doutput: dB, weight: p + convWeight[n].offset, steps: T, batch: B)
            } else {
                convs[n].backward(dinput: dinput, dweight: g + convWeight[n].offset, dbias: g + convBias[n].offset,
                                  doutput: dB, weight: p + convWeight[n].offset, steps: T, batch: B)
            }
        }
    }
}
