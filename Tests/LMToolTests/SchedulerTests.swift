import Foundation
import XCTest
import Glibc

/// `ablate --plan` run by schedulers with the real lmtool on a tiny grid (2 arms x 2 seeds, one
/// pretraining step): every plan line may run again (`train --if-needed`), the shell lines run
/// twice retrain nothing, the GNU parallel script and a real single-node Slurm run the grid to
/// its report. The scheduler tests install Debian's packages as root (apt-get, retried) or skip
/// with a message; the Slurm daemons they start are stopped by pid in tearDown, always.
final class SchedulerTests: XCTestCase {
    var dir = ""
    /// Daemons a test started (their pids), stopped in tearDown.
    var daemons: [pid_t] = []

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "lmtool-sched-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        // 300 records: 8 of 10 train, 1 valid, 1 test; two domains for pretrain-domain.
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "slept"]
        var lines: [String] = []
        for i in 0..<300 {
            let split = i % 10 < 8 ? "train" : i % 10 == 8 ? "valid" : "test"
            let text = (0..<(2 + i % 5)).map { words[(i + $0) % 8] }.joined(separator: " ")
            lines.append("{\"text\": \"\(text)\", \"domain\": \"\(i % 3 == 1 ? "y" : "x")\", \"split\": \"\(split)\"}")
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/corpus.jsonl", atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws {
        for pid in daemons.reversed() { stop(pid) }
        daemons = []
        try? FileManager.default.removeItem(atPath: dir)
    }

    var results: String { dir + "/results" }

    /// `lmtool ablate ... --plan` of the tiny grid, with extra arguments.
    func plan(_ extra: [String] = []) throws -> String {
        let r = try runLMTool(["ablate", "--out", results, "--corpus", dir + "/corpus.jsonl", "--sources", "random,domain-paragraph",
                               "--modes", "frozen", "--seeds", "2", "--preset", "tiny", "--epochs", "1", "--embedding-size", "8",
                               "--hidden-size", "8", "--batch-size", "4", "--bptt", "6", "--threads", "1", "--pretrain-epochs", "1",
                               "--plan"] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout
    }

    /// Runs `script` with bash (through system(3), not Foundation's Process, whose exit
    /// detection is unreliable with daemons around), killed after `timeout` seconds; returns the
    /// status and the combined output.
    @discardableResult
    func bash(_ script: String, environment: [String: String] = [:], timeout: Int = 120) throws -> (status: Int32, output: String) {
        let file = dir + "/script-\(UUID().uuidString).sh", log = file + ".log"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        let env = environment.map { "\($0.key)=\(quote($0.value))" }.joined(separator: " ")
        let status = system("env \(env) timeout -s KILL \(timeout) /bin/bash \(quote(file)) > \(quote(log)) 2>&1 < /dev/null")
        return (status == -1 ? -1 : (status >> 8) & 0xff, (try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
    }

    func quote(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Every file under runs/ and cache/ but the lock files (what a second pass must leave alone).
    func trainedFiles() throws -> [String: Data] {
        var all: [String: Data] = [:]
        for sub in ["runs", "cache"] {
            // Not the lock files (`runs/.NAME.lock`, rewritten with the pid of every lmtool that takes them).
            for (name, data) in try directorySnapshot(results + "/" + sub) where !name.hasSuffix(".lock") { all[sub + "/" + name] = data }
        }
        return all
    }

    func assertGridFinished(file: StaticString = #filePath, line: UInt = #line) throws {
        for run in ["random-seed1", "random-seed2", "domain-paragraph-frozen-seed1", "domain-paragraph-frozen-seed2"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: results + "/runs/\(run)/summary.json"), run, file: file, line: line)
        }
        let report = try String(contentsOfFile: results + "/report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("| random | 2 |") && report.contains("| domain-paragraph-frozen | 2 |"), report, file: file, line: line)
        XCTAssertFalse(report.contains("Unfinished"), report, file: file, line: line)
    }

    // MARK: - train --if-needed

    /// `--if-needed` on a finished run makes the configuration check `--resume` makes (the same
    /// refusal, status 1, nothing written) before it says "nothing to do"; it used to skip the run
    /// whatever the flags said. A larger `--epochs` extends the run as `--resume --epochs` does.
    func testTrainIfNeededChecksAFinishedRunLikeResume() throws {
        let run = dir + "/run"
        func arguments(epochs: Int) -> [String] {
            ["train", "--run", run, "--corpus", dir + "/corpus.jsonl", "--preset", "tiny", "--embedding-size", "8", "--hidden-size", "8",
             "--batch-size", "4", "--bptt", "6", "--epochs", "\(epochs)", "--threads", "1"]
        }
        let train = arguments(epochs: 1)
        let first = try runLMTool(train)
        XCTAssertEqual(first.status, 0, first.stderr)
        let before = try directorySnapshot(run)
        try "the cat\n".write(toFile: dir + "/other.txt", atomically: true, encoding: .utf8)
        for (extra, expected) in [(["--hidden-size", "500"], "model.hidden_size 8 → 500"),
                                  (["--softmax", "adaptive:4"], "model.softmax"),
                                  (["--train", dir + "/other.txt"], "corpus.train")] {
            let changed = train + extra
            let resumed = try runLMTool(changed + ["--resume"])
            let skipped = try runLMTool(changed + ["--if-needed"])
            XCTAssertEqual(skipped.status, 1, "\(extra): \(skipped.stdout)")
            XCTAssertFalse(skipped.stdout.contains("nothing to do"), skipped.stdout)
            XCTAssertTrue(skipped.stderr.hasPrefix("Error: \(run)/config.json: --resume with a different configuration: "), skipped.stderr)
            XCTAssertTrue(skipped.stderr.contains(expected), skipped.stderr)
            XCTAssertEqual(skipped.stderr.split(separator: "\n").count, 1, skipped.stderr)
            XCTAssertEqual(skipped.stderr, resumed.stderr, "the same refusal as --resume")
        }
        let tokens = try runLMTool(train + ["--train-tokens", "50", "--if-needed"])
        XCTAssertEqual(tokens.status, 1, tokens.stdout)
        XCTAssertEqual(tokens.stderr, "Error: \(run)/last.safetensors: --resume with a different --train-tokens: (all) → 50\n")
        XCTAssertEqual(try directorySnapshot(run), before, "nothing written")
        // The run's own flags: nothing to do.
        let same = try runLMTool(train + ["--if-needed"])
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertEqual(same.stdout, "\(run): finished (summary.json present), nothing to do\n")
        XCTAssertEqual(try directorySnapshot(run), before)
        // --epochs 2 extends the finished run (as --resume --epochs 2 does), not "nothing to do".
        let extended = try runLMTool(arguments(epochs: 2) + ["--if-needed"])
        XCTAssertEqual(extended.status, 0, extended.stderr)
        XCTAssertTrue(extended.stdout.hasPrefix("\(run): finished, but --epochs 2 (the run has 1) continues it: resuming (--resume)\n"), extended.stdout)
        let metrics = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").filter { $0.contains("\"valid\"") }.count, 2, metrics)
    }

    func testTrainIfNeededStartsResumesAndSkips() throws {
        let run = dir + "/run"
        let train = ["train", "--run", run, "--corpus", dir + "/corpus.jsonl", "--preset", "tiny", "--embedding-size", "8",
                     "--hidden-size", "8", "--batch-size", "4", "--bptt", "6", "--epochs", "2", "--threads", "1", "--if-needed"]
        // Interrupted after 5 steps: last.safetensors, no summary.json.
        let first = try runLMTool(train + ["--stop-after-steps", "5"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/last.safetensors"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: run + "/summary.json"))
        // The same line again resumes it to the end (without --if-needed: "already holds a run").
        XCTAssertNotEqual(try runLMTool(Array(train.dropLast())).status, 0)
        let second = try runLMTool(train)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("\(run): interrupted, resuming (--resume)"), second.stdout)
        let metrics = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)
        XCTAssertEqual(metrics.split(separator: "\n").filter { $0.contains("\"valid\"") }.count, 2, metrics)
        // Finished: a note, status 0, nothing rewritten.
        let before = try directorySnapshot(run)
        let third = try runLMTool(train)
        XCTAssertEqual(third.status, 0, third.stderr)
        XCTAssertEqual(third.stdout, "\(run): finished (summary.json present), nothing to do\n")
        XCTAssertEqual(try directorySnapshot(run), before)
        // A directory left without a checkpoint starts again.
        for file in ["last.safetensors", "summary.json"] { try FileManager.default.removeItem(atPath: run + "/" + file) }
        let fourth = try runLMTool(train)
        XCTAssertEqual(fourth.status, 0, fourth.stderr)
        XCTAssertTrue(fourth.stdout.contains("started without a checkpoint, starting again (--force)"), fourth.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: run + "/summary.json"))
        // It decides --resume/--force itself.
        let both = try runLMTool(train + ["--resume"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("--if-needed chooses --resume or --force itself"), both.stderr)
    }

    /// pretrain-glomo and pretrain-domain, the other run-like plan steps, take the same flag.
    func testPretrainingIfNeededResumesAndSkips() throws {
        let out = dir + "/glomo"
        let glomo = ["pretrain-glomo", "--corpus", dir + "/corpus.jsonl", "--out", out, "--embedding-size", "8", "--heads", "2",
                     "--graph-layers", "2", "--conv-layers", "1", "--sequence-length", "8", "--batch-size", "4", "--positions", "4",
                     "--checkpoint-every", "3", "--valid-sequences", "4", "--threads", "1", "--steps", "6", "--if-needed"]
        let first = try runLMTool(glomo + ["--stop-after-steps", "3"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + "/summary.json"))
        let second = try runLMTool(glomo)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("\(out): interrupted, resuming (--resume)"), second.stdout)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/summary.json"))
        let before = try directorySnapshot(out)
        let third = try runLMTool(glomo)
        XCTAssertEqual(third.status, 0, third.stderr)
        XCTAssertEqual(third.stdout, "\(out): finished (summary.json present), nothing to do\n")
        XCTAssertEqual(try directorySnapshot(out), before)

        let domain = ["pretrain-domain", "--corpus", dir + "/corpus.jsonl", "--out", dir + "/domain", "--embedding-size", "8",
                      "--hidden-size", "4", "--epochs", "1", "--threads", "1", "--if-needed"]
        XCTAssertEqual(try runLMTool(domain).status, 0)
        let domainBefore = try directorySnapshot(dir + "/domain")
        let again = try runLMTool(domain)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stdout, "\(dir)/domain: finished (summary.json present), nothing to do\n")
        XCTAssertEqual(try directorySnapshot(dir + "/domain"), domainBefore)
        XCTAssertNotEqual(try runLMTool(Array(domain.dropLast())).status, 0, "without --if-needed: refused")
    }

    // MARK: - shell plan

    func testShellPlanLinesRunTwiceRetrainNothingAndResumeAnInterruptedRun() throws {
        let script = try plan()
        let lines = script.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("#") }
        XCTAssertEqual(lines.map { $0.components(separatedBy: "  # ").last! }, ["vocabulary", "pretraining"] + Array(repeating: "training", count: 4) + ["report"])
        XCTAssertTrue(lines.last!.hasSuffix(" report \(results)  # report"), lines.last!)
        // Interrupt one run before the plan: its line stopped after 3 steps.
        XCTAssertEqual(try bash(lines[0]).status, 0)
        let interrupted = lines.first { $0.contains("runs/random-seed2 ") }!
        let stopped = try bash(interrupted.replacingOccurrences(of: "--if-needed  # training", with: "--if-needed --stop-after-steps 3"))
        XCTAssertEqual(stopped.status, 0, stopped.output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: results + "/runs/random-seed2/last.safetensors"))

        let first = try bash("set -e\n" + script)
        XCTAssertEqual(first.status, 0, first.output)
        XCTAssertTrue(first.output.contains("vocab: done, skipped"), first.output)
        XCTAssertTrue(first.output.contains("\(results)/runs/random-seed2: interrupted, resuming (--resume)"), first.output)
        try assertGridFinished()
        let trained = try trainedFiles()
        let report = try String(contentsOfFile: results + "/report.md", encoding: .utf8)

        // Every line again (as a requeued job would): status 0, nothing retrained, the same report.
        let second = try bash("set -e\n" + script)
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertEqual(second.output.components(separatedBy: "finished (summary.json present), nothing to do").count - 1, 5, second.output)
        XCTAssertEqual(try trainedFiles(), trained)
        XCTAssertEqual(try String(contentsOfFile: results + "/report.md", encoding: .utf8), report)
    }

    // MARK: - GNU parallel

    func testParallelScriptRunsTheGridToItsReport() throws {
        try requirePackages(commands: ["parallel"], packages: ["parallel"])
        let script = try plan(["--plan-format", "parallel"])
        XCTAssertTrue(script.hasPrefix("#!/bin/bash\n"), script)
        let first = try bash(script, environment: ["LMTOOL_JOBS": "2"], timeout: 60)
        XCTAssertEqual(first.status, 0, first.output)
        try assertGridFinished()
        let trained = try trainedFiles()
        let second = try bash(script, environment: ["LMTOOL_JOBS": "2"], timeout: 60)
        XCTAssertEqual(second.status, 0, second.output)
        XCTAssertEqual(try trainedFiles(), trained, "a second pass retrains nothing")
    }

    // MARK: - Slurm

    func testSlurmScriptRunsTheGridOnARealSingleNodeSlurm() throws {
        try requirePackages(commands: ["slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "munged", "munge"],
                            packages: ["slurmctld", "slurmd", "slurm-client", "munge"])
        // The plan first: no lmtool child of this process while the daemons run.
        let script = try plan(["--plan-format", "slurm"])
        let conf = try startSlurm()
        let environment = ["SLURM_CONF": conf]
        let submitted = try bash(script, environment: environment, timeout: 30)
        XCTAssertEqual(submitted.status, 0, submitted.output)
        // vocabulary, pretraining, training array, report: four jobs.
        XCTAssertEqual(submitted.output.split(separator: "\n").filter { $0.contains(": job ") }.count, 4, submitted.output)
        // Wait for the queue to drain and the report to appear.
        let deadline = Date().addingTimeInterval(60)
        var queue = ""
        repeat {
            usleep(500_000)
            queue = try bash("squeue -h -o '%i %j %T %r'", environment: environment, timeout: 10).output
        } while (queue.contains("lmtool-") || !FileManager.default.fileExists(atPath: results + "/report.md")) && Date() < deadline
        let logs = (try? FileManager.default.contentsOfDirectory(atPath: results + "/slurm")) ?? []
        XCTAssertFalse(queue.contains("lmtool-"), "jobs still queued after 60 s: \(queue)")
        XCTAssertEqual(logs.filter { $0.hasPrefix("training-") }.count, 4, logs.joined(separator: " "))
        try assertGridFinished()
    }

    /// Installs the Debian packages when a command is missing and this is root (apt-get,
    /// retried as scripts/install-deps.sh does), else skips the test with a message.
    func requirePackages(commands: [String], packages: [String]) throws {
        func missing() throws -> [String] {
            try commands.filter { try bash("command -v \($0) >/dev/null", timeout: 10).status != 0 }
        }
        var absent = try missing()
        if absent.isEmpty { return }
        guard getuid() == 0 else {
            throw XCTSkip("\(absent.joined(separator: ", ")) not installed and not root: apt-get install \(packages.joined(separator: " ")) to run this test")
        }
        let install = try bash("""
            export DEBIAN_FRONTEND=noninteractive
            retry() { for n in 1 2 3; do "$@" && return 0; echo "attempt $n failed: $*" >&2; sleep $((n * 2)); done; return 1; }
            apt-get install -y -qq --no-install-recommends \(packages.joined(separator: " ")) || { retry apt-get update -qq && retry apt-get install -y -qq --no-install-recommends \(packages.joined(separator: " ")); }
            """, timeout: 300)
        absent = try missing()
        if !absent.isEmpty {
            throw XCTSkip("cannot install \(packages.joined(separator: " ")) (\(absent.joined(separator: ", ")) missing): "
                          + install.output.split(separator: "\n").suffix(3).joined(separator: " | "))
        }
    }

    /// Starts munged (unless one answers already), slurmctld and slurmd in the foreground with a
    /// configuration in the test's folder (docs: /work/shared/DESIGN.md "Scheduler integration
    /// tests"); waits for the node to be idle; returns the slurm.conf path.
    func startSlurm() throws -> String {
        guard getuid() == 0 else { throw XCTSkip("a single-node Slurm needs root (SlurmUser=root)") }
        if try bash("munge -n | unmunge >/dev/null 2>&1", timeout: 10).status != 0 {
            try FileManager.default.createDirectory(atPath: "/run/munge", withIntermediateDirectories: true)
            try start("/usr/sbin/munged", ["-F", "--force"])
            var ready = false
            for _ in 0..<50 where !ready {
                usleep(100_000)
                ready = try bash("munge -n | unmunge >/dev/null 2>&1", timeout: 10).status == 0
            }
            guard ready else { throw XCTSkip("munged did not start (is /etc/munge/munge.key there?)") }
        }
        let host = try bash("hostname -s", timeout: 10).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let slurm = dir + "/slurm"
        for sub in ["state", "spool"] { try FileManager.default.createDirectory(atPath: slurm + "/" + sub, withIntermediateDirectories: true) }
        // Ports of our own, so that no other Slurm on the machine answers.
        let port = 20000 + Int(getpid() % 10000) * 2
        let conf = slurm + "/slurm.conf"
        try """
            ClusterName=lmtooltest
            SlurmctldHost=\(host)
            SlurmctldPort=\(port)
            SlurmdPort=\(port + 1)
            SlurmUser=root
            SlurmdUser=root
            AuthType=auth/munge
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_Core
            ReturnToService=2
            StateSaveLocation=\(slurm)/state
            SlurmdSpoolDir=\(slurm)/spool
            SlurmctldPidFile=\(slurm)/slurmctld.pid
            SlurmdPidFile=\(slurm)/slurmd.pid
            SlurmctldLogFile=\(slurm)/slurmctld.log
            SlurmdLogFile=\(slurm)/slurmd.log
            NodeName=\(host) CPUs=2 RealMemory=20000 State=UNKNOWN
            PartitionName=test Nodes=\(host) Default=YES MaxTime=INFINITE State=UP

            """.write(toFile: conf, atomically: true, encoding: .utf8)
        try start("/usr/sbin/slurmctld", ["-D", "-f", conf], environment: ["SLURM_CONF": conf])
        try start("/usr/sbin/slurmd", ["-D", "-f", conf], environment: ["SLURM_CONF": conf])
        var state = ""
        for _ in 0..<60 where state != "idle" {
            usleep(250_000)
            state = try bash("sinfo -h -o %t", environment: ["SLURM_CONF": conf], timeout: 10).output.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let log = (try? String(contentsOfFile: slurm + "/slurmctld.log", encoding: .utf8)) ?? ""
        XCTAssertEqual(state, "idle", "the node is not idle after 15 s; slurmctld.log: " + log.split(separator: "\n").suffix(5).joined(separator: " | "))
        if state != "idle" { throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "Slurm did not come up"]) }
        return conf
    }

    /// Starts a daemon in the foreground as a child of this process (stdin, stdout and stderr
    /// on /dev/null); tearDown stops it by pid and reaps it.
    func start(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] { posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0) }
        let env = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup($0) } + [nil]
        defer { for p in argv + envp { free(p) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        XCTAssertEqual(rc, 0, "\(executable): \(String(cString: strerror(rc)))")
        if rc == 0 { daemons.append(pid) }
    }

    /// Stops a daemon started by `start`: SIGTERM, up to 10 s, then SIGKILL; reaped.
    func stop(_ pid: pid_t) {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        for _ in 0..<200 {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(50_000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
    }
}
