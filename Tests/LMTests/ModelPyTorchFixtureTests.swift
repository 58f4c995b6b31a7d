import Foundation
import XCTest
import NN
@testable import LM
import TestFixtures
import NNTestSupport

/// The model against PyTorch: Fixtures/lm_step.json, written by scripts/make_lm_fixture.py from
/// pytorch/examples' RNNModel (float64 reference over the same float32 weights).
final class ModelPyTorchFixtureTests: XCTestCase {
    struct Fixture: Decodable {
        struct Parameter: Decodable { let shape: [Int]; let values: [Float] }
        struct Case: Decodable {
            let name: String
            let vocabularySize, embeddingSize, hiddenSize, layers, steps, batchSize: Int
            let tieWeights: Bool
            let inputs1, targets1, inputs2, targets2: [Int32]
            let parameters: [String: Parameter]
            let loss1, loss2: Double
            let gradients1: [String: [Double]]
        }
        let cases: [Case]
    }

    func loadFixture() throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/lm_step.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    func testLossAndEveryGradientMatchPyTorch() throws {
        try checkAgainstFixture()
    }

    /// The same on two threads with every split forced (the LSTM's time loop, the GEMMs and the
    /// softmax rows cut between threads even at these small sizes, W_hh through PackedGEMM).
    func testLossAndEveryGradientMatchPyTorchOnTwoThreads() throws {
        try onTwoThreadsSplittingEverything { try checkAgainstFixture() }
    }

    func checkAgainstFixture() throws {
        let fixture = try loadFixture()
        XCTAssertEqual(fixture.cases.map(\.name), ["untied", "tied"])
        for c in fixture.cases {
            let config = ModelConfig(vocabularySize: c.vocabularySize, embeddingSize: c.embeddingSize,
                                     hiddenSize: c.hiddenSize, layers: c.layers, dropout: 0,
                                     tieWeights: c.tieWeights, initRange: 0.1)
            var rng = RNG(seed: 1)
            let model = LanguageModel(config: config, batchSize: c.batchSize, maxSteps: c.steps, rng: &rng)
            // Load PyTorch's state_dict by name; every one of our parameters must be covered.
            XCTAssertEqual(Set(model.store.views.map(\.name)), Set(c.parameters.keys), c.name)
            for (name, p) in c.parameters {
                model.store.set(model.store[name], to: Tensor(shape: p.shape, p.values))
            }
            model.store.zeroGradients()
            let (lossSum1, count1) = model.forward(inputs: c.inputs1, targets: c.targets1, steps: c.steps,
                                                   training: false, rng: &rng)
            XCTAssertEqual(count1, c.steps * c.batchSize)
            let loss1 = lossSum1 / Double(count1)
            XCTAssertEqual(loss1, c.loss1, accuracy: 1e-5 * c.loss1, "\(c.name) loss")
            model.backward()
            for (name, expected) in c.gradients1 {
                let got = model.store.gradient(model.store[name])
                XCTAssertEqual(got.count, expected.count, "\(c.name) \(name)")
                let scale = expected.map(abs).max() ?? 0
                XCTAssertGreaterThan(scale, 0, "\(c.name) \(name): reference gradient is zero")
                var worst = 0.0
                for i in 0..<min(got.count, expected.count) {
                    let err = abs(Double(got[i]) - expected[i]) - 1e-5 * abs(expected[i])
                    worst = max(worst, err / scale)
                }
                XCTAssertLessThan(worst, 1e-5, "\(c.name) \(name): gradient differs from PyTorch")
            }
            // Window 2 starts from window 1's final state.
            let (lossSum2, count2) = model.forward(inputs: c.inputs2, targets: c.targets2, steps: c.steps,
                                                   training: false, rng: &rng)
            XCTAssertEqual(lossSum2 / Double(count2), c.loss2, accuracy: 1e-5 * c.loss2, "\(c.name) loss of window 2")
        }
    }
}
