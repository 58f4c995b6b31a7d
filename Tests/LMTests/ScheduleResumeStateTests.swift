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
}
