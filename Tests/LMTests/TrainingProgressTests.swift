import XCTest
@testable import LM

/// What `Trainer` reports through `TrainingProgress` (the CLI draws it; here it is recorded).
final class TrainingProgressTests: TrainerTestCase {
    final class Recorder: TrainingProgress {
        var snapshots: [ProgressSnapshot] = []
        var finishes = 0
        func update(_ snapshot: ProgressSnapshot, now: Double) { snapshots.append(snapshot) }
        func finish() { finishes += 1 }
    }

    func testEveryStepIsReportedAndEachEpochEndsItsLine() throws {
        let trainer = try request(try writeCycleCorpus(), epochs: 2, layers: 1).prepare()
        let recorder = Recorder()
        trainer.progress = recorder
        guard case .finished = try trainer.train() else { return XCTFail("the run did not finish") }
        // ⌈(rows − 1) / bptt⌉ windows per epoch, rows = ⌊tokens / B⌋ (B = 3, bptt = 5).
        let rows = trainer.trainData.tokenCount / 3
        let windows = (rows - 1 + 4) / 5
        XCTAssertEqual(recorder.snapshots.count, 2 * windows)
        XCTAssertEqual(recorder.snapshots.map(\.epoch), Array(repeating: 1, count: windows) + Array(repeating: 2, count: windows))
        XCTAssertTrue(recorder.snapshots.allSatisfy { $0.epochs == 2 && $0.loss.isFinite && $0.tokensDone > 0 })
        for epoch in [1, 2] {
            let ofEpoch = recorder.snapshots.filter { $0.epoch == epoch }
            XCTAssertEqual(ofEpoch.map(\.tokensDone), ofEpoch.map(\.tokensDone).sorted(), "tokens only grow within an epoch")
            XCTAssertEqual(ofEpoch.last!.tokensDone, ofEpoch.last!.tokensTotal, "the last step of epoch \(epoch) is at 100%")
        }
        XCTAssertGreaterThanOrEqual(recorder.finishes, 2, "the line is ended before each epoch's validation")
    }
}
