import Foundation
import XCTest

/// `lmtool ablate` and `lmtool report` end to end, with a fake lmtool (a shell script given
/// through the hidden `--executable` option) that writes the files the real commands write, so
/// the plan, skip/resume and report logic are tested without training anything.
final class AblateCommandTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmtool-ablate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data("""
            {"text": "a b c", "domain": "x", "split": "train"}
            {"text": "c b a", "domain": "y", "split": "valid"}
            {"text": "b a c", "domain": "x", "split": "test"}

            """.utf8).write(to: URL(fileURLWithPath: path("corpus.jsonl")))
        try Data(Self.fake.utf8).write(to: URL(fileURLWithPath: fake))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    var fake: String { path("fake-lmtool.sh") }
    /// The results directory (a test may pick one whose name needs shell quoting).
    lazy var results = path("results")
    var calls: [String] {
        ((try? String(contentsOfFile: path("calls.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// A stand-in for lmtool. Every call is appended to $DIR/calls.log. `train` writes
    /// config.json (with the --embeddings and --glomo paths, as lmtool train records them), then per epoch a metrics line and last.safetensors, then test-sentences.tsv
    /// and summary.json; its perplexities depend on the seed and on --embeddings. When the run's
    /// name is in $DIR/hang and it is not resumed, it stops after epoch 1 and waits to be killed
    /// (its pid in $DIR/hanging.pid); a SIGTERM or SIGINT then is logged to $DIR/signals and
    /// ends it with status 143 or 130, like lmtool's clean stop. `--if-needed` skips a finished
    /// run and resumes an interrupted one; a run named in $DIR/failrun fails.
    static let fake = #"""
        #!/bin/bash
        set -e
        here=$(dirname "$0")
        echo "$*" >> "$here/calls.log"
        cmd="$1"; shift
        if [ "$cmd" = embed ] || [ "$cmd" = vocab ]; then cmd="$cmd-$1"; shift; fi
        out=""; run=""; seed=1; emb=""; glomo=""; resume=0; ifneeded=0
        while [ $# -gt 0 ]; do
          case "$1" in
            --out) out="$2"; shift ;;
            --run) run="$2"; shift ;;
            --seed) seed="$2"; shift ;;
            --embeddings) emb="$2"; shift ;;
            --glomo) glomo="$2"; shift ;;
            --resume) resume=1 ;;
            --if-needed) ifneeded=1 ;;
          esac
          shift
        done
        case "$cmd" in
          vocab-build) printf '<unk>\t0\n<eos>\t3\na\t3\n' > "$out" ;;
          embed-word2vec) echo "1 2" > "$out"; echo vocab > "$out.vocab.txt" ;;
          embed-bilm) if [ -f "$here/fail" ]; then echo "Error: failing on purpose" >&2; exit 2; fi; echo "1 2" > "$out" ;;
          pretrain-domain|pretrain-glomo)
            mkdir -p "$out"; echo '{}' > "$out/config.json"; echo "1 2" > "$out/embeddings.vec"; echo "1 2" > "$out/contextual.vec"
            echo '{}' > "$out/summary.json" ;;
          report) exit 0 ;;
          train)
            mkdir -p "$run"; name=$(basename "$run")
            if grep -qx "$name" "$here/failrun" 2>/dev/null; then echo "Error: $name failing on purpose" >&2; exit 1; fi
            if [ $ifneeded = 1 ] && [ -f "$run/summary.json" ]; then echo "$run: finished"; exit 0; fi
            if [ $ifneeded = 1 ] && [ -f "$run/last.safetensors" ]; then resume=1; fi
            if [ -n "$emb" ]; then base=$((90 - seed)); else base=$((100 + 2 * seed)); fi
            start=1
            if [ $resume = 1 ]; then start=2; [ -f "$run/last.safetensors" ] || { echo "Error: no checkpoint" >&2; exit 1; }
            elif [ -f "$run/config.json" ]; then echo "Error: $run: already holds a run" >&2; exit 1; fi
            input='{"kind":"random"}'; [ -n "$emb" ] && input="{\"kind\":\"pretrained\",\"path\":\"$emb\"}"
            graphs=''; [ -n "$glomo" ] && graphs=",\"glomo\":{\"path\":\"$glomo\"}"
            echo "{\"input_representation\":$input$graphs}" > "$run/config.json"
            for epoch in $(seq $start 2); do
              echo "{\"elapsed_seconds\":1,\"epoch\":$epoch,\"loss\":4.6,\"lr\":20,\"ppl\":$((base + 10 / epoch)),\"split\":\"valid\",\"step\":$epoch,\"tokens_per_second\":1,\"wall_time\":\"2026-11-22T00:00:00Z\"}" >> "$run/metrics.jsonl"
              echo "state $epoch" > "$run/last.safetensors"
              if [ $epoch = 1 ] && [ $resume = 0 ] && grep -qx "$name" "$here/hang" 2>/dev/null; then
                trap 'echo TERM >> "$here/signals"; exit 143' TERM
                trap 'echo INT >> "$here/signals"; exit 130' INT
                echo $$ > "$here/hanging.pid"
                for i in $(seq 600); do sleep 0.1; done
              fi
            done
            : > "$run/test-sentences.tsv"
            for i in 1 2 3 4 5; do printf '%d\t-%d.%d\n' $((i + 1)) $((base / 10 + i)) $seed >> "$run/test-sentences.tsv"; done
            printf '{"epochs":2,"parameters":1000,"seconds":%d.5,"test_ppl":%d.25,"trainable_parameters":800,"valid_ppl":%d}\n' $seed $base $((base + 5)) > "$run/summary.json.tmp"
            mv "$run/summary.json.tmp" "$run/summary.json" ;;
          *) echo "Error: fake lmtool: unknown command $cmd" >&2; exit 2 ;;
        esac
        """#

    func ablate(_ extra: [String] = []) -> [String] {
        ["ablate", "--out", results, "--corpus", path("corpus.jsonl"), "--executable", fake, "--seeds", "2",
         "--sources", "random,domain-paragraph", "--modes", "frozen", "--preset", "tiny", "--epochs", "2"] + extra
    }

    func testRunsTheGridSkipsFinishedRunsAndWritesTheReport() throws {
        let r = try runLMTool(ablate())
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        // vocab, one pretraining, 2 arms x 2 seeds.
        XCTAssertEqual(calls.count, 6, calls.joined(separator: "\n"))
        XCTAssertTrue(calls[0].hasPrefix("vocab build \(path("corpus.jsonl")) --out \(results)/vocab.txt --split train"), calls[0])
        XCTAssertTrue(calls[1].hasPrefix("pretrain-domain --corpus \(path("corpus.jsonl")) --out \(results)/cache/"), calls[1])
        XCTAssertTrue(calls[1].contains("--granularity paragraph --embedding-size 64 --hidden-size 32 --seed 1"), calls[1])
        let cache = calls[1].components(separatedBy: " --out ")[1].components(separatedBy: " ")[0]
        XCTAssertEqual(calls.filter { $0.hasPrefix("train ") }.count, 4)
        XCTAssertTrue(calls.contains { $0.hasSuffix("--seed 2 --embeddings \(cache)/embeddings.vec --embedding-mode frozen") && $0.contains("runs/domain-paragraph-frozen-seed2 ") },
                      calls.joined(separator: "\n"))
        XCTAssertTrue(calls.contains { $0.contains("--run \(results)/runs/random-seed1 ") && $0.contains("--epochs 2 --preset tiny --seed 1") })
        // The table: random valid 108 ± 1.41 (seeds 1, 2: 102+5, 104+5), domain (90 − seed) + 5.
        XCTAssertTrue(r.stdout.contains("| random | 2 | 108.00 ± 1.41 | 103.25 ± 1.41 | (baseline) |"), r.stdout)
        // Differences by seed: (89.25 − 102.25, 88.25 − 104.25) = (−13, −16): mean −14.5, sd 2.1213,
        // t(0.975, 1) = 12.7062 → half width 12.7062 · 2.1213 / √2 = 19.0593.
        XCTAssertTrue(r.stdout.contains("| domain-paragraph-frozen | 2 | 93.50 ± 0.71 | 88.75 ± 0.71 | -14.50 [-33.56, 4.56] |"), r.stdout)
        for file in ["report.md", "report.csv", "report.json", "valid-ppl.svg", "differences.svg", "ablation.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: results + "/" + file), file)
        }

        // Again: nothing runs, the report is the same.
        let md = try String(contentsOfFile: results + "/report.md", encoding: .utf8)
        let again = try runLMTool(ablate())
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(calls.count, 6)
        XCTAssertTrue(again.stdout.contains("0 run (0 resumed), 6 already done"), again.stdout)

        // `lmtool report` regenerates the same files from the run directories alone.
        var before: [String: String] = [:]
        for file in ["report.md", "report.csv", "report.json", "valid-ppl.svg", "differences.svg"] {
            before[file] = try String(contentsOfFile: results + "/" + file, encoding: .utf8)
            try FileManager.default.removeItem(atPath: results + "/" + file)
        }
        try FileManager.default.removeItem(atPath: results + "/ablation.json")
        try FileManager.default.removeItem(atPath: results + "/cache")
        let report = try runLMTool(["report", results])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertEqual(report.stdout, md)
        for (file, text) in before {
            XCTAssertEqual(try String(contentsOfFile: results + "/" + file, encoding: .utf8), text, file)
        }
    }

    /// Starts ablate with random-seed2 set to hang after its first checkpoint; returns ablate's
    /// process and the hanging child's pid.
    func startAblateUntilHang(stderr: String = "/dev/null") throws -> (Process, Int32)? {
        try Data("random-seed2\n".utf8).write(to: URL(fileURLWithPath: path("hang")))
        // Not on /dev/null: createFile writes a temporary file and renames it over the name,
        // which as root replaced the device with a regular file.
        if stderr != "/dev/null" { FileManager.default.createFile(atPath: stderr, contents: nil) }
        let process = Process()
        process.executableURL = try lmtoolBinary()
        process.arguments = ablate()
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: stderr)
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        var pid: Int32?
        while pid == nil && Date() < deadline {
            pid = (try? String(contentsOfFile: path("hanging.pid"), encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if pid == nil { Thread.sleep(forTimeInterval: 0.05) }
        }
        guard let pid else { process.terminate(); XCTFail("the fake run never started"); return nil }
        return (process, pid)
    }

    func testSignalToAblateReachesTheRunOnceAndTheGridResumes() throws {
        guard let (process, _) = try startAblateUntilHang(stderr: path("stderr.txt")) else { return }
        process.terminate()   // SIGTERM to ablate only, as `kill PID` or a scheduler would
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 143, "a clean stop exits as train's does (it was 1, a failure's status)")
        XCTAssertEqual(try String(contentsOfFile: path("signals"), encoding: .utf8), "TERM\n", "forwarded exactly once")
        let err = try String(contentsOfFile: path("stderr.txt"), encoding: .utf8)
        XCTAssertTrue(err.contains("Error: random-seed2: stopped by signal 15"), err)
        let r = try runLMTool(ablate())
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("3 run (1 resumed), 3 already done"), r.stdout)
    }

    func testKilledRunResumesAndFinishedRunsAreNeverRedone() throws {
        // Wait for the fake run to reach its checkpoint and hang, then kill -9 it.
        guard let (process, pid) = try startAblateUntilHang() else { return }
        XCTAssertEqual(kill(pid, SIGKILL), 0)
        process.waitUntilExit()
        XCTAssertNotEqual(process.terminationStatus, 0, "ablate must report the killed step")
        XCTAssertTrue(FileManager.default.fileExists(atPath: results + "/runs/random-seed1/summary.json"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: results + "/runs/random-seed2/summary.json"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: results + "/runs/domain-paragraph-frozen-seed1"), "the grid stops at a killed step")
        let callsBefore = calls.count

        // The report of the partial grid lists the unfinished run.
        let partial = try runLMTool(["report", results])
        XCTAssertEqual(partial.status, 0, partial.stderr)
        XCTAssertTrue(partial.stdout.contains("- random-seed2 (last validation at epoch 1)"), partial.stdout)

        // --plan now shows the resume, then running again resumes it and runs the rest only.
        let plan = try runLMTool(ablate(["--plan"]))
        // Its lines do not depend on the state: train --if-needed decides when it runs.
        XCTAssertFalse(plan.stdout.contains("--resume"), plan.stdout)
        XCTAssertTrue(plan.stdout.split(separator: "\n").contains { $0.contains("runs/random-seed2 ") && $0.hasSuffix("--if-needed  # training") }, plan.stdout)
        let r = try runLMTool(ablate())
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let newCalls = Array(calls[callsBefore...])
        XCTAssertEqual(newCalls.count, 3, newCalls.joined(separator: "\n"))
        XCTAssertTrue(newCalls[0].contains("runs/random-seed2 ") && newCalls[0].hasSuffix("--resume"), newCalls[0])
        XCTAssertFalse(newCalls.contains { $0.contains("random-seed1") || $0.hasPrefix("vocab") || $0.hasPrefix("pretrain") })
        XCTAssertTrue(r.stdout.contains("3 run (1 resumed), 3 already done"), r.stdout)
        // The resumed run has both epochs once.
        let metrics = try String(contentsOfFile: results + "/runs/random-seed2/metrics.jsonl", encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").count, 2)
    }

    func testPlanLinesRunInAShellAndGiveTheSameReport() throws {
        results = path("my results's")   // the plan's lines must quote it
        let plan = try runLMTool(ablate(["--plan", "--sources", "random,word2vec,domain-paragraph-contextual", "--glomo", "off,hidden"]))
        XCTAssertEqual(plan.status, 0, plan.stderr)
        let lines = plan.stdout.split(separator: "\n").map(String.init)
        let commands = lines.filter { !$0.hasPrefix("#") }
        // vocab; word2vec, domain, glomo; 6 arms (3 sources x 2 placements) x 2 seeds.
        XCTAssertEqual(commands.filter { $0.hasSuffix("# vocabulary") }.count, 1)
        XCTAssertEqual(commands.filter { $0.hasSuffix("# pretraining") }.count, 3)
        XCTAssertEqual(commands.filter { $0.hasSuffix("# training") }.count, 12)
        XCTAssertTrue(commands.contains { $0.contains(" --run '\(dir.path)/my results'\\''s/runs/word2vec-frozen-glomo-hidden-seed2' ") && $0.contains("--glomo-on hidden") },
                      commands.joined(separator: "\n"))
        XCTAssertTrue(commands.contains { $0.contains("--embeddings ") && $0.contains("/contextual.vec' --embedding-mode frozen") })
        XCTAssertEqual(calls.count, 0, "--plan runs nothing")
        // Run the lines as a scheduler would: stage by stage, training lines in reverse order.
        // The last line is the report (the fake has none: lmtool report runs below).
        XCTAssertEqual(commands.last, "\(fake) report '\(dir.path)/my results'\\''s'  # report")
        let steps = commands.dropLast()
        let ordered = steps.filter { !$0.hasSuffix("# training") } + steps.filter { $0.hasSuffix("# training") }.reversed()
        try Data((ordered.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path("plan.sh")))
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/bash")
        shell.arguments = ["-e", path("plan.sh")]
        shell.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try shell.run()
        shell.waitUntilExit()
        XCTAssertEqual(shell.terminationStatus, 0)
        XCTAssertEqual(calls.count, 16)
        let report = try runLMTool(["report", results])
        XCTAssertEqual(report.status, 0, report.stderr)
        XCTAssertTrue(report.stdout.contains("| word2vec-frozen-glomo-hidden | 2 | 93.50 ± 0.71 |"), report.stdout)
        XCTAssertFalse(report.stdout.contains("Unfinished"), report.stdout)
        // ablate itself now finds everything done.
        let r = try runLMTool(ablate(["--sources", "random,word2vec,domain-paragraph-contextual", "--glomo", "off,hidden"]))
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(calls.count, 16)
        XCTAssertEqual(r.stdout.components(separatedBy: "\n").dropLast().last { !$0.isEmpty }, "steps: 0 run (0 resumed), 16 already done, 0 failed, 0 not run")
    }

    /// The GNU parallel script runs the random runs beside the pretraining: a failing one is
    /// recorded (exit status 1) without stopping the script, whose later stage still runs.
    func testParallelScriptRecordsAFailedEarlyRunAndGoesOn() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/parallel") else {
            throw XCTSkip("GNU parallel is not installed (apt-get install parallel); SchedulerTests installs it as root")
        }
        let plan = try runLMTool(ablate(["--plan", "--plan-format", "parallel"]))
        XCTAssertEqual(plan.status, 0, plan.stderr)
        try Data(plan.stdout.utf8).write(to: URL(fileURLWithPath: path("plan.parallel.sh")))
        try Data("random-seed1\n".utf8).write(to: URL(fileURLWithPath: path("failrun")))
        func runScript() throws -> Int32 {
            let shell = Process()
            shell.executableURL = URL(fileURLWithPath: "/bin/bash")
            shell.arguments = [path("plan.parallel.sh")]
            shell.environment = ["PATH": "/usr/bin:/bin", "LMTOOL_JOBS": "2"]
            shell.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            shell.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try shell.run()
            shell.waitUntilExit()
            return shell.terminationStatus
        }
        XCTAssertEqual(try runScript(), 1)
        // The later stage ran: the domain runs finished; the failed run did not.
        for run in ["random-seed2", "domain-paragraph-frozen-seed1", "domain-paragraph-frozen-seed2"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: results + "/runs/\(run)/summary.json"), run)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: results + "/runs/random-seed1/summary.json"))
        // Once the cause is gone, the same script finishes what is left and exits 0.
        try FileManager.default.removeItem(atPath: path("failrun"))
        try FileManager.default.removeItem(atPath: results + "/runs/random-seed1")
        XCTAssertEqual(try runScript(), 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: results + "/runs/random-seed1/summary.json"))
    }

    func testFailingStepBlocksItsDependentsAndErrorsAreOneLine() throws {
        // The bilm pretraining fails; the random runs still run, the bilm runs are not tried.
        try Data().write(to: URL(fileURLWithPath: path("fail")))
        var r = try runLMTool(ablate(["--sources", "random,bilm"]))
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("| random | 2 |"), r.stdout)
        // The child's own error line comes first (its stderr is ablate's), then ablate's one line.
        let err = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n")
        XCTAssertEqual(err, ["Error: failing on purpose",
                             "Error: 1 step(s) failed: bilm (exit status 2); not run: bilm-frozen-seed1, bilm-frozen-seed2"])

        r = try runLMTool(ablate(["--sources", "random,glove"]))
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("Error: unknown embedding source 'glove'"), r.stderr)
        r = try runLMTool(ablate(["--train-tokens", "5", "--corpus", path("missing.jsonl")]))
        XCTAssertTrue(r.stderr.hasPrefix("Error: ") && r.stderr.contains(path("missing.jsonl")), r.stderr)
        // A different grid in the same results directory is refused.
        XCTAssertEqual(try runLMTool(ablate(["--sources", "random", "--seeds", "1"])).status, 0)
        r = try runLMTool(ablate(["--sources", "random", "--seeds", "1", "--lr", "5"]))
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("ablation.json: the results directory holds a grid with other train options"), r.stderr)
        // --plan makes the same check: its train lines would skip the other grid's finished runs
        // ("nothing to do") and its report line would report them.
        let refusal = r.stderr
        r = try runLMTool(ablate(["--sources", "random", "--seeds", "1", "--lr", "5", "--plan"]))
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stdout, "")
        XCTAssertEqual(r.stderr, refusal)
        XCTAssertEqual(try runLMTool(ablate(["--sources", "random", "--seeds", "1", "--plan"])).status, 0, "the same grid plans")
        // A --baseline that names no arm is refused, and nothing is rewritten.
        let reportBefore = try Data(contentsOf: URL(fileURLWithPath: results + "/report.md"))
        r = try runLMTool(["report", results, "--baseline", "word2vec-frozen"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderr, "Error: --baseline 'word2vec-frozen' is not an arm of \(results)/runs (arms: random)\n")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: results + "/report.md")), reportBefore)
        r = try runLMTool(["report", path("nowhere")])
        XCTAssertTrue(r.stderr.hasPrefix("Error: ") && r.stderr.contains("no runs/ directory"), r.stderr)
    }

    /// ablate's train flags (the option groups it shares with train) reach every train line as
    /// given (`--lr 20` stays 20, `--dropout 0.50` stays 0.50); a value of the wrong type is one
    /// line naming the flag.
    func testTrainFlagsReachTheRunsAsGiven() throws {
        let plan = try runLMTool(ablate(["--plan", "--lr", "20", "--dropout", "0.50", "--bptt", "7", "--no-tie-weights", "--softmax", "adaptive"]))
        XCTAssertEqual(plan.status, 0, plan.stderr)
        let trains = plan.stdout.split(separator: "\n").filter { $0.hasSuffix("# training") }
        XCTAssertEqual(trains.count, 4, plan.stdout)
        for line in trains {
            XCTAssertTrue(line.contains(" --bptt 7 --dropout 0.50 --epochs 2 --lr 20 --no-tie-weights --preset tiny --softmax adaptive "), String(line))
        }
        try assertFails(ablate(["--plan", "--bptt", "long"]), mentioning: ["'long'", "--bptt"])
        try assertFails(ablate(["--plan", "--batching", "diagonal"]), mentioning: ["The value 'diagonal' is invalid for '--batching <batching>'", "one of 'discourse' and 'sentence'"])
    }

    /// Spec mistakes are one line naming the spec file, before the vocabulary or any
    /// pretraining runs (the fake lmtool logs every call: none is made).
    func testSpecMistakesAreRefusedBeforeAnyStepRuns() throws {
        func refused(_ json: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
            try Data(json.utf8).write(to: URL(fileURLWithPath: path("spec.json")))
            let r = try runLMTool(ablate(["--spec", path("spec.json")]))
            XCTAssertNotEqual(r.status, 0, r.stdout, file: file, line: line)
            XCTAssertEqual(calls, [], "nothing runs", file: file, line: line)
            let lines = r.stderr.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, r.stderr, file: file, line: line)
            XCTAssertTrue(r.stderr.hasPrefix("Error: \(path("spec.json")): "), r.stderr, file: file, line: line)
            return r.stderr
        }
        XCTAssertTrue(try refused("{\"sedes\": 2}").contains("unknown field 'sedes'"))
        XCTAssertTrue(try refused("{\"train\": {\"epochz\": 2}}").contains("train.epochz: not an lmtool train option a spec may set (known: "))
        XCTAssertTrue(try refused("{\"train\": {\"batching\": \"diagonal\"}}").contains("train.batching: 'diagonal' is not one of discourse, sentence"))
        XCTAssertTrue(try refused("{\"train\": {\"lr\": \"fast\"}}").contains("train.lr: 'fast' is not a number"))
        XCTAssertTrue(try refused("{\"baseline\": \"word2vec-frozen\"}").contains("baseline 'word2vec-frozen' is not an arm of the grid"))
        XCTAssertTrue(try refused("{\"pretraining\": {\"extra\": {\"pretrain-domain\": [\"--out\", \"\(path("elsewhere"))\"]}}}")
            .contains("'--out' is not allowed"))
        XCTAssertTrue(try refused("{\"pretraining\": {\"extra\": {\"pretrain-domian\": [\"--lr\", \"0.1\"]}}}")
            .contains("unknown command 'pretrain-domian'"))
        XCTAssertTrue(try refused("{\"pretraining\": {\"extra\": {\"pretrain-domain\": [\"--batch-size\", \"lots\"]}}}")
            .contains("pretraining settings of domain-paragraph (lmtool pretrain-domain): "))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("elsewhere")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: results))
    }

    func testResultsPathThatIsAFileIsOneLine() throws {
        try Data("keep me\n".utf8).write(to: URL(fileURLWithPath: path("file.txt")))
        for extra in [[], ["--plan"]] {
            let r = try runLMTool(ablate(extra).map { $0 == results ? path("file.txt") : $0 })
            XCTAssertNotEqual(r.status, 0)
            XCTAssertEqual(r.stderr, "Error: \(path("file.txt")): exists and is not a directory: give a results directory to --out\n")
        }
        XCTAssertEqual(try String(contentsOfFile: path("file.txt"), encoding: .utf8), "keep me\n")
        XCTAssertEqual(calls, [])
    }

    /// Two `file:` sources with the same file name in different directories are two arms, each
    /// trained on its own file; a later grid does not take one for the other.
    func testFileSourcesOfTheSameNameAreTwoArms() throws {
        try FileManager.default.createDirectory(atPath: path("a"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: path("b"), withIntermediateDirectories: true)
        try Data("x 1 2\n".utf8).write(to: URL(fileURLWithPath: path("a/glove.6B.50d.txt")))
        try Data("x 3 4\n".utf8).write(to: URL(fileURLWithPath: path("b/glove.6B.100d.txt")))
        let r = try runLMTool(ablate(["--sources", "random,file:\(path("a/glove.6B.50d.txt")),file:\(path("b/glove.6B.100d.txt"))", "--seeds", "1"]))
        XCTAssertEqual(r.status, 0, r.stderr)
        // SHA-256 (coreutils sha256sum) of "x 1 2\n": eb9bff3d…, of "x 3 4\n": 22ab7fc1….
        let trains = calls.filter { $0.hasPrefix("train ") }
        XCTAssertEqual(trains.count, 3, calls.joined(separator: "\n"))
        XCTAssertTrue(trains.contains { $0.contains("runs/file-glove-eb9bff3d-frozen-seed1 ") && $0.contains("--embeddings \(path("a/glove.6B.50d.txt"))") })
        XCTAssertTrue(trains.contains { $0.contains("runs/file-glove-22ab7fc1-frozen-seed1 ") && $0.contains("--embeddings \(path("b/glove.6B.100d.txt"))") })
        XCTAssertTrue(r.stdout.contains("| file-glove-eb9bff3d-frozen | 1 |") && r.stdout.contains("| file-glove-22ab7fc1-frozen | 1 |"), r.stdout)
        // Another file of that name, alone in a later grid, is not "already done".
        try FileManager.default.createDirectory(atPath: path("c"), withIntermediateDirectories: true)
        try Data("x 5 6\n".utf8).write(to: URL(fileURLWithPath: path("c/glove.6B.50d.txt")))
        let again = try runLMTool(ablate(["--sources", "random,file:\(path("c/glove.6B.50d.txt"))", "--seeds", "1"]))
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("steps: 1 run (0 resumed), 2 already done"), again.stdout)
        XCTAssertTrue(calls.last!.contains("--embeddings \(path("c/glove.6B.50d.txt"))"), calls.last!)
    }

    /// Changed pretraining settings give a new cache entry; the finished runs of the old one
    /// are refused instead of counted as done next to runs on the new one.
    func testRunsOnAnotherPretrainingOutputAreNotCountedAsDone() throws {
        XCTAssertEqual(try runLMTool(ablate(["--seeds", "1"])).status, 0)
        let before = calls.count
        let r = try runLMTool(ablate(["--seeds", "2", "--pretrain-epochs", "3"]))
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(calls.count, before, "nothing runs")
        XCTAssertTrue(r.stderr.hasPrefix("Error: \(results)/runs/domain-paragraph-frozen-seed1/config.json: this run used embeddings \(results)/cache/"), r.stderr)
        XCTAssertTrue(r.stderr.contains("(changed pretraining settings or inputs): use another --out, or remove the run"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        // The same settings again: more seeds are fine.
        XCTAssertEqual(try runLMTool(ablate(["--seeds", "2"])).status, 0)
    }

    func testSpecFileWithFlagsOverriding() throws {
        try Data("""
            {"sources": ["random", "file:\(path("ext.vec"))"], "modes": ["concat"], "seeds": 1,
             "train": {"preset": "tiny", "tie-weights": false, "dropout": 0.25}, "vocabulary": {"maxSize": 50},
             "corpusOptions": {"tokenizer": "simple", "lowercase": true}}
            """.utf8).write(to: URL(fileURLWithPath: path("spec.json")))
        try Data("w 1 2\n".utf8).write(to: URL(fileURLWithPath: path("ext.vec")))
        let r = try runLMTool(["ablate", "--out", results, "--corpus", path("corpus.jsonl"), "--spec", path("spec.json"), "--plan", "--seeds", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let commands = r.stdout.split(separator: "\n").filter { !$0.hasPrefix("#") }
        XCTAssertEqual(commands.count, 6, r.stdout)   // vocabulary, 4 runs, report
        XCTAssertTrue(commands[0].contains("--split train --tokenizer simple --lowercase --max-size 50"), String(commands[0]))
        // SHA-256 of "w 1 2\n" (coreutils sha256sum): 1d97cc6c….
        XCTAssertTrue(commands.contains { $0.contains("runs/file-ext-1d97cc6c-concat-seed2 ") && $0.contains("--embeddings \(path("ext.vec")) --embedding-mode concat") })
        XCTAssertTrue(commands.allSatisfy { !$0.contains("tie-weights") })
        XCTAssertTrue(commands[1].contains("--dropout 0.25 --preset tiny --seed 1"), String(commands[1]))
    }

    /// The real thing, small: no fake executable, so ablate runs this lmtool's own `vocab build`,
    /// `embed word2vec` and `train` (random and word2vec-frozen, 2 seeds, 1 epoch, 8 units) on a
    /// corpus of 120 short records. The report's means, deviations and differences are those of
    /// the runs' own summary.json files; a second ablate finds everything done; `lmtool report`
    /// rewrites the same report files from the run directories alone.
    func testRealMinimalAblationEndToEnd() throws {
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "slept"]
        let records = (0..<120).map { i in
            let text = (0..<(2 + i % 5)).map { words[(i + $0) % 8] }.joined(separator: " ")
            return "{\"text\": \"\(text)\", \"domain\": \"d\(i % 2)\", \"split\": \"\(i < 90 ? "train" : (i < 105 ? "valid" : "test"))\"}"
        }
        let corpus = path("real.jsonl")
        try Data((records.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: corpus))
        let arguments = ["ablate", "--out", results, "--corpus", corpus, "--sources", "random,word2vec", "--modes", "frozen",
                         "--seeds", "2", "--preset", "tiny", "--epochs", "1", "--embedding-size", "8", "--hidden-size", "8",
                         "--batch-size", "4", "--bptt", "6", "--threads", "1", "--pretrain-epochs", "1"]
        let r = try runLMTool(arguments)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.contains("steps: 6 run (0 resumed), 0 already done, 0 failed, 0 not run"), r.stdout)
        XCTAssertEqual(calls.count, 0, "the fake lmtool is not used")

        // The runs, as the real train wrote them.
        func summary(_ run: String) throws -> [String: Any] { try readJSONObject(atPath: results + "/runs/\(run)/summary.json") }
        var valid: [String: [Double]] = [:], test: [String: [Double]] = [:]
        for arm in ["random", "word2vec-frozen"] {
            for seed in 1...2 {
                let run = "\(arm)-seed\(seed)"
                let config = try readJSONObject(atPath: results + "/runs/\(run)/config.json")
                XCTAssertEqual((config["training"] as? [String: Any])?["seed"] as? Int, seed, run)
                let input = try XCTUnwrap(config["input_representation"] as? [String: Any], run)
                if arm == "random" {
                    XCTAssertEqual(input["kind"] as? String, "random", run)
                } else {
                    XCTAssertEqual(input["mode"] as? String, "frozen", run)
                    let vectors = try XCTUnwrap(input["path"] as? String, run)
                    XCTAssertTrue(vectors.hasPrefix(results + "/cache/") && vectors.hasSuffix("/word2vec.vec"), vectors)
                    XCTAssertEqual(input["content_hash"] as? String, try sha256sum(ofFile: vectors), run)
                }
                let s = try summary(run)
                let v = try XCTUnwrap(s["valid_ppl"] as? Double, run), t = try XCTUnwrap(s["test_ppl"] as? Double, run)
                XCTAssertTrue(v.isFinite && v > 1 && t.isFinite && t > 1, "\(run): \(v) \(t)")
                valid[arm, default: []].append(v)
                test[arm, default: []].append(t)
                XCTAssertEqual(try String(contentsOfFile: results + "/runs/\(run)/test-sentences.tsv", encoding: .utf8)
                    .split(separator: "\n").count, 15, run)
            }
        }
        XCTAssertNotEqual(valid["random"]![0], valid["random"]![1], "the seeds give different runs")

        // report.json: both seeds of each arm, mean and sample sd of their perplexities.
        func mean(_ x: [Double]) -> Double { x.reduce(0, +) / Double(x.count) }
        func sd(_ x: [Double]) -> Double { (x.map { ($0 - mean(x)) * ($0 - mean(x)) }.reduce(0, +) / Double(x.count - 1)).squareRoot() }
        let report = try readJSONObject(atPath: results + "/report.json")
        let rows = try XCTUnwrap(report["rows"] as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["arm"] as? String }, ["random", "word2vec-frozen"])
        for row in rows {
            let arm = row["arm"] as! String
            XCTAssertEqual(row["seeds"] as? [Int], [1, 2], arm)
            XCTAssertEqual(try XCTUnwrap(row["validPPLMean"] as? Double, arm), mean(valid[arm]!), accuracy: 1e-9, arm)
            XCTAssertEqual(try XCTUnwrap(row["validPPLSD"] as? Double, arm), sd(valid[arm]!), accuracy: 1e-9, arm)
            XCTAssertEqual(try XCTUnwrap(row["testPPLMean"] as? Double, arm), mean(test[arm]!), accuracy: 1e-9, arm)
            XCTAssertEqual(try XCTUnwrap(row["testPPLSD"] as? Double, arm), sd(test[arm]!), accuracy: 1e-9, arm)
        }
        let difference = try XCTUnwrap(rows[1]["difference"] as? [String: Any])
        let bySeed = zip(test["word2vec-frozen"]!, test["random"]!).map { $0 - $1 }
        XCTAssertEqual(try XCTUnwrap(difference["mean"] as? Double), mean(bySeed), accuracy: 1e-9)
        XCTAssertEqual(difference["count"] as? Int, 2)
        let md = try String(contentsOfFile: results + "/report.md", encoding: .utf8)
        XCTAssertTrue(md.contains(String(format: "| random | 2 | %.2f ± %.2f | %.2f ± %.2f | (baseline) |",
                                         mean(valid["random"]!), sd(valid["random"]!), mean(test["random"]!), sd(test["random"]!))), md)
        XCTAssertTrue(md.contains(String(format: "| word2vec-frozen | 2 | %.2f ± %.2f |", mean(valid["word2vec-frozen"]!), sd(valid["word2vec-frozen"]!))), md)
        XCTAssertTrue(r.stdout.contains(md), r.stdout)

        // Again: every step is found done.
        let again = try runLMTool(arguments)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("steps: 0 run (0 resumed), 6 already done"), again.stdout)

        // `lmtool report` from the run directories alone writes the same files.
        var before: [String: Data] = [:]
        for file in ["report.md", "report.csv", "report.json", "valid-ppl.svg", "differences.svg"] {
            before[file] = try Data(contentsOf: URL(fileURLWithPath: results + "/" + file))
            try FileManager.default.removeItem(atPath: results + "/" + file)
        }
        try FileManager.default.removeItem(atPath: results + "/ablation.json")
        try FileManager.default.removeItem(atPath: results + "/cache")
        let regenerated = try runLMTool(["report", results])
        XCTAssertEqual(regenerated.status, 0, regenerated.stderr)
        XCTAssertEqual(regenerated.stdout, md)
        for (file, data) in before {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: results + "/" + file)), data, file)
        }
    }

    func lmtoolBinary() throws -> URL { try lmtoolBinaryURL() }
}
