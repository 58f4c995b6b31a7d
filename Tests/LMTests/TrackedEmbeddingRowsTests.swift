@testable import NN
import XCTest
@testable import LM

/// The LM's untied embedding has its gradient rows tracked (`ParameterStore.trackGradientRows`),
/// so clipping and SGD skip the rows a window did not touch: training must be bitwise what it is
/// with every row visited.
final class TrackedEmbeddingRowsTests: XCTestCase {
    /// Trains `steps` windows (zero, forward, backward, clip 0.25, SGD lr 20, as the trainer)
    /// and returns the values; `dense` forgets the noted rows after each backward pass, so every
    /// pass visits every row.
    func train(_ config: ModelConfig, dense: Bool, steps: Int = 4) -> [Float] {
        let T = 3, B = 2, V = config.vocabularySize
        var rng = RNG(seed: 21)
        let model = LanguageModel(config: config, batchSize: B, maxSteps: T, rng: &rng)
        var data = RNG(seed: 8)
        let sgd = SGD()
        for _ in 0..<steps {
            // Few distinct ids per window, so most of the table is untouched.
            let ids = (0..<(T * B + B)).map { _ in Int32(data.int(below: V)) }
            model.store.zeroGradients()
            _ = model.forward(inputs: Array(ids[0..<(T * B)]), targets: Array(ids[B...]), steps: T, training: true, rng: &rng)
            model.backward()
            if dense { model.store.forgetGradientRows() }
            model.store.clipGradientNorm(maxNorm: 0.25)
            sgd.step(model.store, learningRate: 20)
        }
        return model.store.copyOfValues()
    }

    func testTrackedRowsTrainBitwiseAsDense() {
        let full = ModelConfig(vocabularySize: 40, embeddingSize: 5, hiddenSize: 6, layers: 2, dropout: 0.2, initRange: 0.5)
        var adaptive = full
        adaptive.softmax = .adaptive(cutoffs: [10, 25], divValue: 2)
        for config in [full, adaptive] {
            let tracked = train(config, dense: false), dense = train(config, dense: true)
            let differing = tracked.indices.filter { tracked[$0].bitPattern != dense[$0].bitPattern }
            XCTAssertEqual(differing.count, 0, "\(config.softmax as Any): first differing element \(differing.first ?? -1)")
        }
    }

    /// The tracking is on for an untied trainable embedding (so the test above compares two
    /// different paths) and off for a tied one (the decoder writes every row).
    func testTrackedOnlyWhenUntied() {
        var rng = RNG(seed: 1)
        let untied = LanguageModel(config: ModelConfig(vocabularySize: 40, embeddingSize: 5, hiddenSize: 6, layers: 1,
                                                       dropout: 0, initRange: 0.5), batchSize: 2, maxSteps: 3, rng: &rng)
        let tied = LanguageModel(config: ModelConfig(vocabularySize: 40, embeddingSize: 5, hiddenSize: 6, layers: 1,
                                                     dropout: 0, tieWeights: true, initRange: 0.5), batchSize: 2, maxSteps: 3, rng: &rng)
        for (model, isTracked) in [(untied, true), (tied, false)] {
            model.store.zeroGradients()
            _ = model.forward(inputs: [1, 2, 3, 4, 5, 6], targets: [3, 4, 5, 6, 7, 8], steps: 3, training: true, rng: &rng)
            model.backward()
            let all = 0..<model.store.count
            XCTAssertEqual(model.store.gradientSegments(of: all) != [all], isTracked)
        }
    }
}
