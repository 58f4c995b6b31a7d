import Foundation
import XCTest
@testable import LM

/// Learning rates worked out by hand from the schedule definitions.
final class ScheduleTests: XCTestCase {
    func testDecayAfterClosedForm() {
        let s = TrainingConfig.Schedule.decayAfter(epoch: 4, factor: 0.5)
        // Epochs 1…4 at 20, then 10, 5, 2.5.
        XCTAssertEqual((1...7).map { ScheduleState.learningRate(epoch: $0, base: 20, schedule: s) },
                       [20, 20, 20, 20, 10, 5, 2.5])
        XCTAssertEqual(ScheduleState.learningRate(epoch: 9, base: 20, schedule: .constant), 20)
    }

    func testDecayAfterIgnoresValidationLoss() {
        var state = ScheduleState(config: config(.decayAfter(epoch: 2, factor: 0.5), epochs: 5))
        var rates = [state.learningRate]
        for loss in [5.0, 6.0, 7.0, 4.0] { rates.append(state.endEpoch(validationLoss: loss).learningRate) }
        XCTAssertEqual(rates, [20, 20, 10, 5, 2.5])
        XCTAssertEqual(state.bestValidationLoss, 4.0)
        XCTAssertNil(state.stopReason)
    }

    func testPlateauDividesByFourWhenNotStrictlyBetter() {
        var state = ScheduleState(config: config(.plateau(factor: 0.25), epochs: 10))
        let losses = [5.0, 4.0, 4.0, 4.5, 3.0]   // improve, improve, equal (no), worse (no), improve
        let decisions = losses.map { state.endEpoch(validationLoss: $0) }
        XCTAssertEqual(decisions.map(\.improved), [true, true, false, false, true])
        XCTAssertEqual(decisions.map(\.learningRate), [20, 20, 5, 1.25, 1.25])
        XCTAssertEqual(state.epoch, 5)
        XCTAssertEqual(state.epochsWithoutImprovement, 0)
    }

    func testEarlyStoppingWithPatience() {
        var state = ScheduleState(config: config(.constant, epochs: 10, patience: 2))
        XCTAssertNil(state.endEpoch(validationLoss: 3).stopReason)
        XCTAssertNil(state.endEpoch(validationLoss: 3.5).stopReason)
        let d = state.endEpoch(validationLoss: 3.1)
        XCTAssertEqual(state.epochsWithoutImprovement, 2)
        XCTAssertTrue(state.finished)
        XCTAssertEqual(d.stopReason, "early stop: validation loss has not improved for 2 epochs")
    }

    func testStopsAfterTheConfiguredEpochs() {
        var state = ScheduleState(config: config(.constant, epochs: 2))
        XCTAssertFalse(state.endEpoch(validationLoss: 3).stopReason != nil)
        XCTAssertEqual(state.endEpoch(validationLoss: 2).stopReason, "finished 2 epochs")
    }

    func testNaNValidationLossIsNeverAnImprovement() {
        var state = ScheduleState(config: config(.plateau(factor: 0.5), epochs: 5))
        XCTAssertFalse(state.endEpoch(validationLoss: .nan).improved)
        XCTAssertNil(state.bestValidationLoss)
        XCTAssertEqual(state.learningRate, 10)
    }

    func testStateRoundTripsThroughJSONAndContinuesIdentically() throws {
        var a = ScheduleState(config: config(.plateau(factor: 0.25), epochs: 10, patience: 3))
        _ = a.endEpoch(validationLoss: 5)
        _ = a.endEpoch(validationLoss: 6)
        var b = try JSONDecoder().decode(ScheduleState.self, from: JSONEncoder().encode(a))
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.endEpoch(validationLoss: 7), b.endEpoch(validationLoss: 7))
        XCTAssertEqual(b.learningRate, 1.25)
        XCTAssertEqual(b.epochsWithoutImprovement, 2)
        // Through checkpoint metadata as well.
        XCTAssertEqual(try ScheduleState(metadataValue: a.metadataValue), a)
        XCTAssertTrue(a.metadataValue.contains("\"bestValidationLoss\":5"), a.metadataValue)
        XCTAssertThrowsError(try ScheduleState(metadataValue: "{}"))
    }

    func testNonFiniteLossNamesTheStep() {
        XCTAssertNoThrow(try NonFiniteLossError.check(4.2, step: 7))
        XCTAssertThrowsError(try NonFiniteLossError.check(.nan, step: 1234, epoch: 2)) { error in
            XCTAssertEqual("\(error)", "training stopped: the loss is nan at step 1234 (epoch 2)")
        }
        XCTAssertThrowsError(try NonFiniteLossError.check(.infinity, step: 5)) { error in
            XCTAssertEqual("\(error)", "training stopped: the loss is inf at step 5")
        }
    }

    private func config(_ schedule: TrainingConfig.Schedule, epochs: Int, patience: Int? = nil) -> TrainingConfig {
        TrainingConfig(bptt: 20, batchSize: 20, learningRate: 20, clip: 0.25, schedule: schedule, epochs: epochs, patience: patience)
    }
}
