import Corpus
import Foundation
@testable import GLoMoGraph
import NN
import Support
import TestFixtures
import XCTest
@testable import LM

/// `--resume` continues only the run it was stopped in: the same training data (fingerprint in
/// `last.safetensors`) and counters that are a point of this run; models load only when their
/// tensors are exactly those `config.json` implies (issue 17, items 6 and 7).
final class ResumeIntegrityTests: TrainerTestCase {
    /// A run of 2 epochs stopped after 5 steps (inside epoch 1); returns its request and trainer.
    func stoppedRun(_ data: CorpusSelection) throws -> (TrainingRequest, Trainer) {
        var r = request(data, epochs: 2)
        r.options.stopAfterSteps = 5
        let trainer = try r.prepare()
        XCTAssertEqual(try trainer.train(), .stopped(signal: nil, step: 5))
        return (r, trainer)
    }

    /// A resume of `run` with the run's own settings only (as `lmtool train --run R --resume`).
    func flaglessResume(_ run: String = "run", log: @escaping (String) -> Void = { _ in }) throws -> Trainer {
        var r = TrainingRequest(runPath: directory + "/" + run)
        r.resume = true
        return try r.prepare(log: log)
    }

    /// Asserts that a resume throws exactly one line naming `last.safetensors` that contains
    /// `fragment`, and that the checkpoint is left byte for byte as it was.
    func assertResumeRefused(_ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let path = directory + "/run/last.safetensors"
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try flaglessResume(), file: file, line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.hasPrefix(path + ": "), message, file: file, line: line)
            XCTAssertTrue(message.contains(fragment), message, file: file, line: line)
            XCTAssertFalse(message.contains("\n"), message, file: file, line: line)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "last.safetensors must be kept", file: file, line: line)
    }

    /// Rewrites the `ResumeState` in the run's `last.safetensors` with `change`.
    func editResumeState(_ change: (inout ResumeState) -> Void) throws {
        let path = directory + "/run/last.safetensors"
        var file = try SafetensorsFile(contentsOf: path)
        var state = try ResumeState(metadata: file.metadata, path: path)
        change(&state)
        file.metadata = state.metadata
        try file.write(to: path)
    }

    // MARK: - Item 6: the data

    func testResumeOnAShuffledTrainingFileIsRefused() throws {
        let data = try writeCycleCorpus()
        _ = try stoppedRun(data)
        // The same lines (same vocabulary, same counts) in another order.
        try write("train.txt", Array(Self.cycleSentences(120, seed: 1).reversed()))
        try assertResumeRefused("--resume on different training data")
    }

    func testResumeWithConfigPointingAtAnotherFileIsRefused() throws {
        let data = try writeCycleCorpus()
        _ = try stoppedRun(data)
        let other = try write("other.txt", Self.cycleSentences(120, seed: 7))
        let configPath = directory + "/run/config.json"
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: configPath))) as? [String: Any])
        var corpus = try XCTUnwrap(json["corpus"] as? [String: Any])
        corpus["train"] = [other]
        json["corpus"] = corpus
        try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]).write(to: URL(fileURLWithPath: configPath))
        try assertResumeRefused("--resume on different training data")
    }

    func testResumeOnTheSameDataStillWorks() throws {
        let data = try writeCycleCorpus()
        _ = try stoppedRun(data)
        let resumed = try flaglessResume()
        XCTAssertEqual(resumed.state.step, 5)
        XCTAssertEqual(resumed.state.dataFingerprint, resumed.trainData.fingerprint(vocabularyHash: resumed.config.vocabularyHash))
    }

    func testACheckpointWithoutAFingerprintResumesWithAWarning() throws {
        let data = try writeCycleCorpus()
        _ = try stoppedRun(data)
        try editResumeState { $0.dataFingerprint = nil }
        var lines: [String] = []
        let resumed = try flaglessResume(log: { lines.append($0) })
        XCTAssertEqual(resumed.state.step, 5)
        XCTAssertTrue(lines.contains { $0.hasPrefix("warning: \(directory)/run/last.safetensors predates data fingerprints") }, "\(lines)")
        XCTAssertNotNil(resumed.state.dataFingerprint, "recorded from now on")
    }

    /// The schedule and the best model compare validation losses across sessions: a validation
    /// file that changed between the interruption and the resume is refused (it used to be
    /// accepted, and the run compared the new file's loss with the old file's).
    /// A run killed between an epoch's two metrics appends (its `train` record written, its
    /// `valid` record not) gets only the missing record on resume: one record per epoch and
    /// split, as an uninterrupted run writes (old code appended the `train` record again).
    func testAKillBetweenTheTwoMetricsAppendsRecoversOnlyTheMissingRecord() throws {
        let data = try writeCycleCorpus()
        let probe = try request(data, run: "probe", epochs: 1).prepare()
        _ = try probe.train()
        let windows = probe.state.step   // windows in one epoch
        var r = request(data, epochs: 2)
        r.options.stopAfterSteps = windows + 1
        XCTAssertEqual(try r.prepare().train(), .stopped(signal: nil, step: windows + 1))
        let metrics = directory + "/run/metrics.jsonl"
        let lines = try String(contentsOfFile: metrics, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2, "epoch 1: train and valid")
        try (lines[0] + "\n").write(toFile: metrics, atomically: true, encoding: .utf8)   // as if killed after the first append
        guard case .finished = try flaglessResume().train() else { return XCTFail("the resumed run did not finish") }
        let records = try RunDirectory(path: directory + "/run").readMetrics().records
        XCTAssertEqual(records.map { "\($0.epoch) \($0.split)" }, ["1 train", "1 valid", "2 train", "2 valid", "2 test"])
    }

    /// A run whose model.safetensors (the best model so far) is gone is refused when it resumes,
    /// before any training: old code trained every remaining epoch and then failed at the test.
    func testAMissingBestModelIsRefusedBeforeTraining() throws {
        let data = try writeCycleCorpus()
        guard case .finished = try request(data, epochs: 1).prepare().train() else { return XCTFail("the run did not finish") }
        try FileManager.default.removeItem(atPath: directory + "/run/model.safetensors")
        try FileManager.default.removeItem(atPath: directory + "/run/summary.json")
        let checkpoint = try Data(contentsOf: URL(fileURLWithPath: directory + "/run/last.safetensors"))
        var r = TrainingRequest(runPath: directory + "/run")
        r.resume = true
        r.overrides.epochs = 2
        XCTAssertThrowsError(try r.prepare()) { error in
            XCTAssertEqual("\(error)", "\(self.directory)/run/model.safetensors: missing: it holds the run's best model so far (1 epochs validated), so --resume cannot finish the run; start it again with --force")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/run/last.safetensors")), checkpoint)
    }

    /// Stops a run inside epoch 1, rewrites `file` with other sentences over the same words (same
    /// vocabulary, same training data), and asserts the resume is refused with `fragment`,
    /// naming the file.
    func assertResumeRefusedAfterRewriting(_ file: String, seed: UInt64, _ fragment: String, line: UInt = #line) throws {
        _ = try stoppedRun(try writeCycleCorpus())
        try write(file, Self.cycleSentences(20, seed: seed))
        try assertResumeRefused(fragment, line: line)
        XCTAssertThrowsError(try flaglessResume(), line: line) { error in
            XCTAssertTrue("\(error)".contains("\(directory)/\(file) now give"), "\(error)", line: line)
        }
    }

    /// The test split is fingerprinted too: the run's test figure must be of the text it started
    /// with (a relative path resolved from another directory used to test on another file).
    func testResumeOnAChangedTestFileIsRefused() throws {
        try assertResumeRefusedAfterRewriting("test.txt", seed: 11, "--resume on different test data")
        try write("test.txt", Self.cycleSentences(20, seed: 3))   // the original again: resumes
        XCTAssertNoThrow(try flaglessResume())
    }

    func testResumeOnAChangedValidationFileIsRefused() throws {
        try assertResumeRefusedAfterRewriting("valid.txt", seed: 9, "--resume on different validation data")
    }

    func testTheValidationFingerprintIsRecordedAndAnOldCheckpointResumesWithAWarning() throws {
        let data = try writeCycleCorpus()
        _ = try stoppedRun(data)
        let saved = try ResumeState(metadata: SafetensorsFile(contentsOf: directory + "/run/last.safetensors").metadata, path: "last")
        XCTAssertNotNil(saved.validFingerprint)
        XCTAssertNotEqual(saved.validFingerprint, saved.dataFingerprint, "the validation split, not the training split")
        try editResumeState { $0.validFingerprint = nil }
        var lines: [String] = []
        let resumed = try flaglessResume(log: { lines.append($0) })
        XCTAssertEqual(resumed.state.step, 5)
        XCTAssertTrue(lines.contains { $0.hasPrefix("warning: \(directory)/run/last.safetensors predates validation-data fingerprints") }, "\(lines)")
        XCTAssertEqual(resumed.state.validFingerprint, saved.validFingerprint, "recorded from now on")
    }

    func testTheFingerprintDependsOnOrderVocabularyAndSentenceEnds() {
        let a = EncodedCorpus(ids: [1, 2, 0, 3, 0], sentenceEnds: [3, 5])
        let reordered = EncodedCorpus(ids: [3, 0, 1, 2, 0], sentenceEnds: [2, 5])
        let resplit = EncodedCorpus(ids: [1, 2, 0, 3, 0], sentenceEnds: [5])
        let fingerprints = [a.fingerprint(vocabularyHash: "v1"), reordered.fingerprint(vocabularyHash: "v1"),
                            resplit.fingerprint(vocabularyHash: "v1"), a.fingerprint(vocabularyHash: "v2")]
        XCTAssertEqual(Set(fingerprints).count, 4, "\(fingerprints)")
        XCTAssertEqual(a.fingerprint(vocabularyHash: "v1"), a.fingerprint(vocabularyHash: "v1"))
        XCTAssertEqual(fingerprints[0].count, 64)
    }

    // MARK: - Item 6: the counters

    func testAWindowBeyondTheEpochIsRefused() throws {
        let data = try writeCycleCorpus()
        let (_, trainer) = try stoppedRun(data)
        let windows = trainer.epochWindows(1).windowCount
        try editResumeState {
            $0.batchInEpoch = 1_000_000_000
            $0.step = 1_000_000_000
        }
        try assertResumeRefused("window 1000000000 of epoch 1, which has \(windows) windows")
    }

    func testAnEpochBeyondTheRunIsRefused() throws {
        let data = try writeCycleCorpus()
        _ = try stoppedRun(data)
        try editResumeState { $0.schedule.epoch = 1_000_000 }
        try assertResumeRefused("1000000 epochs done, but the run has 2")
    }

    func testAStepThatDoesNotMatchTheWindowIsRefused() throws {
        let data = try writeCycleCorpus()
        _ = try stoppedRun(data)
        try editResumeState { $0.step = 4 }
        try assertResumeRefused("step 4 is not 0 epochs")
    }

    // MARK: - Item 7: models load exactly

    /// Flipping `tieWeights` in config.json: the stored decoder would be ignored; refused.
    func testAModelWhoseConfigSaysTiedButHoldsADecoderIsRefused() throws {
        let data = try writeCycleCorpus()
        var r = request(data, epochs: 1)
        r.overrides.embeddingSize = 10   // = hidden size: tying needs no projection
        r.overrides.tieWeights = false
        guard case .finished = try r.prepare().train() else { return XCTFail("not finished") }
        let configPath = directory + "/run/config.json"
        let text = try String(contentsOfFile: configPath, encoding: .utf8)
        XCTAssertTrue(text.contains("\"tie_weights\" : false"), text)
        try text.replacingOccurrences(of: "\"tie_weights\" : false", with: "\"tie_weights\" : true")
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        let (run, config, _) = try RunDirectory.open(at: directory + "/run")
        XCTAssertThrowsError(try run.loadModel(config: config, batchSize: 1, maxSteps: 4)) { error in
            XCTAssertEqual("\(error)", "\(run.modelPath): unexpected tensor 'decoder.weight' (not a parameter of this model)")
        }
    }

    func testAnExtraTensorInModelOrCheckpointIsRefused() throws {
        let data = try writeCycleCorpus()
        let (_, trainer) = try stoppedRun(data)
        let run = trainer.run
        // model.safetensors is written at an epoch end: train a one-epoch run for it.
        guard case .finished = try request(data, run: "done", epochs: 1).prepare().train() else { return XCTFail("not finished") }
        let done = RunDirectory(path: directory + "/done")
        var model = try SafetensorsFile(contentsOf: done.modelPath)
        model.tensors["extra.weight"] = SafeTensor([Float(1)], shape: [1])
        try model.write(to: done.modelPath)
        let (_, config, _) = try RunDirectory.open(at: done.path)
        XCTAssertThrowsError(try done.loadModel(config: config, batchSize: 1, maxSteps: 4)) { error in
            XCTAssertEqual("\(error)", "\(done.modelPath): unexpected tensor 'extra.weight' (not a parameter of this model)")
        }

        var last = try SafetensorsFile(contentsOf: run.lastCheckpointPath)
        last.tensors["state.h_l7"] = SafeTensor([Float(0)], shape: [1])
        try last.write(to: run.lastCheckpointPath)
        try assertResumeRefused("unexpected tensor 'state.h_l7'")
    }

    /// A GLoMo model directory: model.safetensors must hold exactly the pretraining model's
    /// parameters (the graph user reads a part of them).
    func testAGraphModelWithAnExtraOrMissingTensorIsRefused() throws {
        let path = directory + "/glomo"
        let dir = try writeRandomGraphModel(at: path, tokens: ["<unk>", "<eos>", "the", "cat"])
        XCTAssertNoThrow(try GLoMoModelDirectory.load(at: path))
        let valid = try SafetensorsFile(contentsOf: dir.modelPath)
        var extra = valid
        extra.tensors["graph.layer9.query.weight"] = SafeTensor([Float(0)], shape: [1])
        try extra.write(to: dir.modelPath)
        XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path)) { error in
            XCTAssertEqual("\(error)", "\(dir.modelPath): does not match config.json: unexpected tensor 'graph.layer9.query.weight' (not a parameter of this model)")
        }
        var missing = valid
        missing.tensors["decoder.bias"] = nil
        try missing.write(to: dir.modelPath)
        XCTAssertThrowsError(try GLoMoModelDirectory.load(at: path)) { error in
            XCTAssertEqual("\(error)", "\(dir.modelPath): does not match config.json: checkpoint lacks parameter 'decoder.bias'")
        }
    }

    /// pretrain-glomo's counters are checked against its epoch length and step count as well.
    func testGLoMoPretrainingCountersBeyondTheRunAreRefused() throws {
        func check(_ change: (inout GLoMoPretrainingState) -> Void) throws {
            var s = GLoMoPretrainingState()
            s.epoch = 1; s.batchInEpoch = 2; s.step = 7; s.dataFingerprint = "f"
            change(&s)
            try GLoMoPretrainer.checkResumed(s, fingerprint: "f", batchesPerEpoch: 5, totalSteps: 20, path: "m/last.safetensors")
        }
        XCTAssertNoThrow(try check { _ in })
        XCTAssertNoThrow(try check { $0.dataFingerprint = nil })
        XCTAssertThrowsError(try check { $0.dataFingerprint = "g" }) { XCTAssertTrue("\($0)".hasPrefix("m/last.safetensors: --resume on different training data"), "\($0)") }
        XCTAssertThrowsError(try check { $0.batchInEpoch = 1_000_000_000; $0.step = 1_000_000_005 }) {
            XCTAssertEqual("\($0)", "m/last.safetensors: resume state does not fit this run: batch 1000000000 of an epoch of 5 batches")
        }
        XCTAssertThrowsError(try check { $0.epoch = 1_000_000; $0.step = 5_000_002 }) {
            XCTAssertEqual("\($0)", "m/last.safetensors: resume state does not fit this run: step 5000002 is beyond the run's 20 steps")
        }
        XCTAssertThrowsError(try check { $0.step = 8 }) {
            XCTAssertEqual("\($0)", "m/last.safetensors: resume state does not fit this run: step 8 is not 1 epochs of 5 batches + 2 batches")
        }
        XCTAssertThrowsError(try check { $0.tokens = -1 })
    }

    /// `TrainingCheckpoint.restore` (model.safetensors of LM and domain-classifier runs, the
    /// domain and GLoMo pretraining checkpoints) refuses a tensor that is not a parameter,
    /// optimizer state or random generator.
    func testCheckpointRestoreRefusesATensorThatIsNotPartOfTheModel() throws {
        let store = ParameterStore()
        store.register("w", shape: [2, 3])
        let path = directory + "/m.safetensors"
        let adam = Adam()
        try TrainingCheckpoint.save(to: path, parameters: store, optimizer: adam, rngs: ["dropout": RNG(seed: 1)])
        XCTAssertNoThrow(try TrainingCheckpoint.restore(from: path, parameters: store, optimizer: adam))
        // Without the optimizer, its state is foreign.
        XCTAssertThrowsError(try TrainingCheckpoint.restore(from: path, parameters: store)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(path): unexpected tensor 'optimizer."), "\(error)")
        }
        var file = try SafetensorsFile(contentsOf: path)
        file.tensors["classifier.weight"] = SafeTensor([Float(0)], shape: [1])
        try file.write(to: path)
        XCTAssertThrowsError(try TrainingCheckpoint.restore(from: path, parameters: store, optimizer: adam)) { error in
            XCTAssertEqual("\(error)", "\(path): unexpected tensor 'classifier.weight' (not a parameter or optimizer state of this model)")
        }
    }
}
