import Corpus
import Foundation
import NN
import XCTest
@testable import LM

/// `train --resume --epochs N` extends a finished or interrupted run to N epochs, ending where a
/// run started with N epochs ends.
final class ExtendRunTests: TrainerTestCase {
    /// The same run resumed with more epochs: `epochs` given, everything else from the run.
    func extending(_ run: String, to epochs: Int) -> TrainingRequest {
        var r = TrainingRequest(runPath: directory + "/" + run)
        r.resume = true
        r.overrides.epochs = epochs
        r.options.evaluationBatchSize = 2
        return r
    }

    /// Trains 1 epoch to the end (summary.json written), extends it to 2 and compares with a run
    /// started with 2 epochs (one BLAS thread): the final parameters and the best model bitwise,
    /// the train/valid losses of both epochs exactly, the summary and the test sentences.
    func testAFinishedRunExtendedEndsWhereALongerRunEnds() throws {
        let data = try writeCycleCorpus(train: 70)
        let whole = try request(data, run: "whole", epochs: 2, dropout: 0.2, momentum: 0.5, learningRate: 1).prepare()
        guard case .finished(let wholeSummary) = try whole.train() else { return XCTFail("not finished") }

        let short = try request(data, run: "short", epochs: 1, dropout: 0.2, momentum: 0.5, learningRate: 1).prepare()
        guard case .finished(let shortSummary) = try short.train() else { return XCTFail("not finished") }
        XCTAssertEqual(shortSummary.epochs, 1)

        let extended = try extending("short", to: 2).prepare()
        XCTAssertEqual(try extended.run.readConfig().training.epochs, 2, "config.json records the new epoch count")
        XCTAssertFalse(extended.run.isFinished, "the extended run is not finished until its new summary")
        guard case .finished(let summary) = try extended.train() else { return XCTFail("not finished") }
        XCTAssertEqual(summary.epochs, 2)
        XCTAssertEqual(summary.validPerplexity, wholeSummary.validPerplexity)
        XCTAssertEqual(summary.testPerplexity, wholeSummary.testPerplexity)

        XCTAssertEqual(extended.model.store.copyOfValues().map(\.bitPattern), whole.model.store.copyOfValues().map(\.bitPattern),
                       "final parameters differ")
        let bestA = try whole.run.loadModel(config: whole.config, batchSize: 1, maxSteps: 1)
        let bestB = try extended.run.loadModel(config: extended.config, batchSize: 1, maxSteps: 1)
        XCTAssertEqual(bestA.store.copyOfValues().map(\.bitPattern), bestB.store.copyOfValues().map(\.bitPattern), "best models differ")
        // The extended run's log keeps its first test record; the train and valid records agree.
        let ra = try whole.run.readMetrics().records.filter { $0.split != "test" }
        let rb = try extended.run.readMetrics().records.filter { $0.split != "test" }
        XCTAssertEqual(rb.map(\.epoch), [1, 1, 2, 2])
        XCTAssertEqual(ra.map(\.split), rb.map(\.split))
        XCTAssertEqual(ra.map(\.step), rb.map(\.step))
        XCTAssertEqual(ra.map(\.loss), rb.map(\.loss), "losses differ")
        XCTAssertEqual(ra.map(\.lr), rb.map(\.lr), "learning rates differ")
        XCTAssertEqual(try String(contentsOfFile: whole.run.testSentencesPath, encoding: .utf8),
                       try String(contentsOfFile: extended.run.testSentencesPath, encoding: .utf8))
        // The comparison can fail: the 1-epoch run ended elsewhere.
        XCTAssertNotEqual(short.model.store.copyOfValues(), whole.model.store.copyOfValues())
    }

    /// A run interrupted inside epoch 1 of 1, extended to 2 epochs, ends bitwise where a 2-epoch
    /// run ends; with a decaying learning rate the second epoch trains with the decayed rate.
    func testAnInterruptedRunExtendedKeepsTheSchedule() throws {
        let data = try writeCycleCorpus(train: 70)
        func make(_ run: String, _ epochs: Int) -> TrainingRequest {
            var r = request(data, run: run, epochs: epochs, learningRate: 1)
            r.overrides.schedule = .decayAfter(epoch: 1, factor: 0.5)
            return r
        }
        let whole = try make("whole", 2).prepare()
        _ = try whole.train()
        var first = make("parts", 1)
        first.options.stopAfterSteps = 5
        let stopped = try first.prepare()
        XCTAssertEqual(try stopped.train(), .stopped(signal: nil, step: 5))
        let extended = try extending("parts", to: 2).prepare()
        guard case .finished(let summary) = try extended.train() else { return XCTFail("not finished") }
        XCTAssertEqual(summary.epochs, 2)
        XCTAssertEqual(extended.model.store.copyOfValues().map(\.bitPattern), whole.model.store.copyOfValues().map(\.bitPattern))
        let lrs = try extended.run.readMetrics().records.filter { $0.split == "train" }.map(\.lr)
        XCTAssertEqual(lrs, [1, 0.5])
    }

    /// Fewer epochs than are done: one line naming the counts; nothing is changed.
    func testFewerEpochsThanDoneAreRefused() throws {
        let data = try writeCycleCorpus(train: 70)
        _ = try request(data, run: "run", epochs: 2).prepare().train()
        let configBefore = try String(contentsOfFile: directory + "/run/config.json", encoding: .utf8)
        XCTAssertThrowsError(try extending("run", to: 1).prepare()) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("--epochs 1") && message.contains("2 epochs"), message)
            XCTAssertFalse(message.contains("\n"), message)
        }
        XCTAssertEqual(try String(contentsOfFile: directory + "/run/config.json", encoding: .utf8), configBefore)
        XCTAssertTrue(RunDirectory(path: directory + "/run").isFinished)
        // The same count is no change: the finished run stays finished.
        let same = try extending("run", to: 2).prepare()
        guard case .finished(let s) = try same.train() else { return XCTFail("not finished") }
        XCTAssertEqual(s.epochs, 2)
    }

    /// `extend(toEpochs:)` on its own: a run stopped early by `--patience` stays finished.
    func testAnEarlyStoppedRunStaysFinished() throws {
        var training = Preset.tiny.training
        training.epochs = 3
        training.patience = 1
        var schedule = ScheduleState(config: training)
        _ = schedule.endEpoch(validationLoss: 2)
        _ = schedule.endEpoch(validationLoss: 3)
        XCTAssertTrue(schedule.finished)
        var state = ResumeState(schedule: schedule, step: 10)
        try state.extend(toEpochs: 5)
        XCTAssertTrue(state.schedule.finished)
        XCTAssertEqual(state.scheduledEpochs, 5)
        // A run whose epochs ran out continues.
        training.patience = nil
        training.epochs = 1
        var done = ScheduleState(config: training)
        _ = done.endEpoch(validationLoss: 2)
        XCTAssertTrue(done.finished)
        var s = ResumeState(schedule: done, step: 10)
        try s.extend(toEpochs: 2)
        XCTAssertFalse(s.schedule.finished)
    }
}
