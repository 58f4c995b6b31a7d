import Foundation
import XCTest
import Support
@testable import LM

/// The grid, the plan's commands, the pretraining cache key and the on-disk states of a step.
final class AblationPlanTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablation-plan-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("{\"text\": \"a b\", \"split\": \"train\"}\n".utf8).write(to: URL(fileURLWithPath: dir + "/c.jsonl"))
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testArmsOfTheGrid() throws {
        // SHA-256 of "the 0.1 0.2\n" (coreutils sha256sum): eb88952b….
        try Data("the 0.1 0.2\n".utf8).write(to: URL(fileURLWithPath: dir + "/glove.6B.100d.txt"))
        var spec = AblationSpec(corpus: ["c"], sources: ["random", "domain-sentence-contextual", "file:" + dir + "/glove.6B.100d.txt"],
                                modes: ["frozen", "concat"], glomo: ["off", "hidden"], seeds: 1)
        XCTAssertEqual(try spec.arms().map(\.name), [
            "random", "random-glomo-hidden",
            "domain-sentence-contextual-frozen", "domain-sentence-contextual-frozen-glomo-hidden",
            "domain-sentence-contextual-concat", "domain-sentence-contextual-concat-glomo-hidden",
            "file-glove-eb88952b-frozen", "file-glove-eb88952b-frozen-glomo-hidden", "file-glove-eb88952b-concat", "file-glove-eb88952b-concat-glomo-hidden",
        ])
        spec.modes = ["frozen", "frozen"]
        spec.sources = ["random", "random"]
        XCTAssertEqual(try spec.arms().map(\.name), ["random", "random-glomo-hidden"])
        spec.modes = ["thawed"]
        XCTAssertThrowsError(try AblationSpec(corpus: ["c"], modes: ["thawed"]).arms()) { XCTAssertTrue("\($0)".contains("unknown embedding mode 'thawed'")) }
        XCTAssertThrowsError(try AblationSpec(corpus: ["c"], train: ["seed": "3"]).validate()) { XCTAssertEqual("\($0)", "train option --seed is set by ablate itself") }
        XCTAssertEqual(try AblationSpec(train: ["preset": "tiny"]).embeddingSize(), 64)
        XCTAssertEqual(try AblationSpec(train: ["preset": "tiny", "embedding-size": "30"]).embeddingSize(), 30)
        XCTAssertEqual(try AblationSpec().embeddingSize(), 200)
    }

    func testPlanOrderCommandsAndCacheKey() throws {
        let spec = AblationSpec(corpus: [dir + "/c.jsonl"], sources: ["random", "domain-paragraph", "domain-paragraph-contextual", "bilm"],
                                modes: ["frozen"], glomo: ["off"], seeds: 2, corpusOptions: .init(tokenizer: "simple"),
                                vocabulary: .init(maxSize: 100), train: ["preset": "tiny"], pretraining: .init(epochs: 1))
        let plan = try AblationPlan(spec: spec, results: dir + "/r/../r")
        XCTAssertEqual(plan.results, dir + "/r")
        XCTAssertEqual(plan.steps.map(\.stage), [.vocabulary, .pretraining, .pretraining] + Array(repeating: .training, count: 8))
        XCTAssertEqual(plan.steps.map(\.name), ["vocab", "domain-paragraph", "bilm", "random-seed1", "random-seed2",
                                                "domain-paragraph-frozen-seed1", "domain-paragraph-frozen-seed2",
                                                "domain-paragraph-contextual-frozen-seed1", "domain-paragraph-contextual-frozen-seed2",
                                                "bilm-frozen-seed1", "bilm-frozen-seed2"])
        let domain = plan.steps[1]
        XCTAssertEqual(domain.dependencies, ["vocab"])
        XCTAssertTrue(domain.output.hasPrefix(dir + "/r/cache/"))
        XCTAssertEqual(domain.completionMarker, domain.output + "/summary.json")
        XCTAssertEqual(Array(domain.arguments.prefix(6)), ["pretrain-domain", "--corpus", dir + "/c.jsonl", "--out", domain.output, "--vocab"])
        XCTAssertEqual(Array(domain.arguments.suffix(14)), ["--tokenizer", "simple", "--granularity", "paragraph", "--embedding-size", "64",
                                                           "--hidden-size", "32", "--seed", "1", "--epochs", "1", "--threads", "1"])
        XCTAssertEqual(plan.steps[7].arguments.suffix(4), ["--embeddings", domain.output + "/contextual.vec", "--embedding-mode", "frozen"])
        XCTAssertEqual(plan.steps[9].dependencies, ["vocab", "bilm"])
        XCTAssertEqual(plan.steps[2].completionMarker, plan.steps[2].output)
        XCTAssertEqual(plan.steps[2].directories, [(plan.steps[2].output as NSString).deletingLastPathComponent])

        // The cache key: the same inputs give the same directory; other corpus content or
        // settings another one; the number of seeds or the arms do not matter.
        var same = spec
        same.seeds = 5
        same.sources = ["domain-paragraph"]
        XCTAssertEqual(try AblationPlan(spec: same, results: dir + "/r").steps[1].output, domain.output)
        var epochs = spec
        epochs.pretraining.epochs = 2
        XCTAssertNotEqual(try AblationPlan(spec: epochs, results: dir + "/r").steps[1].output, domain.output)
        var vocab = spec
        vocab.vocabulary.maxSize = 99
        XCTAssertNotEqual(try AblationPlan(spec: vocab, results: dir + "/r").steps[1].output, domain.output)
        try Data("{\"text\": \"a c\", \"split\": \"train\"}\n".utf8).write(to: URL(fileURLWithPath: dir + "/c.jsonl"))
        XCTAssertNotEqual(try AblationPlan(spec: spec, results: dir + "/r").steps[1].output, domain.output)
    }

    func testGridsAreAUnionOfBlocksEachWithItsSeeds() throws {
        // Two blocks: the headline arms with 5 seeds, the rest with 3; `random` and
        // domain-sentence-frozen are in both and keep their first place with the most seeds.
        let spec = AblationSpec(corpus: [dir + "/c.jsonl"], modes: ["frozen"], seeds: 3, train: ["preset": "tiny"],
                                grids: [.init(sources: ["random", "domain-sentence"], glomo: ["off", "hidden"], seeds: 5),
                                        .init(sources: ["random", "domain-sentence", "bilm"], modes: ["frozen", "concat"])])
        let seeded = try spec.seededArms()
        XCTAssertEqual(seeded.map(\.arm.name), ["random", "random-glomo-hidden", "domain-sentence-frozen", "domain-sentence-frozen-glomo-hidden",
                                                "domain-sentence-concat", "bilm-frozen", "bilm-concat"])
        XCTAssertEqual(seeded.map(\.seeds), [5, 5, 5, 5, 3, 3, 3])
        let plan = try AblationPlan(spec: spec, results: dir + "/r")
        let runs = plan.steps.filter { $0.stage == .training }.map(\.name)
        XCTAssertEqual(runs.count, 5 * 4 + 3 * 3)
        XCTAssertEqual(runs.filter { $0.hasPrefix("bilm-concat-seed") }, ["bilm-concat-seed1", "bilm-concat-seed2", "bilm-concat-seed3"])
        XCTAssertTrue(runs.contains("random-glomo-hidden-seed5"))
        XCTAssertFalse(runs.contains("domain-sentence-concat-seed4"))
        XCTAssertTrue(plan.script(executable: "lmtool", format: .shell).hasPrefix("# lmtool ablate plan for \(dir!)/r: 7 arms x their seeds = 29 runs"))

        // Each block is checked, and its errors say which block.
        var bad = spec
        bad.grids[1].seeds = 0
        XCTAssertThrowsError(try bad.validate()) { XCTAssertEqual("\($0)", "grids[1]: --seeds must be at least 1") }
        bad = spec
        bad.grids[0].glomo = ["sideways"]
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".hasPrefix("grids[0]: unknown GLoMo placement 'sideways'"), "\($0)") }
        // A misspelt field inside a block is refused like any other.
        try Data(#"{"corpus": ["c"], "grids": [{"sources": ["random"], "sedes": 2}]}"#.utf8).write(to: URL(fileURLWithPath: dir + "/spec.json"))
        XCTAssertThrowsError(try AblationSpec.load(from: dir + "/spec.json")) {
            XCTAssertTrue("\($0)".hasPrefix(dir + "/spec.json: unknown field 'grids[].sedes'"), "\($0)")
        }
        try Data(#"{"corpus": ["c"], "grids": [{"sources": ["random"], "seeds": 4}, {"sources": ["bilm"]}], "seeds": 2}"#.utf8)
            .write(to: URL(fileURLWithPath: dir + "/spec.json"))
        XCTAssertEqual(try AblationSpec.load(from: dir + "/spec.json").seededArms().map(\.seeds), [4, 2])
    }

    func testWord2VecOutTrainsOnTheOutOfDomainCorpusWholeAndKeysTheCacheByItsContent() throws {
        try Data("a b a\n".utf8).write(to: URL(fileURLWithPath: dir + "/books.txt"))
        let spec = AblationSpec(corpus: [dir + "/c.jsonl"], sources: ["word2vec", "word2vec-out"], seeds: 1, train: ["preset": "tiny"],
                                pretraining: .init(outOfDomainCorpus: [dir + "/books.txt"]))
        let plan = try AblationPlan(spec: spec, results: dir + "/r")
        XCTAssertEqual(plan.steps.map(\.name), ["vocab", "word2vec", "word2vec-out", "word2vec-frozen-seed1", "word2vec-out-frozen-seed1"])
        let inDomain = plan.steps[1], outOfDomain = plan.steps[2]
        XCTAssertEqual(Array(inDomain.arguments.prefix(4)), ["embed", "word2vec", dir + "/c.jsonl", "--out"])
        XCTAssertTrue(inDomain.arguments.contains("--split"))
        // The other corpus replaces the grid's, whole: no --split.
        XCTAssertEqual(Array(outOfDomain.arguments.prefix(4)), ["embed", "word2vec", dir + "/books.txt", "--out"])
        XCTAssertFalse(outOfDomain.arguments.contains("--split"))
        XCTAssertFalse(outOfDomain.arguments.contains(dir + "/c.jsonl"))
        XCTAssertNotEqual(inDomain.output, outOfDomain.output)
        XCTAssertEqual(plan.steps[4].arguments.suffix(4), ["--embeddings", outOfDomain.output, "--embedding-mode", "frozen"])
        XCTAssertEqual(plan.steps[4].dependencies, ["vocab", "word2vec-out"])
        // Its cache entry follows the other corpus's content, not the grid corpus's.
        try Data("a b b\n".utf8).write(to: URL(fileURLWithPath: dir + "/books.txt"))
        let changed = try AblationPlan(spec: spec, results: dir + "/r")
        XCTAssertNotEqual(changed.steps[2].output, outOfDomain.output)
        XCTAssertEqual(changed.steps[1].output, inDomain.output)
        // Without the other corpus the source is refused in one line.
        XCTAssertThrowsError(try AblationSpec(corpus: ["c"], sources: ["word2vec-out"]).validate()) {
            XCTAssertTrue("\($0)".hasPrefix("source word2vec-out needs an out-of-domain corpus"), "\($0)")
        }
    }

    func testUntrainedGLoMoArmsUseAPredictorSavedAtItsInitialisation() throws {
        let spec = AblationSpec(corpus: [dir + "/c.jsonl"], sources: ["random"], glomo: ["off", "hidden", "hidden-untrained", "embeddings-untrained"],
                                seeds: 1, train: ["preset": "tiny"], pretraining: .init(glomoSteps: 300))
        let plan = try AblationPlan(spec: spec, results: dir + "/r")
        XCTAssertEqual(plan.steps.map(\.name), ["vocab", "glomo", "glomo-untrained", "random-seed1", "random-glomo-hidden-seed1",
                                                "random-glomo-hidden-untrained-seed1", "random-glomo-embeddings-untrained-seed1"])
        let trained = plan.steps[1], untrained = plan.steps[2]
        XCTAssertEqual(trained.arguments.suffix(4), ["--steps", "300", "--threads", "1"])
        XCTAssertEqual(untrained.arguments.suffix(4), ["--steps", "0", "--threads", "1"])
        XCTAssertNotEqual(trained.output, untrained.output)
        // Everything but the steps is the same: the same architecture and initialisation.
        XCTAssertEqual(trained.arguments.filter { $0 != trained.output && $0 != "300" },
                       untrained.arguments.filter { $0 != untrained.output && $0 != "0" })
        XCTAssertEqual(plan.steps[5].arguments.suffix(4), ["--glomo", untrained.output, "--glomo-on", "hidden"])
        XCTAssertEqual(plan.steps[6].arguments.suffix(4), ["--glomo", untrained.output, "--glomo-on", "embeddings"])
        XCTAssertEqual(plan.steps[4].arguments.suffix(4), ["--glomo", trained.output, "--glomo-on", "hidden"])
    }

    func testGivenVocabularyIsUsedAsIsAndKeysTheCacheByContent() throws {
        try Data("<unk>\t0\n<eos>\t1\na\t1\n".utf8).write(to: URL(fileURLWithPath: dir + "/v.txt"))
        let spec = AblationSpec(corpus: [dir + "/c.jsonl"], sources: ["word2vec"], seeds: 1, vocabulary: .init(file: dir + "/v.txt"),
                                train: ["preset": "tiny"])
        let plan = try AblationPlan(spec: spec, results: dir + "/r")
        XCTAssertEqual(plan.steps.map(\.name), ["word2vec", "word2vec-frozen-seed1"])
        XCTAssertEqual(plan.vocabularyPath, dir + "/v.txt")
        XCTAssertEqual(plan.steps[0].dependencies, [])
        XCTAssertEqual(plan.steps[0].completionMarker, plan.steps[0].output + ".vocab.txt")
        XCTAssertTrue(plan.steps[1].arguments.contains(dir + "/v.txt"))
        try Data("<unk>\t0\n<eos>\t1\nb\t1\n".utf8).write(to: URL(fileURLWithPath: dir + "/v.txt"))
        XCTAssertNotEqual(try AblationPlan(spec: spec, results: dir + "/r").steps[0].output, plan.steps[0].output)
        XCTAssertThrowsError(try AblationPlan(spec: AblationSpec(corpus: [dir + "/c.jsonl"], vocabulary: .init(file: dir + "/v.txt", maxSize: 5)), results: dir))
    }

    func testStepStatesFollowTheFilesOnDisk() throws {
        let spec = AblationSpec(corpus: [dir + "/c.jsonl"], sources: ["random"], seeds: 1, train: ["preset": "tiny", "tie-weights": "true"])
        let step = try AblationPlan(spec: spec, results: dir + "/r").steps[1]
        XCTAssertTrue(step.arguments.contains("--tie-weights"))
        XCTAssertEqual(step.state, .fresh)
        try FileManager.default.createDirectory(atPath: step.output, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: step.output + "/config.json"))
        XCTAssertEqual(step.state, .partial)
        XCTAssertEqual(step.argumentsForCurrentState.last, "--force")
        try Data().write(to: URL(fileURLWithPath: step.output + "/last.safetensors"))
        XCTAssertEqual(step.state, .interrupted)
        XCTAssertEqual(step.argumentsForCurrentState.last, "--resume")
        // The shell line is the same in every state: train --if-needed decides.
        XCTAssertTrue(step.shellLine(executable: "/bin/lmtool").hasSuffix(" --seed 1 --if-needed  # training"))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: step.output + "/summary.json"))
        XCTAssertEqual(step.state, .complete)
    }

    func testRunStateOfADirectory() throws {
        let run = dir + "/run"
        XCTAssertEqual(RunFolder(path: run).state(), .fresh)
        XCTAssertNil(RunFolder(path: run).state().flag)
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        XCTAssertEqual(RunFolder(path: run).state(), .fresh, "an empty directory holds no run")
        try Data("{}".utf8).write(to: URL(fileURLWithPath: run + "/config.json"))
        XCTAssertEqual(RunFolder(path: run).state(), .partial)
        XCTAssertEqual(RunFolder(path: run).state().flag, "--force")
        try Data().write(to: URL(fileURLWithPath: run + "/last.safetensors"))
        XCTAssertEqual(RunFolder(path: run).state().flag, "--resume")
        XCTAssertEqual(RunFolder(path: run).state(completionMarker: run + "/other"), .interrupted)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: run + "/summary.json"))
        XCTAssertEqual(RunFolder(path: run).state(), .complete)
        XCTAssertNil(RunFolder(path: run).state().flag)
    }

    /// The file steps are guarded by their marker; the scripts chain the stages.
    func testScriptFormats() throws {
        let spec = AblationSpec(corpus: [dir + "/c.jsonl"], sources: ["random", "word2vec", "domain-paragraph"], seeds: 2,
                                train: ["preset": "tiny"], baseline: "random")
        let plan = try AblationPlan(spec: spec, results: dir + "/r")
        let vocab = plan.steps[0]
        XCTAssertEqual(vocab.command(executable: "lmtool"),
                       "if [ -e \(dir!)/r/vocab.txt ]; then echo 'vocab: done, skipped'; else mkdir -p \(dir!)/r && lmtool "
                       + vocab.arguments.joined(separator: " ") + "; fi")

        let shell = plan.script(executable: "lmtool", format: .shell).split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertEqual(shell.count, 1 + 2 + 6 + 1)
        XCTAssertEqual(shell.last, "lmtool report \(dir!)/r --baseline random  # report")

        let slurm = plan.script(executable: "lmtool", format: .slurm)
        let submissions = slurm.split(separator: "\n").filter { $0.hasPrefix("job=$(sbatch ") }
        XCTAssertEqual(submissions.count, 4)
        XCTAssertTrue(submissions[0].contains("--job-name=lmtool-vocabulary --output="))
        XCTAssertTrue(submissions[1].contains("--job-name=lmtool-pretraining --array=0-1 "))
        XCTAssertTrue(submissions[2].contains("--job-name=lmtool-training --array=0-5 "))
        XCTAssertTrue(submissions[3].contains("--job-name=lmtool-report --output="))
        // Each stage waits for the one before: afterok, and afterany for the report.
        let dependencies = slurm.split(separator: "\n").filter { $0.hasPrefix("after=(--") }
        XCTAssertEqual(dependencies, ["after=(--dependency=afterok:${job%%;*} --kill-on-invalid-dep=yes)",
                                      "after=(--dependency=afterok:${job%%;*} --kill-on-invalid-dep=yes)",
                                      "after=(--dependency=afterany:${job%%;*} --kill-on-invalid-dep=yes)"])
        XCTAssertTrue(slurm.contains("5)\n  lmtool train --run \(dir!)/r/runs/domain-paragraph-frozen-seed2 "), slurm)

        let parallel = plan.script(executable: "lmtool", format: .parallel)
        let stages = parallel.split(separator: "\n").filter { $0.hasPrefix("parallel ") }
        XCTAssertEqual(stages, ["parallel --will-cite -j \"$jobs\" <<'LMTOOL_STAGE' || exit $?",
                                "parallel --will-cite -j \"$jobs\" <<'LMTOOL_STAGE' || exit $?",
                                "parallel --will-cite -j \"$jobs\" <<'LMTOOL_STAGE' || status=$?"])
        XCTAssertTrue(parallel.hasSuffix("lmtool report \(dir!)/r --baseline random || status=$?\nexit $status\n"), parallel)
        // The random runs need no pretraining: they run beside it, their failures recorded, not fatal.
        XCTAssertEqual(plan.runsWithoutPretraining.map(\.name), ["random-seed1", "random-seed2"])
        // Split at the closing markers: [vocabulary, pretraining with the random runs, training, the end].
        let stageLines = parallel.components(separatedBy: "\nLMTOOL_STAGE\n")
        XCTAssertEqual(stageLines.count, 4, parallel)
        XCTAssertTrue(stageLines[1].contains("train --run \(dir!)/r/runs/random-seed1 "), stageLines[1])
        XCTAssertTrue(stageLines[1].contains("--if-needed || echo random-seed2 >> \"$LMTOOL_FAILED_RUNS\""), stageLines[1])
        XCTAssertTrue(stageLines[1].contains("pretrain-domain"), stageLines[1])
        XCTAssertFalse(stageLines[2].contains("runs/random-seed"), stageLines[2])
        XCTAssertTrue(stageLines[2].contains("runs/word2vec-frozen-seed1 "), stageLines[2])
        XCTAssertTrue(parallel.contains("if [ -s \"$LMTOOL_FAILED_RUNS\" ]; then status=1; fi\n"), parallel)

        // A given vocabulary and no pretraining: the training array has nothing to wait for.
        let small = try AblationPlan(spec: AblationSpec(corpus: [dir + "/c.jsonl"], sources: ["random"], seeds: 1,
                                                        vocabulary: .init(file: dir + "/c.jsonl")), results: dir + "/s")
        let lines = small.script(executable: "lmtool", format: .slurm).split(separator: "\n")
        XCTAssertEqual(lines.filter { $0.hasPrefix("job=$(sbatch ") }.count, 2)
        XCTAssertEqual(lines.filter { $0.hasPrefix("after=(--") }.count, 1)
    }

    func testShellQuoting() {
        XCTAssertEqual(shellQuote("/a/b-c_d.txt"), "/a/b-c_d.txt")
        XCTAssertEqual(shellQuote("it's here"), "'it'\\''s here'")
        XCTAssertEqual(shellQuote(""), "''")
        XCTAssertEqual(shellQuote("decay:4:0.5"), "decay:4:0.5")
        XCTAssertEqual(shellQuote("$HOME"), "'$HOME'")
    }
}
