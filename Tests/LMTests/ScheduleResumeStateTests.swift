import Foundation
import XCTest
@testable import LM

/// The resume state through checkpoint metadata.
final class ScheduleResumeStateTests: XCTestCase {
    func testRoundTripThroughMetadataAndEpochNumbering() throws {
        var schedule = ScheduleState(config: TrainingConfig(bptt: 20, batchSize: 20, learningRate: 20, clip: 0.25,
                                                            schedule: .plateau(factor: 0.25), epochs: 6))
        _ = schedule.endEpoch(validationLoss: 5)
        _ = schedule.endEpoch(validationLoss: 5.5)   // lr 20 → 5
        let state = ResumeState(schedule: schedule, step: 1234, batchInEpoch: 17, tokens: 456_000, elapsedSeconds: 61.5)
        XCTAssertEqual(state.epoch, 3)   // two epochs done, the third in progress
        let metadata = state.metadata
        XCTAssertEqual(Array(metadata.keys), ["resume"])
        XCTAssertTrue(metadata["resume"]!.contains("\"batchInEpoch\":17"), metadata["resume"]!)
        let back = try ResumeState(metadata: metadata.merging(["epoch": "x"]) { a, _ in a }, path: "run/last.safetensors")
        XCTAssertEqual(back, state)
        XCTAssertEqual(back.schedule.learningRate, 5)
    }

    func testMissingOrBadMetadataNamesTheCheckpoint() {
        XCTAssertThrowsError(try ResumeState(metadata: [:], path: "run/last.safetensors")) { error in
            XCTAssertEqual("\(error)", "run/last.safetensors: not a resumable checkpoint (no 'resume' metadata)")
        }
        XCTAssertThrowsError(try ResumeState(metadata: ["resume": "{\"step\":1}"], path: "run/last.safetensors")) { error in
            XCTAssertEqual("\(error)", "run/last.safetensors: bad 'resume' metadata: missing field 'schedule'")
        }
    }

    /// The decimal fields are checked like the counts: a NaN or huge time crashed the epoch's log
    /// line, and a negative one (or a negative best loss or learning rate) gave impossible figures.
    func testNonFiniteOrNegativeAmountsAreRefused() throws {
        var schedule = ScheduleState(config: TrainingConfig(bptt: 20, batchSize: 20, learningRate: 20, clip: 0.25,
                                                            schedule: .plateau(factor: 0.25), epochs: 6))
        _ = schedule.endEpoch(validationLoss: 5)
        var good = ResumeState(schedule: schedule, step: 10, batchInEpoch: 3, tokens: 4000, elapsedSeconds: 6.5)
        good.epochLossSum = 300
        good.epochSeconds = 0.5
        let json = good.metadata["resume"]!
        XCTAssertEqual(try ResumeState(metadata: ["resume": json], path: "r/last.safetensors"), good)
        let cases: [(String, String, String)] = [
            ("\"elapsedSeconds\":6.5", "\"elapsedSeconds\":\"nan\"", "elapsedSeconds nan"),
            ("\"elapsedSeconds\":6.5", "\"elapsedSeconds\":-5", "elapsedSeconds -5.0"),
            ("\"epochSeconds\":0.5", "\"epochSeconds\":\"inf\"", "epochSeconds inf"),
            ("\"epochLossSum\":300", "\"epochLossSum\":-1000000000", "epochLossSum -1000000000.0"),
            ("\"bestValidationLoss\":5", "\"bestValidationLoss\":-1", "schedule.bestValidationLoss -1.0"),
            ("\"learningRate\":20", "\"learningRate\":-20", "schedule.learningRate -20.0"),
        ]
        // A near-certain model's loss, which rounding leaves a hair below 0, still resumes.
        let hair = json.replacingOccurrences(of: "\"bestValidationLoss\":5", with: "\"bestValidationLoss\":-1e-09")
        XCTAssertNotEqual(hair, json)
        XCTAssertEqual(try ResumeState(metadata: ["resume": hair], path: "r/last.safetensors").schedule.bestValidationLoss, -1e-9)
        for (from, to, named) in cases {
            XCTAssertTrue(json.contains(from), "\(from) in \(json)")
            XCTAssertThrowsError(try ResumeState(metadata: ["resume": json.replacingOccurrences(of: from, with: to)], path: "r/last.safetensors")) { error in
                XCTAssertEqual("\(error)", "r/last.safetensors: bad 'resume' metadata: \(named) is not a finite number ≥ 0")
            }
        }
    }
}
