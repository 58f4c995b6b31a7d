import XCTest
@testable import NN
import NNTestSupport

/// A whole small LSTM language-model step, all parameters in one flat buffer:
/// embedding → 2 stacked LSTM layers → linear → masked mean cross-entropy, then every parameter's
/// gradient against finite differences.
final class GradCheckLMStepTests: XCTestCase {
    struct TinyLM {
        let V = 7, E = 3, H = 4, T = 3, B = 2
        let emb: Embedding, lstm: LSTMStack, fc: Linear, ce: SoftmaxCrossEntropy
        let embOffset = 0, lstmOffset: Int, fcWeightOffset: Int, fcBiasOffset: Int, parameterCount: Int

        init() {
            emb = Embedding(vocabularySize: V, embeddingSize: E)
            lstm = LSTMStack(inputSize: E, hiddenSize: H, numLayers: 2, batchSize: B, maxSteps: T)
            fc = Linear(inputSize: H, outputSize: V)
            ce = SoftmaxCrossEntropy(classCount: V)
            lstmOffset = V * E
            fcWeightOffset = lstmOffset + lstm.parameterCount
            fcBiasOffset = fcWeightOffset + V * H
            parameterCount = fcBiasOffset + V
        }

        /// Mean loss over unmasked targets; if `grads` is given, also adds every gradient into it.
        func step(_ p: [Float], ids: [Int32], targets: [Int32], mask: [Float], grads: UnsafeMutablePointer<Float>?) -> Double {
            let N = T * B
            var x = [Float](repeating: 0, count: N * E), h = [Float](repeating: 0, count: N * H)
            var logits = [Float](repeating: 0, count: N * V), lse = [Float](repeating: 0, count: N)
            lstm.resetState()
            return p.withUnsafeBufferPointer { pb in
                let p = pb.baseAddress!
                emb.forward(output: &x, ids: ids, weight: p + embOffset, n: N)
                lstm.forward(output: &h, input: x, parameters: p + lstmOffset, steps: T)
                fc.forward(output: &logits, input: h, weight: p + fcWeightOffset, bias: p + fcBiasOffset, n: N)
                let (loss, count) = ce.forward(logSumExp: &lse, logits: logits, targets: targets, mask: mask, n: N)
                guard let g = grads else { return loss / count }
                var dlogits = [Float](repeating: 0, count: N * V)
                var dh = [Float](repeating: 0, count: N * H), dx = [Float](repeating: 0, count: N * E)
                ce.backward(dlogits: &dlogits, logits: logits, logSumExp: lse, targets: targets, mask: mask,
                            n: N, scale: Float(1 / count))
                fc.backward(dinput: &dh, dweight: g + fcWeightOffset, dbias: g + fcBiasOffset, doutput: dlogits,
                            input: h, weight: p + fcWeightOffset, n: N)
                lstm.backward(dinput: &dx, dparameters: g + lstmOffset, doutput: dh, input: x, parameters: p + lstmOffset)
                emb.backward(dweight: g + embOffset, doutput: dx, ids: ids, n: N)
                return loss / count
            }
        }
    }

    func testEveryParameterGradientOfAnLMStep() {
        let lm = TinyLM()
        var rng = RNG(seed: 21)
        let p = randomArray(lm.parameterCount, &rng, scale: 0.5)
        let ids: [Int32] = [1, 4, 0, 6, 2, 2]       // [T, B]
        let targets: [Int32] = [4, 0, 6, 2, 5, 3]
        let mask: [Float] = [1, 1, 1, 0, 1, 1]
        var g = [Float](repeating: 0, count: lm.parameterCount)
        _ = g.withUnsafeMutableBufferPointer { lm.step(p, ids: ids, targets: targets, mask: mask, grads: $0.baseAddress!) }
        assertGradient("LM step", values: p, analytic: g, eps: 1e-2, rtol: 1e-2, atol: 1e-4) {
            lm.step($0, ids: ids, targets: targets, mask: mask, grads: nil)
        }
        // Embedding rows never looked up (3 and 5) get no gradient; used rows do.
        for row in [3, 5] { XCTAssertTrue(g[row * lm.E..<(row + 1) * lm.E].allSatisfy { $0 == 0 }) }
        XCTAssertTrue(g[1 * lm.E..<2 * lm.E].contains { $0 != 0 })
    }
}
