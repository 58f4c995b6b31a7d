@testable import NN

/// `L` single-layer `LSTM`s stacked as `LanguageModel` stacks them (layer l reads the outputs
/// of layer l − 1; without the LM's dropout), with all parameters in one flat buffer in the
/// order and names of PyTorch's `nn.LSTM(I, H, L)`: the multi-layer LSTM of the fixtures and
/// gradient checks.
final class LSTMStack {
    let layers: [LSTM]
    /// Where each layer's parameters start in the flat buffer.
    let offsets: [Int]
    let parameterCount: Int
    private let outputs: [UnsafeMutablePointer<Float>]   // L × [maxSteps, B, H]
    private let doutputs: [UnsafeMutablePointer<Float>]  // L × [maxSteps, B, H]

    init(inputSize: Int, hiddenSize: Int, numLayers: Int, batchSize: Int, maxSteps: Int) {
        layers = (0..<numLayers).map {
            LSTM(inputSize: $0 == 0 ? inputSize : hiddenSize, hiddenSize: hiddenSize, batchSize: batchSize, maxSteps: maxSteps)
        }
        var offsets: [Int] = [], total = 0
        for lstm in layers { offsets.append(total); total += lstm.parameterCount }
        self.offsets = offsets
        parameterCount = total
        let n = maxSteps * batchSize * hiddenSize
        outputs = layers.map { _ in .allocate(capacity: n) }
        doutputs = layers.map { _ in .allocate(capacity: n) }
    }

    deinit { for p in outputs + doutputs { p.deallocate() } }

    /// PyTorch's names (`weight_ih_l{k}`, …), offsets and shapes in the flat buffer.
    var parameterTensors: [(name: String, offset: Int, shape: [Int])] {
        layers.enumerated().flatMap { l, lstm in
            lstm.parameterTensors.map { (String($0.name.dropLast()) + "\(l)", offsets[l] + $0.offset, $0.shape) }
        }
    }

    func resetState() { for lstm in layers { lstm.resetState() } }

    /// The carried hidden state `[L, B, H]`, settable.
    var hiddenState: [Float] {
        get { layers.flatMap(\.hiddenState) }
        set { for (l, lstm) in layers.enumerated() { lstm.hiddenState = slice(newValue, l) } }
    }

    /// The carried cell state `[L, B, H]`, settable.
    var cellState: [Float] {
        get { layers.flatMap(\.cellState) }
        set { for (l, lstm) in layers.enumerated() { lstm.cellState = slice(newValue, l) } }
    }

    private func slice(_ state: [Float], _ l: Int) -> [Float] {
        let n = layers[l].batchSize * layers[l].hiddenSize
        precondition(state.count == layers.count * n, "LSTMStack: state must be [L, B, H]")
        return Array(state[(l * n)..<((l + 1) * n)])
    }

    /// The top layer's outputs `[T, B, H]`.
    func forward(output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>, parameters: UnsafePointer<Float>, steps T: Int) {
        for (l, lstm) in layers.enumerated() {
            lstm.forward(output: outputs[l], input: l == 0 ? input : UnsafePointer(outputs[l - 1]),
                         parameters: parameters + offsets[l], steps: T)
        }
        let top = layers.count - 1
        output.update(from: outputs[top], count: T * layers[top].batchSize * layers[top].hiddenSize)
    }

    /// Adds the gradients into `dparameters` and (if non-nil) `dinput`, top layer first, as the
    /// LM does (each lower layer's output gradient starts at zero).
    func backward(dinput: UnsafeMutablePointer<Float>?, dparameters: UnsafeMutablePointer<Float>,
                  doutput: UnsafePointer<Float>, input: UnsafePointer<Float>, parameters: UnsafePointer<Float>) {
        var dcurrent = doutput
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            let lstm = layers[l]
            let dbelow: UnsafeMutablePointer<Float>? = l == 0 ? dinput : doutputs[l - 1]
            if l > 0 { doutputs[l - 1].update(repeating: 0, count: lstm.lastSteps * lstm.batchSize * lstm.hiddenSize) }
            lstm.backward(dinput: dbelow, dparameters: dparameters + offsets[l], doutput: dcurrent,
                          input: l == 0 ? input : UnsafePointer(outputs[l - 1]), parameters: parameters + offsets[l])
            if l > 0 { dcurrent = UnsafePointer(doutputs[l - 1]) }
        }
    }
}
