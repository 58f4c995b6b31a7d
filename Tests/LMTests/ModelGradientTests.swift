import XCTest
import NN
@testable import LM
import NNTestSupport

/// Finite-difference checks of the whole language model: loss → every parameter's gradient.
final class ModelGradientTests: XCTestCase {
    let T = 3, B = 2
    let inputs: [Int32] = [1, 4, 0, 6, 2, 2]   // [T, B]
    let targets: [Int32] = [4, 0, 6, 2, 5, 3]

    /// The mean loss at `values`, from a zero state, with dropout masks drawn from `seed`.
    func meanLoss(_ model: LanguageModel, _ values: [Float], mask: [Float]?, seed: UInt64, training: Bool) -> Double {
        let v = model.store.values
        for i in 0..<values.count { v[i] = values[i] }
        model.resetState()
        var rng = RNG(seed: seed)
        let (loss, count) = model.forward(inputs: inputs, targets: targets, mask: mask, steps: T, training: training, rng: &rng)
        return loss / Double(count)
    }

    func check(_ config: ModelConfig, mask: [Float]? = nil, training: Bool = false,
               file: StaticString = #filePath, line: UInt = #line) {
        var rng = RNG(seed: 5)
        let model = LanguageModel(config: config, batchSize: B, maxSteps: T, rng: &rng)
        let values = model.store.copyOfValues()
        model.store.zeroGradients()
        _ = meanLoss(model, values, mask: mask, seed: 9, training: training)
        model.backward()
        let analytic = model.store.copyOfGradients()
        XCTAssertTrue(analytic.contains { $0 != 0 }, "gradient is all zero", file: file, line: line)
        let r = GradCheck.compare(values: values, analytic: analytic, eps: 1e-2, rtol: 1e-2, atol: 1e-4) {
            self.meanLoss(model, $0, mask: mask, seed: 9, training: training)
        }
        XCTAssertTrue(r.passed, "\(config): \(r)", file: file, line: line)
    }

    func config(E: Int, H: Int, layers: Int = 2, tie: Bool, dropout: Float = 0) -> ModelConfig {
        ModelConfig(vocabularySize: 7, embeddingSize: E, hiddenSize: H, layers: layers,
                    dropout: dropout, tieWeights: tie, initRange: 0.5)
    }

    func testUntiedTwoLayers() { check(config(E: 3, H: 4, tie: false)) }

    func testUntiedWithMask() { check(config(E: 3, H: 4, tie: false), mask: [1, 1, 1, 0, 1, 0]) }

    func testTiedSameSize() { check(config(E: 4, H: 4, tie: true)) }

    func testTiedWithProjection() { check(config(E: 3, H: 5, layers: 1, tie: true)) }

    /// With the dropout masks fixed (same seed for every evaluation), the gradient is exact too.
    func testWithDropoutAndFixedMasks() { check(config(E: 3, H: 4, tie: false, dropout: 0.3), training: true) }

    func testParameterNamesAndShapes() {
        var rng = RNG(seed: 1)
        let untied = LanguageModel(config: config(E: 3, H: 4, tie: false), batchSize: 1, maxSteps: 1, rng: &rng)
        XCTAssertEqual(untied.store.views.map(\.name),
                       ["encoder.weight",
                        "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                        "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1",
                        "decoder.weight", "decoder.bias"])
        XCTAssertEqual(untied.store["rnn.weight_ih_l0"].shape, [16, 3])
        XCTAssertEqual(untied.store["rnn.weight_ih_l1"].shape, [16, 4])
        XCTAssertEqual(untied.store["decoder.weight"].shape, [7, 4])
        XCTAssertTrue(untied.store.values(untied.store["decoder.bias"]).allSatisfy { $0 == 0 })
        XCTAssertTrue(untied.store.values(untied.store["encoder.weight"]).allSatisfy { abs($0) <= 0.5 })

        let tied = LanguageModel(config: config(E: 3, H: 5, layers: 1, tie: true), batchSize: 1, maxSteps: 1, rng: &rng)
        XCTAssertNil(tied.store.view(named: "decoder.weight"))
        XCTAssertEqual(tied.store["projection.weight"].shape, [3, 5])
        let names = tied.pytorchTensorNames
        XCTAssertEqual(names.map(\.name).suffix(3), ["projection.weight", "decoder.weight", "decoder.bias"])
        XCTAssertEqual(names.first { $0.name == "decoder.weight" }?.view, tied.store["encoder.weight"])
    }
}
