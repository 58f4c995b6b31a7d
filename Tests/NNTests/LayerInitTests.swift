import XCTest
@testable import NN

/// Parameter initializers follow PyTorch's default bounds.
final class LayerInitTests: XCTestCase {
    /// All values inside ±bound, and the extremes close to it (the whole range is used).
    func assertUniform(_ v: [Float], bound: Float, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertTrue(v.allSatisfy { abs($0) <= bound }, "outside ±\(bound)", file: file, line: line)
        XCTAssertGreaterThan(v.max()!, 0.9 * bound, file: file, line: line)
        XCTAssertLessThan(v.min()!, -0.9 * bound, file: file, line: line)
    }

    func testInitializerBounds() {
        var rng = RNG(seed: 30)
        let lstm = LSTMStack(inputSize: 6, hiddenSize: 16, numLayers: 2, batchSize: 1, maxSteps: 1)
        var p = [Float](repeating: 9, count: lstm.parameterCount)
        p.withUnsafeMutableBufferPointer { p in
            for (layer, offset) in zip(lstm.layers, lstm.offsets) { layer.initialize(parameters: p.baseAddress! + offset, rng: &rng) }
        }
        assertUniform(p, bound: 0.25)  // 1/√16

        let gru = GRUCell(inputSize: 3, hiddenSize: 25, maxBatch: 1)
        var g = [Float](repeating: 9, count: gru.parameterCount)
        gru.initialize(parameters: &g, rng: &rng)
        assertUniform(g, bound: 0.2)   // 1/√25

        let fc = Linear(inputSize: 100, outputSize: 50)
        var w = [Float](repeating: 9, count: fc.weightCount), b = [Float](repeating: 9, count: 50)
        fc.initialize(weight: &w, bias: &b, rng: &rng)
        assertUniform(w, bound: 0.1); assertUniform(b, bound: 0.1)

        let conv = Conv1d(inputChannels: 4, outputChannels: 30, kernelSize: 4)
        var cw = [Float](repeating: 9, count: conv.weightCount), cb = [Float](repeating: 9, count: 30)
        conv.initialize(weight: &cw, bias: &cb, rng: &rng)
        assertUniform(cw, bound: 0.25); assertUniform(cb, bound: 0.25)

        let emb = Embedding(vocabularySize: 100, embeddingSize: 50)
        var e = [Float](repeating: 9, count: 5000)
        emb.initialize(weight: &e, rng: &rng)
        let mean = e.reduce(0, +) / 5000
        let variance = e.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 5000
        XCTAssertEqual(mean, 0, accuracy: 0.05)
        XCTAssertEqual(variance, 1, accuracy: 0.08)
    }
}
