import Corpus
import Foundation
import GLoMoGraph
import NN
import TestFixtures
import XCTest
@testable import LM

/// `--resume` ends exactly where an uninterrupted run ends.
final class TrainerResumeTests: TrainerTestCase {
    /// Trains `request` without interruption in `run: "whole"`, and again in `run: "parts"`
    /// stopped after each of `stops` steps and resumed (the last session runs to the end);
    /// compares the final parameters bitwise and the metrics exactly.
    func assertResumeIsExact(_ make: (String) -> TrainingRequest, stops: [Int], flaglessResume: Bool,
                             file: StaticString = #filePath, line: UInt = #line) throws {
        let whole = try make("whole").prepare()
        guard case .finished(let wholeSummary) = try whole.train() else { return XCTFail("not finished", file: file, line: line) }

        var parts: Trainer?
        var stepsSoFar = 0
        for (session, stop) in (stops.map { Optional($0) } + [nil]).enumerated() {
            var r = make("parts")
            if session > 0 {
                r.resume = true
                if flaglessResume {   // only the run directory: everything else comes from the run
                    let options = r.options
                    r = TrainingRequest(runPath: r.runPath)
                    r.resume = true
                    r.options = options
                }
            }
            r.options.stopAfterSteps = stop
            let trainer = try r.prepare()
            let outcome = try trainer.train()
            if let stop {
                stepsSoFar += stop
                XCTAssertEqual(outcome, .stopped(signal: nil, step: stepsSoFar), file: file, line: line)
                XCTAssertNotEqual(trainer.state.batchInEpoch, 0, "stop \(stop) should fall inside an epoch", file: file, line: line)
            } else {
                guard case .finished(let summary) = outcome else { return XCTFail("not finished", file: file, line: line) }
                XCTAssertEqual(summary.validPerplexity, wholeSummary.validPerplexity, file: file, line: line)
                XCTAssertEqual(summary.testPerplexity, wholeSummary.testPerplexity, file: file, line: line)
            }
            parts = trainer
        }
        let a = whole.model.store.copyOfValues(), b = parts!.model.store.copyOfValues()
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "final parameters differ", file: file, line: line)
        let bestA = try whole.run.loadModel(config: whole.config, batchSize: 1, maxSteps: 1)
        let bestB = try parts!.run.loadModel(config: parts!.config, batchSize: 1, maxSteps: 1)
        XCTAssertEqual(bestA.store.copyOfValues().map(\.bitPattern), bestB.store.copyOfValues().map(\.bitPattern),
                       "best models differ", file: file, line: line)
        let ra = try whole.run.readMetrics().records, rb = try parts!.run.readMetrics().records
        XCTAssertEqual(ra.map(\.split), rb.map(\.split), file: file, line: line)
        XCTAssertEqual(ra.map(\.step), rb.map(\.step), file: file, line: line)
        XCTAssertEqual(ra.map(\.loss), rb.map(\.loss), "losses differ", file: file, line: line)
        XCTAssertEqual(try String(contentsOfFile: whole.run.testSentencesPath, encoding: .utf8),
                       try String(contentsOfFile: parts!.run.testSentencesPath, encoding: .utf8), file: file, line: line)
        // The comparison can fail: an uninterrupted run with another seed ends elsewhere.
        var other = make("other")
        other.overrides.seed = 99
        let o = try other.prepare()
        _ = try o.train()
        XCTAssertNotEqual(o.model.store.copyOfValues(), a, file: file, line: line)
    }

    func testDiscourseResumeInTheMiddleOfEpochsIsBitwiseIdentical() throws {
        let data = try writeCycleCorpus(train: 70)
        // Dropout (random generator), SGD momentum (optimizer state) and the carried LSTM state
        // must all be restored for the runs to agree.
        try assertResumeIsExact({ self.request(data, run: $0, epochs: 2, dropout: 0.2, momentum: 0.5, learningRate: 1) },
                                stops: [10, 20], flaglessResume: false)
    }

    /// The same on two threads with every split forced: the parallel paths are deterministic for
    /// a given thread count, so a resumed run still ends bitwise where an uninterrupted one does.
    func testDiscourseResumeOnTwoThreadsIsBitwiseIdentical() throws {
        try onTwoThreadsSplittingEverything { try testDiscourseResumeInTheMiddleOfEpochsIsBitwiseIdentical() }
    }

    func testDiscourseResumeWithGLoMoIsBitwiseIdentical() throws {
        // Besides the above, the carried GLoMo context (state.glomo_* in last.safetensors) and the
        // per-token mixer's parameters must be restored; a flagless resume takes --glomo from the run.
        let data = try writeCycleCorpus(train: 70)
        let graphs = try writeRandomGraphModel(at: directory + "/glomo", tokens: ["<unk>", "<eos>", "the", "cat", "sat", "on", "mat"])
        let make = { (run: String) -> TrainingRequest in
            var r = self.request(data, run: run, epochs: 2, dropout: 0.2, momentum: 0.5, learningRate: 1)
            r.glomo = RunConfig.GLoMoUse(path: graphs.path, contentHash: "", on: .hidden, weights: .perToken)
            return r
        }
        let probe = try make("probe").prepare()
        XCTAssertEqual(probe.model.glomo?.config.weighting, .perToken)
        XCTAssertEqual(probe.config.glomo?.weights, .perToken)
        XCTAssertNotNil(probe.model.store.view(named: "glomo.mix.weight"))
        try assertResumeIsExact(make, stops: [10, 20], flaglessResume: true)
    }

    /// With an adaptive softmax (its cutoffs chosen from the vocabulary's counts) and GLoMo
    /// graphs on the hidden states: a resumed run ends bitwise where an uninterrupted one does,
    /// and a flagless resume takes the softmax from the run's config.json.
    func testDiscourseResumeWithAdaptiveSoftmaxAndGLoMoIsBitwiseIdentical() throws {
        let data = try writeCycleCorpus(train: 70)
        let graphs = try writeRandomGraphModel(at: directory + "/glomo", tokens: ["<unk>", "<eos>", "the", "cat", "sat", "on", "mat"])
        let make = { (run: String) -> TrainingRequest in
            var r = self.request(data, run: run, epochs: 2, dropout: 0.2, momentum: 0.5, learningRate: 1)
            r.overrides.softmax = .adaptive(cutoffs: nil)
            r.glomo = RunConfig.GLoMoUse(path: graphs.path, contentHash: "", on: .hidden)
            return r
        }
        let probe = try make("probe").prepare()
        // 10 ids whose counts (<unk> 0, then the words about evenly) put 80% of the tokens in 8 ids.
        XCTAssertEqual(probe.config.model.softmax, .adaptive(cutoffs: [8]))
        XCTAssertNotNil(probe.model.store.view(named: "decoder.tail.0.1.weight"))
        XCTAssertNil(probe.model.store.view(named: "decoder.weight"))
        try assertResumeIsExact(make, stops: [10, 20], flaglessResume: true)
    }

    /// Sentence batching (padded, masked positions) with explicit cutoffs and Adam.
    func testSentenceResumeWithAdaptiveSoftmaxIsBitwiseIdentical() throws {
        let data = try writeCycleCorpus(train: 60)
        let make = { (run: String) -> TrainingRequest in
            var r = self.request(data, run: run, epochs: 2, batching: .sentence, dropout: 0.1, optimizer: .adam, learningRate: 0.01)
            r.overrides.softmax = .adaptive(cutoffs: [3, 6])
            return r
        }
        try assertResumeIsExact(make, stops: [7, 15], flaglessResume: false)
    }

    func testSentenceResumeInsideALongBatchIsBitwiseIdentical() throws {
        // Sentences of up to 8 tokens with BPTT 5: a batch takes two windows, and a stop after an
        // odd number of steps falls between them (the state carried inside the batch is restored).
        let data = try writeCycleCorpus(train: 60)
        let make = { self.request(data, run: $0, epochs: 2, batching: .sentence, dropout: 0.1, optimizer: .adam, learningRate: 0.01) }
        // Stops on windows that continue a batch (they do not reset the state), one in each epoch.
        let probe = try make("probe").prepare()
        let first = probe.epochWindows(1), second = probe.epochWindows(2)
        let a = try XCTUnwrap((10..<first.windowCount).first { !first.window($0).resetsState })
        let b = try XCTUnwrap((5..<second.windowCount).first { !second.window($0).resetsState })
        try assertResumeIsExact(make, stops: [a, first.windowCount - a + b], flaglessResume: true)
    }

    func testResumeWithDifferentSettingsIsRefused() throws {
        let data = try writeCycleCorpus()
        var r = request(data, epochs: 2)
        r.options.stopAfterSteps = 5
        _ = try r.prepare().train()
        var changed = request(data, epochs: 2, learningRate: 7)
        changed.resume = true
        XCTAssertThrowsError(try changed.prepare()) { error in
            XCTAssertEqual("\(error)", "\(directory)/run/config.json: --resume with a different configuration: training.learning_rate 5 → 7")
        }
        var tokens = request(data, epochs: 2)
        tokens.resume = true
        tokens.trainTokens = 50
        XCTAssertThrowsError(try tokens.prepare()) { error in
            XCTAssertEqual("\(error)", "\(directory)/run/last.safetensors: --resume with a different --train-tokens: (all) → 50")
        }
        var empty = TrainingRequest(runPath: directory + "/nothing-here")
        empty.resume = true
        XCTAssertThrowsError(try empty.prepare()) { error in
            XCTAssertEqual("\(error)", "\(directory)/nothing-here: not a run directory (no config.json)")
        }
    }

    /// `checkpointEvery` saves last.safetensors inside an epoch; a run resumed from such a save
    /// (as after a crash) continues from that window.
    func testTimedCheckpointsInsideAnEpochCanBeResumed() throws {
        let data = try writeCycleCorpus(train: 40)
        var r = request(data, epochs: 1)
        r.options.checkpointEvery = 1e-9   // after every step
        var lines: [String] = []
        let trainer = try r.prepare(log: { lines.append($0) })
        let windows = trainer.epochWindows(1).windowCount
        // Stand in for a crash: copy the checkpoint the timed save left after step 3.
        let copy = directory + "/step3.safetensors"
        trainer.log = { line in
            lines.append(line)
            if line.contains("at step 3 ") { try? FileManager.default.copyItem(atPath: trainer.run.lastCheckpointPath, toPath: copy) }
        }
        _ = try trainer.train()
        XCTAssertEqual(lines.filter { $0.hasPrefix("saved ") }.count, windows - 1, "one timed save after every step but the epoch's last")
        XCTAssertTrue(lines.contains("saved \(trainer.run.lastCheckpointPath) at step 3 (epoch 1, window 3 of \(windows))"), "\(lines)")
        try FileManager.default.removeItem(atPath: trainer.run.lastCheckpointPath)
        try FileManager.default.moveItem(atPath: copy, toPath: trainer.run.lastCheckpointPath)
        var resume = request(data, epochs: 1)
        resume.resume = true
        let resumed = try resume.prepare()
        XCTAssertEqual(resumed.state.step, 3)
        XCTAssertEqual(resumed.state.batchInEpoch, 3)
        guard case .finished = try resumed.train() else { return XCTFail("not finished") }
        XCTAssertEqual(resumed.model.store.copyOfValues().map(\.bitPattern), trainer.model.store.copyOfValues().map(\.bitPattern))
    }

    func testCheckpointHoldsTheCarriedStateAndRestoresIt() throws {
        let trainer = try request(try writeCycleCorpus(), epochs: 1).prepare()
        let model = trainer.model
        var rng = RNG(seed: 5)
        for lstm in model.lstms {
            lstm.hiddenState = (0..<lstm.hiddenState.count).map { _ in rng.uniform(-1, 1) }
            lstm.cellState = (0..<lstm.cellState.count).map { _ in rng.uniform(-1, 1) }
        }
        let saved = model.lstms.map { ($0.hiddenState, $0.cellState) }
        let path = directory + "/state.safetensors"
        try LMResumeCheckpoint.save(to: path, model: model, optimizer: trainer.optimizer, rng: rng, state: trainer.state)
        let file = try SafetensorsFile(contentsOf: path)
        XCTAssertEqual(file.tensors["state.h_l1"]?.shape, [3, 10])
        model.resetState()
        let (back, _) = try LMResumeCheckpoint.restore(from: path, model: model, optimizer: trainer.optimizer)
        XCTAssertEqual(back.state, rng.state)
        for (lstm, s) in zip(model.lstms, saved) {
            XCTAssertEqual(lstm.hiddenState, s.0)
            XCTAssertEqual(lstm.cellState, s.1)
        }
        // A checkpoint without the carried state is refused with the file's name.
        var stripped = file
        stripped.tensors["state.c_l0"] = nil
        try stripped.write(to: path)
        XCTAssertThrowsError(try LMResumeCheckpoint.restore(from: path, model: model, optimizer: trainer.optimizer)) { error in
            XCTAssertEqual("\(error)", "\(path): no F32 tensor 'state.c_l0' of shape [3, 10] (the carried LSTM state)")
        }
    }
}
