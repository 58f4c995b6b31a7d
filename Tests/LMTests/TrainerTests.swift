import Corpus
import Foundation
import NN
import Support
import XCTest
@testable import LM

/// The training loop end to end on a tiny learnable corpus.
final class TrainerTests: TrainerTestCase {
    func testLossFallsOnALearnableCorpusAndEveryRunFileIsWritten() throws {
        let trainer = try request(try writeCycleCorpus(), epochs: 3, learningRate: 20, layers: 1).prepare()
        guard case .finished(let summary) = try trainer.train() else { return XCTFail("the run did not finish") }
        let records = try trainer.run.readMetrics().records
        XCTAssertEqual(records.map(\.split), ["train", "valid", "train", "valid", "train", "valid", "test"])
        let valid = records.filter { $0.split == "valid" }.map(\.ppl)
        let train = records.filter { $0.split == "train" }.map(\.ppl)
        // A uniform guess over the V = 10 ids (8 words, <unk>, <eos>) has perplexity 10; the cycle
        // is nearly deterministic, so a trained model must do far better and keep improving.
        XCTAssertEqual(trainer.vocabulary.count, 10)
        XCTAssertLessThan(valid[2], valid[0])
        XCTAssertLessThan(train[2], train[0])
        // The best epoch (the saved model) is far below uniform. At lr 20 on this tiny corpus the last
        // epochs swing by ~1 (5.4 then 6.4 after a change of rounding alone), so the bound is
        // on the best, not on the last.
        XCTAssertLessThan(valid.min()!, 6, "valid perplexities \(valid)")
        XCTAssertEqual(summary.validPerplexity, valid.min()!)
        XCTAssertEqual(summary.testPerplexity, records.last!.ppl)
        XCTAssertEqual(summary.epochs, 3)
        XCTAssertEqual(summary.parameters, trainer.model.store.count)
        // Steps: ⌈(rows − 1) / bptt⌉ windows per epoch, rows = ⌊tokens / B⌋ (DiscourseBatcher).
        let rows = trainer.trainData.tokenCount / 3
        XCTAssertEqual(records.last!.step, 3 * ((rows - 1 + 4) / 5))
        for file in [trainer.run.configPath, trainer.run.vocabularyPath, trainer.run.modelPath, trainer.run.lastCheckpointPath,
                     trainer.run.metricsPath, trainer.run.summaryPath, trainer.run.testSentencesPath] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: file), file)
        }
        let summaryJSON = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: trainer.run.summaryPath))) as! [String: Any]
        XCTAssertEqual(Set(summaryJSON.keys), ["valid_ppl", "test_ppl", "parameters", "trainable_parameters", "seconds", "epochs", "stop_reason"])
        XCTAssertEqual(summaryJSON["stop_reason"] as? String, "finished 3 epochs")
        // A finished run asked to resume reports its summary and trains no further.
        var again = request(nil, epochs: 3, learningRate: 20, layers: 1)
        again.resume = true
        let resumed = try again.prepare()
        XCTAssertEqual(try resumed.train(), .finished(summary))
        XCTAssertEqual(try resumed.run.readMetrics().records.count, records.count)
    }

    /// A vocabulary file is used as it is: `minCount`/`maxSize` with it are refused, not ignored,
    /// and nothing is created.
    func testVocabularyFileWithMinCountOrMaxSizeIsRefused() throws {
        let data = try writeCycleCorpus()
        let vocabulary = try write("vocab.txt", ["<unk>\t0", "<eos>\t5", "the\t7"])
        for (minCount, maxSize) in [(2, nil), (nil, 10), (2, 10)] as [(Int?, Int?)] {
            var r = request(data, epochs: 1)
            r.vocabularyFile = vocabulary
            r.minCount = minCount
            r.maxSize = maxSize
            XCTAssertThrowsError(try r.prepare()) { error in
                XCTAssertEqual(error as? TrainingSetupError,
                               TrainingSetupError("vocabularyFile excludes minCount and maxSize (they shape a vocabulary built from the training split)",
                                                  fields: ["vocabularyFile", "minCount", "maxSize"]))
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: r.runPath), "nothing is created")
        }
    }

    func testANewRunRefusesAnExistingRunUnlessForced() throws {
        let data = try writeCycleCorpus()
        var r = request(data, epochs: 1)
        _ = try r.prepare().train()
        XCTAssertThrowsError(try r.prepare()) { error in
            XCTAssertTrue("\(error)".hasSuffix("already holds a run (config.json); use --force to replace it or --resume to continue it"), "\(error)")
        }
        r.force = true
        let trainer = try r.prepare()
        XCTAssertFalse(trainer.run.isFinished, "--force removes the old summary.json first")
        XCTAssertFalse(FileManager.default.fileExists(atPath: trainer.run.testSentencesPath))
        XCTAssertEqual(try trainer.run.readMetrics().records.count, 0)
    }

    /// A stop request that arrives during the last epoch's validation stops the run before its
    /// final test, and the stop line says so; it used to name an epoch past the run's last
    /// ("stopped at epoch 2" in a 1-epoch run).
    func testAStopAfterTheLastEpochSaysItIsBeforeTheFinalTest() throws {
        let data = try writeCycleCorpus()
        StopRequest.install()
        defer { StopRequest.uninstall() }
        var lines: [String] = []
        let trainer = try request(data, epochs: 1).prepare(log: { line in
            lines.append(line)
            if line.hasPrefix("epoch 1/1:") { raise(SIGINT) }   // during the last epoch's end
        })
        guard case .stopped(let signal, _) = try trainer.train() else { return XCTFail("not stopped: \(lines)") }
        XCTAssertEqual(signal, SIGINT)
        let stop = try XCTUnwrap(lines.first { $0.hasPrefix("stopped at ") }, "\(lines)")
        XCTAssertTrue(stop.hasPrefix("stopped at the end of epoch 1, before the final test, step "), stop)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/run/summary.json"))
    }

    func testNonFiniteLossStopsWithTheStepNumberAndKeepsTheBestModel() throws {
        var r = request(try writeCycleCorpus(), epochs: 3)
        let perEpoch = try r.prepare().epochWindows(1).windowCount
        r.force = true
        r.options.stopAfterSteps = perEpoch   // epoch 1 ends (best model saved), then it stops
        let first = try r.prepare()
        XCTAssertEqual(try first.train(), .stopped(signal: nil, step: perEpoch))
        let bestBytes = try Data(contentsOf: URL(fileURLWithPath: first.run.modelPath))

        // Finite parameters whose arithmetic overflows (a NaN or infinite one is refused when the
        // checkpoint is read): the top layer's biases 1000 saturate every gate (i = f = o = g = 1),
        // so each of its 10 outputs h = tanh(c) > 0.76; decoder weights 1e38 make every logit
        // 1e38 · Σh > 7.6e38 = inf, and the log-softmax inf − inf = NaN: the first step after
        // resuming sees a NaN loss.
        var file = try SafetensorsFile(contentsOf: first.run.lastCheckpointPath)
        for (name, value) in [("rnn.bias_ih_l1", Float(1000)), ("decoder.weight", 1e38)] {
            let t = file.tensors[name]!
            file.tensors[name] = SafeTensor([Float](repeating: value, count: t.shape.reduce(1, *)), shape: t.shape)
        }
        try file.write(to: first.run.lastCheckpointPath)
        let lastBytes = try Data(contentsOf: URL(fileURLWithPath: first.run.lastCheckpointPath))

        var resume = request(nil, epochs: 3)
        resume.resume = true
        let trainer = try resume.prepare()
        XCTAssertThrowsError(try trainer.train()) { error in
            let e = error as? NonFiniteLossError
            XCTAssertEqual(e?.loss.isNaN, true)
            XCTAssertEqual(e?.step, perEpoch + 1)
            XCTAssertEqual(e?.epoch, 2)
            XCTAssertEqual("\(error)".replacingOccurrences(of: "-nan", with: "nan"),   // (the sign of a NaN is arbitrary)
                           "training stopped: the loss is nan at step \(perEpoch + 1) (epoch 2)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: first.run.modelPath)), bestBytes)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: first.run.lastCheckpointPath)), lastBytes)
        XCTAssertFalse(trainer.run.isFinished)
    }

    func testTrainTokensKeepsWholeSentencesFromTheStart() throws {
        var r = request(try writeCycleCorpus(), epochs: 1)
        r.trainTokens = 40
        let trainer = try r.prepare()
        let full = try CorpusSelection(train: [directory + "/train.txt"], valid: [directory + "/valid.txt"])
            .load(.train, vocabulary: trainer.vocabulary)
        let kept = trainer.trainData
        XCTAssertLessThanOrEqual(kept.tokenCount, 40)
        XCTAssertGreaterThan(kept.tokenCount, 40 - 8)   // sentences have at most 8 tokens
        XCTAssertEqual(kept.ids, Array(full.ids[..<kept.tokenCount]))
        XCTAssertEqual(kept.ids.last, Vocabulary.endOfSentenceID)
        guard case .finished = try trainer.train() else { return XCTFail() }
        XCTAssertEqual(try trainer.run.readMetrics().records.first!.step, (kept.tokenCount / 3 - 1 + 4) / 5)
    }
}
