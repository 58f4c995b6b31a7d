import Support
import XCTest
import NN
import Corpus
@testable import Embeddings

/// `patience` in domain-classifier training: the separable corpus reaches its best valid
/// accuracy within a few epochs and cannot beat it (1.0, or a plateau), so training stops early.
final class DomainEarlyStoppingTests: XCTestCase {
    func testPatienceStopsEarlyAndSaysWhy() throws {
        let dir = try TempDir()
        let trainer = try makeDomainTrainer(dir, name: "run", epochs: 12, patience: 2)
        var lines: [String] = []
        let logged = DomainClassifierTrainer(run: trainer.run, config: trainer.config, vocabulary: trainer.vocabulary,
                                             data: trainer.data) { lines.append($0) }
        guard case .finished(let summary) = try logged.train(resume: false) else { return XCTFail("not finished") }
        XCTAssertEqual(summary.stopped, "patience")
        XCTAssertLessThan(summary.epochs, 12)
        // Recomputed from the validation curve: the best epoch is the first with the highest
        // accuracy, and exactly 2 epochs follow it.
        let metrics = try trainer.run.readMetrics()
        let accuracies = metrics.map { $0.validAccuracy! }
        let best = accuracies.firstIndex(of: accuracies.max()!)! + 1
        XCTAssertEqual(summary.bestEpoch, best)
        XCTAssertEqual(summary.epochs, best + 2)
        XCTAssertEqual(metrics.map(\.epoch), Array(1...(best + 2)))
        XCTAssertEqual(summary.validAccuracy, accuracies.max())
        XCTAssertTrue(lines.contains { $0.hasPrefix("early stop:") }, "\(lines)")
        XCTAssertEqual(try trainer.run.readJSON(DomainRunSummary.self, from: trainer.run.summaryPath).stopped, "patience")

        // Without patience every epoch is trained, and the summary says so.
        let plain = try makeDomainTrainer(dir, name: "plain", epochs: 2)
        guard case .finished(let s) = try plain.train(resume: false) else { return XCTFail("not finished") }
        XCTAssertEqual(s.stopped, "epochs")
        XCTAssertEqual(s.epochs, 2)
    }

    /// Stopped inside the first epoch after the best one and resumed: the same stop and bitwise
    /// the same parameters as an uninterrupted run (the counter is the epochs since the best,
    /// which last.safetensors records).
    func testResumeKeepsThePatienceCounter() throws {
        let dir = try TempDir()
        let straight = try makeDomainTrainer(dir, name: "straight", epochs: 12, patience: 2)
        guard case .finished(let a) = try straight.train(resume: false) else { return XCTFail("not finished") }
        XCTAssertEqual(a.stopped, "patience")

        // 8 batches per epoch: a limit of 8·(best + 1) + 2 steps stops before batch 3 of the second epoch after the best.
        let stopAt = 8 * (a.bestEpoch + 1) + 3
        let first = try makeDomainTrainer(dir, name: "stopped", epochs: 12, patience: 2)
        guard case .stopped(nil, let epoch, _) = try first.train(resume: false, stop: SessionStop(stepLimit: stopAt - 1)) else {
            return XCTFail("expected a stop")
        }
        XCTAssertEqual(epoch, a.bestEpoch + 1)
        let (run, config, vocab) = try DomainRunDirectory.open(at: dir.path("stopped"))
        let resumed = DomainClassifierTrainer(run: run, config: config, vocabulary: vocab, data: first.data)
        guard case .finished(let b) = try resumed.train(resume: true) else { return XCTFail("not finished") }
        XCTAssertEqual(b.stopped, "patience")
        XCTAssertEqual(b.epochs, a.epochs)
        XCTAssertEqual(b.bestEpoch, a.bestEpoch)
        XCTAssertEqual(b.testAccuracy, a.testAccuracy)
        let x = try SafetensorsFile(contentsOf: straight.run.lastCheckpointPath)
        let y = try SafetensorsFile(contentsOf: resumed.run.lastCheckpointPath)
        for view in straight.model.parameters.views {
            XCTAssertEqual(x.tensors[view.name], y.tensors[view.name], view.name)
        }
        XCTAssertEqual(FileManager.default.contents(atPath: straight.run.modelPath), FileManager.default.contents(atPath: resumed.run.modelPath))
    }
}
