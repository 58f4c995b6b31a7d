import Corpus
import Foundation
import FuzzSupport
import NN
import Support
import XCTest
@testable import LM

/// The files of a run directory damaged by `ByteMutator` (bit flips, JSON-significant bytes,
/// numbers grown past Int or replaced by edge values, minus signs, deletions, duplications, a
/// cut end): each loads or is rejected with a one-line error naming the file, never a trap.
final class RunFilesFuzzTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "lm-run-fuzz-\(UUID().uuidString)"
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func vocabulary() throws -> Vocabulary {
        try Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat"], counts: [1, 2, 5, 3])
    }

    /// A run with a saved model: the default embedding, or a pretrained `concat` table whose
    /// (absent) file lies inside the run directory.
    func makeRun(_ name: String, pretrained: Bool) throws -> (RunDirectory, RunConfig) {
        let v = try vocabulary()
        var config = RunConfig(model: ModelConfig(vocabularySize: 4, embeddingSize: 3, hiddenSize: 5, layers: 1, dropout: 0.1, initRange: 0.1),
                               training: Preset.tiny.training, corpus: .init(train: ["t.txt"]),
                               tokenization: TokenizationOptions(), vocabularyHash: v.contentHash)
        if pretrained {
            config.inputRepresentation = .init(kind: .pretrained, path: directory + "/" + name + "/emb.vec", contentHash: "ab",
                                               frozen: true, mode: .concat, dimension: 2)
        }
        let run = try RunDirectory.create(at: directory + "/" + name, config: config, vocabulary: v)
        var rng = RNG(seed: 7)
        try run.saveModel(try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 2, rng: &rng), config: config)
        return (run, config)
    }

    func assertOneLineNaming(_ error: Error, _ prefix: String, _ trial: Int, file: StaticString = #filePath, line: UInt = #line) {
        let text = "\(error)"
        XCTAssertTrue(text.hasPrefix(prefix), "trial \(trial): \(text)", file: file, line: line)
        XCTAssertFalse(text.contains("\n"), "trial \(trial): \(text)", file: file, line: line)
    }

    /// config.json (and now and then model.safetensors) damaged: `RunDirectory.open` then
    /// `loadModel` (what `lmtool evaluate`/`sample` do) loads or throws a one-line error naming a
    /// file of the run; nothing traps or allocates by a damaged size. Models too large to build
    /// quickly in a test are only read and checked.
    func testMutatedRunConfigAndModelAreRejectedOrLoadNeverACrash() throws {
        let runs = [try makeRun("random", pretrained: false), try makeRun("concat", pretrained: true)]
        let valid = try runs.map { (run, _) in
            (config: Array(try Data(contentsOf: URL(fileURLWithPath: run.configPath))),
             model: Array(try Data(contentsOf: URL(fileURLWithPath: run.modelPath))))
        }
        var mutator = ByteMutator(seed: 2026)
        var forwardRNG = RNG(seed: 1)
        var loaded = 0, readOnly = 0, rejected = 0
        for trial in 0..<1000 {
            let which = trial % 2
            let run = runs[which].0
            var config = mutator.mutate(valid[which].config, rounds: 1 + mutator.pick(4)), model = valid[which].model
            if mutator.pick(4) == 0 { config = valid[which].config }
            if mutator.pick(6) == 0 {
                if mutator.pick(2) == 0 { model.removeSubrange(mutator.pick(model.count)..<model.count) } else { model[mutator.pick(model.count)] ^= 0xFF }
            }
            try Data(config).write(to: URL(fileURLWithPath: run.configPath))
            try Data(model).write(to: URL(fileURLWithPath: run.modelPath))
            do {
                let (opened, c, _) = try RunDirectory.open(at: run.path)
                let m = c.model, D = Double(c.inputRepresentation.dimension ?? 0)
                let size = Double(m.vocabularySize) * (Double(m.embeddingSize) + Double(m.hiddenSize) + D)
                    + Double(m.layers) * 4 * Double(m.hiddenSize) * (Double(m.embeddingSize) + Double(m.hiddenSize))
                if size > 20_000 { readOnly += 1; continue }
                let lm = try opened.loadModel(config: c, batchSize: 1, maxSteps: 2)
                _ = lm.forward(inputs: [1, 2], targets: [2, 3], mask: nil, steps: 2, training: false, rng: &forwardRNG)
                loaded += 1
            } catch {
                rejected += 1
                assertOneLineNaming(error, run.path + "/", trial)
            }
        }
        XCTAssertGreaterThan(loaded, 100)
        XCTAssertGreaterThan(rejected, 300)
        print("run config fuzz: \(loaded) loaded, \(readOnly) read (too large to build here), \(rejected) rejected")
    }

    /// metrics.jsonl damaged: `readMetrics` returns records or throws a one-line error naming
    /// the file and line; a file that reads keeps every record through `appendMetrics`.
    func testMutatedMetricsAreRejectedOrReadNeverACrash() throws {
        let (run, _) = try makeRun("metrics", pretrained: false)
        for (i, loss) in [5.0, .nan, .infinity].enumerated() {
            try run.appendMetrics(MetricsRecord(epoch: i + 1, step: 10 * (i + 1), split: i == 1 ? "train" : "valid", loss: loss, lr: 20,
                                                tokensPerSecond: 1000.5, elapsedSeconds: 3, wallTime: "2026-11-22T04:40:00Z"))
        }
        let valid = Array(try Data(contentsOf: URL(fileURLWithPath: run.metricsPath)))
        var mutator = ByteMutator(seed: 7)
        var read = 0, rejected = 0
        let extra = MetricsRecord(epoch: 9, step: 99, split: "test", loss: 4, lr: 1, tokensPerSecond: 0, elapsedSeconds: 1,
                                  wallTime: "2026-11-22T04:40:00Z")
        for trial in 0..<2000 {
            try Data(mutator.mutate(valid, rounds: 1 + mutator.pick(4))).write(to: URL(fileURLWithPath: run.metricsPath))
            do {
                let log = try run.readMetrics()
                read += 1
                if trial % 4 == 0 {
                    try run.appendMetrics(extra)
                    let after = try run.readMetrics()
                    XCTAssertEqual(after.records.count, log.records.count + 1, "trial \(trial)")
                    XCTAssertEqual(after.records.last, extra, "trial \(trial)")
                    XCTAssertNil(after.tornLastLine, "trial \(trial)")
                }
            } catch {
                rejected += 1
                assertOneLineNaming(error, run.metricsPath + ":", trial)
            }
        }
        XCTAssertGreaterThan(read, 200)
        XCTAssertGreaterThan(rejected, 500)
        print("metrics fuzz: \(read) read, \(rejected) rejected")
    }

    /// last.safetensors damaged (its `resume` metadata JSON mutated, tensors removed or of
    /// another shape): `LMResumeCheckpoint.restore` restores or throws a one-line error naming the
    /// file, and what it restores leaves the trainer's counters room to count on.
    func testMutatedResumeCheckpointsAreRejectedOrRestoredNeverACrash() throws {
        let (run, config) = try makeRun("resume", pretrained: false)
        var rng = RNG(seed: 3)
        let model = try RunDirectory.makeModel(config: config, batchSize: 2, maxSteps: 3, rng: &rng)
        let optimizer = Adam()
        model.store.zeroGradients()
        optimizer.step(model.store, learningRate: 0.01)
        var state = ResumeState(schedule: ScheduleState(config: config.training), step: 12, batchInEpoch: 3, tokens: 180, elapsedSeconds: 2.5)
        state.epochTargets = 60
        state.trainTokens = 500
        state.lastEpochRecords = [MetricsRecord(epoch: 1, step: 12, split: "valid", loss: .nan, lr: 20, tokensPerSecond: 1,
                                                elapsedSeconds: 2, wallTime: "2026-11-22T04:40:00Z")]
        try LMResumeCheckpoint.save(to: run.lastCheckpointPath, model: model, optimizer: optimizer, rng: rng, state: state)
        let valid = try SafetensorsFile(contentsOf: run.lastCheckpointPath)
        let json = Array(valid.metadata[ResumeState.metadataKey]!.utf8)
        var mutator = ByteMutator(seed: 11)
        var restored = 0, rejected = 0
        for trial in 0..<700 {
            var file = valid
            file.metadata[ResumeState.metadataKey] = String(decoding: mutator.mutate(json, rounds: 1 + mutator.pick(4)), as: UTF8.self)
            if mutator.pick(4) == 0 { file.metadata[ResumeState.metadataKey] = String(decoding: json, as: UTF8.self) }
            if mutator.pick(5) == 0 {
                let names = file.tensors.keys.sorted()
                let name = names[mutator.pick(names.count)]
                switch mutator.pick(3) {
                case 0: file.tensors[name] = nil
                case 1: file.tensors[name] = SafeTensor([Float](repeating: 1, count: 6), shape: [2, 3])
                default: file.tensors[name] = SafeTensor([Int64(mutator.pick(3)) - 1], shape: [])
                }
            }
            try file.write(to: run.lastCheckpointPath)
            do {
                let (_, s) = try LMResumeCheckpoint.restore(from: run.lastCheckpointPath, model: model, optimizer: Adam())
                restored += 1
                for (name, value) in [("step", s.step), ("batchInEpoch", s.batchInEpoch), ("tokens", s.tokens), ("epochTargets", s.epochTargets),
                                      ("epoch", s.schedule.epoch), ("trainTokens", s.trainTokens ?? 0)] {
                    XCTAssertTrue((0...(1 << 53)).contains(value), "trial \(trial): \(name) \(value)")
                }
            } catch {
                rejected += 1
                assertOneLineNaming(error, run.lastCheckpointPath + ": ", trial)
            }
        }
        XCTAssertGreaterThan(restored, 100)
        XCTAssertGreaterThan(rejected, 300)
        print("resume checkpoint fuzz: \(restored) restored, \(rejected) rejected")
    }

    /// An ablation spec file damaged: `AblationSpec.load` reads it or throws a one-line error
    /// naming the file; a spec that reads plans (`AblationPlan`) or is refused with one line.
    func testMutatedAblationSpecsAreRejectedOrPlannedNeverACrash() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let corpus = directory + "/corpus.txt"
        try "the cat sat\n".write(toFile: corpus, atomically: true, encoding: .utf8)
        let specPath = directory + "/spec.json"
        let valid = Array("""
        {"corpus": ["\(corpus)"], "sources": ["random", "word2vec", "domain-paragraph"], "modes": ["frozen", "concat"],
         "glomo": ["off", "hidden"], "seeds": 2, "vocabulary": {"minCount": 1, "maxSize": 100},
         "train": {"epochs": 1, "hidden-size": 8, "tie-weights": false, "lr": 2.5, "preset": "tiny"},
         "pretraining": {"epochs": 1, "trainTokens": 1000, "glomoSteps": 10, "hiddenSize": 4, "seed": 3},
         "corpusOptions": {"lowercase": true, "maxLineBytes": 4096}, "baseline": "random"}
        """.utf8)
        var mutator = ByteMutator(seed: 5)
        var planned = 0, refused = 0, rejected = 0
        for trial in 0..<2000 {
            try Data(mutator.mutate(valid, rounds: 1 + mutator.pick(4))).write(to: URL(fileURLWithPath: specPath))
            let spec: AblationSpec
            do { spec = try AblationSpec.load(from: specPath) } catch {
                rejected += 1
                assertOneLineNaming(error, specPath + ":", trial)
                // After the file name: ": " and the field, or a syntax error's line, ":3: " (StrictJSON).
                let after = "\(error)".dropFirst(specPath.count + 1)
                XCTAssertTrue(after.hasPrefix(" ") || after.first?.isNumber == true && after.drop(while: \.isNumber).hasPrefix(": "),
                              "trial \(trial): \(error)")
                continue
            }
            do {
                let plan = try AblationPlan(spec: spec, results: directory + "/results")
                XCTAssertEqual(plan.steps.filter { $0.stage == .training }.count, plan.arms.count * spec.seeds, "trial \(trial)")
                planned += 1
            } catch {
                refused += 1
                XCTAssertFalse("\(error)".contains("\n"), "trial \(trial): \(error)")
            }
        }
        XCTAssertGreaterThan(planned, 100)
        XCTAssertGreaterThan(rejected + refused, 500)
        print("ablation spec fuzz: \(planned) planned, \(refused) refused by the plan, \(rejected) rejected by the reader")
    }
}
