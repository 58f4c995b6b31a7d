import Foundation
import Support
import XCTest

/// One writer per output, between real processes: a second lmtool on a run directory, a
/// results directory or an output file that another process is writing stops with one line
/// naming it and the holder's pid; a killed holder blocks nothing. And a killed ablate takes its
/// running step with it.
final class LockTests: XCTestCase {
    var dir: String!
    var started: [Process] = []

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmtool-lock-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "slept"]
        for (name, count) in [("train.txt", 300), ("valid.txt", 20)] {
            let lines = (0..<count).map { i in (0..<(3 + i % 4)).map { words[(i + $0) % 8] }.joined(separator: " ") }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path(name)))
        }
        let records = (0..<300).map { i in #"{"text": "the cat sat on mat \#(i % 7)", "domain": "\#(i % 2 == 0 ? "x" : "y")", "split": "\#(["train", "train", "valid", "test"][i % 4])"}"# }
        try Data((records.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path("corpus.jsonl")))
    }

    override func tearDownWithError() throws {
        for p in started where p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: dir)
    }

    func path(_ name: String) -> String { dir + "/" + name }

    /// The lmtool binary beside the test bundle.
    func binary() throws -> URL { try lmtoolBinaryURL() }

    /// Starts lmtool in the background, output discarded.
    func start(_ arguments: [String]) throws -> Process {
        let p = Process()
        p.executableURL = try binary()
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        started.append(p)
        return p
    }

    /// Starts lmtool with posix_spawn, output discarded; reap it with `waitpid`. (Foundation's
    /// `Process` does not notice the end of a killed ablate while its orphaned step lives on.)
    func spawn(_ arguments: [String]) throws -> pid_t {
        let executable = try binary().path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        var pid: pid_t = 0
        XCTAssertEqual(posix_spawn(&pid, executable, &actions, nil, argv, environ), 0)
        return pid
    }

    /// Waits up to `seconds` for `condition`.
    func waitFor(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// The pid in a lock file, if the file holds one.
    func pid(inLockFile file: String) -> Int32? {
        (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    /// Whether `pid` is gone (or a zombie nobody has reaped yet: it runs no more).
    func isGone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        let afterName = stat.split(separator: ")").last ?? ""
        return afterName.trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    func trainArguments(_ run: String, epochs: Int) -> [String] {
        ["train", "--run", run, "--train", path("train.txt"), "--valid", path("valid.txt"), "--preset", "tiny",
         "--embedding-size", "8", "--hidden-size", "8", "--batch-size", "4", "--bptt", "6", "--epochs", String(epochs), "--threads", "1"]
    }

    /// Expects failure with the single line `Error: OUTPUT: in use by another lmtool process (pid PID; ...)`.
    func assertRefused(_ arguments: [String], output: String, holder: Int32, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try runLMTool(arguments)
        XCTAssertNotEqual(r.status, 0, "\(arguments) ran beside the holder", file: file, line: line)
        let message = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(message.split(separator: "\n").count, 1, "one line: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(message.hasPrefix("Error: \(output): in use by another lmtool process (pid \(holder); lock file "),
                      message, file: file, line: line)
    }

    /// Two `lmtool train` on one run directory (new, --force, --resume): the second is refused
    /// and changes nothing; once the first is killed with SIGKILL, --resume continues the run.
    func testSecondTrainOnARunInUseIsRefusedAndAKilledHolderBlocksNothing() throws {
        let run = path("run")
        let holder = try start(trainArguments(run, epochs: 100_000))
        XCTAssertTrue(waitFor(60) { FileManager.default.fileExists(atPath: run + "/last.safetensors") }, "the first train never saved a checkpoint")
        XCTAssertEqual(pid(inLockFile: path(".run.lock")), holder.processIdentifier)
        let config = try Data(contentsOf: URL(fileURLWithPath: run + "/config.json"))

        try assertRefused(trainArguments(run, epochs: 1) + ["--seed", "2"], output: run, holder: holder.processIdentifier)
        try assertRefused(trainArguments(run, epochs: 1) + ["--seed", "2", "--force"], output: run, holder: holder.processIdentifier)
        try assertRefused(["train", "--run", run, "--resume"], output: run, holder: holder.processIdentifier)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: run + "/config.json")), config, "the refused runs rewrote config.json")
        XCTAssertTrue(holder.isRunning)

        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        let resumed = try runLMTool(["train", "--run", run, "--resume", "--stop-after-steps", "1", "--threads", "1"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertNotEqual(pid(inLockFile: path(".run.lock")), holder.processIdentifier, "the resumed train took the lock")
    }

    /// Every other writer, against a lock held by this test process: pretrain-domain,
    /// pretrain-glomo (new and --resume), embed word2vec / bilm / convert / align, ablate.
    func testEveryWriterTakesTheLockOfItsOutput() throws {
        let me = getpid()
        let corpus = path("corpus.jsonl")
        let cases: [(output: String, arguments: [String])] = [
            (path("domain"), ["pretrain-domain", "--corpus", corpus, "--out", path("domain")]),
            (path("domain"), ["pretrain-domain", "--corpus", corpus, "--out", path("domain"), "--resume"]),
            (path("glomo"), ["pretrain-glomo", "--corpus", corpus, "--out", path("glomo")]),
            (path("glomo"), ["pretrain-glomo", "--out", path("glomo"), "--resume"]),
            (path("w2v.vec"), ["embed", "word2vec", corpus, "--out", path("w2v.vec")]),
            (path("bilm.vec"), ["embed", "bilm", "--corpus", corpus, "--out", path("bilm.vec")]),
            (path("converted.vec"), ["embed", "convert", path("w2v.vec"), "--out", path("converted.vec")]),
            (path("aligned.vec"), ["embed", "align", "--embeddings", path("w2v.vec"), "--vocab", path("v.txt"), "--out", path("aligned.vec")]),
            (path("results"), ["ablate", "--out", path("results"), "--corpus", corpus, "--sources", "random", "--seeds", "1"]),
        ]
        for (output, _) in cases { try OutputLock.acquire(output) }
        for (output, arguments) in cases {
            try assertRefused(arguments, output: output, holder: me)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }.sorted(),
                       ["corpus.jsonl", "train.txt", "valid.txt"], "a refused command wrote something")
    }

    /// `lmtool ablate` killed with SIGKILL while a step trains: the step (which the kernel sends
    /// SIGTERM) saves its state and ends within seconds instead of training on as an orphan.
    func testKilledAblateTakesItsRunningStepWithIt() throws {
        let results = path("results")
        let ablate = try spawn(["ablate", "--out", results, "--corpus", path("corpus.jsonl"), "--sources", "random", "--seeds", "1",
                                "--preset", "tiny", "--embedding-size", "8", "--hidden-size", "8", "--epochs", "100000", "--threads", "1"])
        let lockFile = results + "/runs/.random-seed1.lock"
        var child: Int32?
        XCTAssertTrue(waitFor(60) {
            child = pid(inLockFile: lockFile)
            return child != nil && FileManager.default.fileExists(atPath: results + "/runs/random-seed1/config.json")
        }, "ablate never started its training step")
        guard let step = child else {
            kill(ablate, SIGKILL)
            var status: Int32 = 0
            waitpid(ablate, &status, 0)
            return
        }
        XCTAssertNotEqual(step, ablate)
        XCTAssertFalse(isGone(step), "the step is running")

        kill(ablate, SIGKILL)
        var status: Int32 = 0
        XCTAssertEqual(waitpid(ablate, &status, 0), ablate)
        XCTAssertTrue(waitFor(10) { isGone(step) }, "the training step \(step) outlived its killed ablate")
        if !isGone(step) { kill(step, SIGKILL) }
    }
}
