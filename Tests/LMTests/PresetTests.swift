import XCTest
@testable import LM

/// The presets against the published recipes (Zaremba et al. 2014, TensorFlow ptb_word_lm),
/// with the loss-convention conversion done by hand: lr × BPTT, clip ÷ BPTT.
final class PresetTests: XCTestCase {
    func testSmallAndMediumFollowZaremba() {
        let small = Preset.small.model(vocabularySize: 10_000), smallTraining = Preset.small.training
        XCTAssertEqual([small.embeddingSize, small.hiddenSize, small.layers], [200, 200, 2])
        XCTAssertEqual(small.initRange, 0.1)
        XCTAssertEqual(small.dropout, 0)
        XCTAssertEqual([smallTraining.bptt, smallTraining.batchSize, smallTraining.epochs], [20, 20, 13])
        XCTAssertEqual(smallTraining.learningRate, 1 * 20)
        XCTAssertEqual(smallTraining.clip, 5 / 20, accuracy: 1e-7)
        XCTAssertEqual(smallTraining.schedule, .decayAfter(epoch: 4, factor: 0.5))

        let medium = Preset.medium.model(vocabularySize: 10_000), mediumTraining = Preset.medium.training
        XCTAssertEqual([medium.embeddingSize, medium.hiddenSize, medium.layers], [650, 650, 2])
        XCTAssertEqual(medium.initRange, 0.05)
        XCTAssertEqual(medium.dropout, 0.5)
        XCTAssertEqual([mediumTraining.bptt, mediumTraining.batchSize, mediumTraining.epochs], [35, 20, 39])
        XCTAssertEqual(mediumTraining.learningRate, 35)
        XCTAssertEqual(mediumTraining.clip, 0.143, accuracy: 1e-3)
        XCTAssertEqual(mediumTraining.schedule, .decayAfter(epoch: 6, factor: 0.8))
    }

    func testConfigsRoundTripThroughJSON() throws {
        for preset in Preset.allCases {
            let training = preset.training
            let decoded = try JSONDecoder().decode(TrainingConfig.self, from: try JSONEncoder().encode(training))
            XCTAssertEqual(decoded, training)
            let model = preset.model(vocabularySize: 123)
            XCTAssertEqual(try JSONDecoder().decode(ModelConfig.self, from: try JSONEncoder().encode(model)), model)
        }
    }
}
