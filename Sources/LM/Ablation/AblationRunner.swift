import Foundation
import Support
import Glibc
import Synchronization

/// Runs the steps of an `AblationPlan` as subprocesses of an `lmtool` executable, in order:
/// a complete step is skipped, an interrupted one continued with `--resume`, a directory left
/// without a checkpoint restarted with `--force`. A step that fails is recorded and the steps
/// that need it are skipped; the others still run. A step killed by a signal (or ending with
/// status 130/143, an interrupted lmtool) stops the whole grid: run the same command again to
/// continue where it stopped.
///
///     let plan = try AblationPlan(spec: spec, results: "results")
///     let outcome = try AblationRunner(plan: plan, executable: "/proc/self/exe").run { print($0) }
public struct AblationRunner {
    public var plan: AblationPlan
    /// The lmtool binary that runs each step (the running one: `/proc/self/exe`).
    public var executable: String

    public init(plan: AblationPlan, executable: String) {
        self.plan = plan
        self.executable = executable
    }

    /// What happened to the steps.
    public struct Outcome: Equatable, Sendable {
        /// Complete before this call.
        public var skipped: [String] = []
        /// Run to completion by this call (`resumed` lists those continued with --resume).
        public var ran: [String] = []
        public var resumed: [String] = []
        /// Failed, with a one-line reason.
        public var failed: [(name: String, reason: String)] = []
        /// Not run because a step they need failed.
        public var blocked: [String] = []

        public static func == (a: Outcome, b: Outcome) -> Bool {
            a.skipped == b.skipped && a.ran == b.ran && a.resumed == b.resumed && a.blocked == b.blocked
                && a.failed.map(\.name) == b.failed.map(\.name) && a.failed.map(\.reason) == b.failed.map(\.reason)
        }
    }

    /// A step ended by a signal or an interrupt status; the grid stops.
    public struct Interrupted: Error, CustomStringConvertible {
        public var step: String
        public var how: String
        /// The status `lmtool ablate` exits with when the step was stopped cleanly (its state
        /// saved): 128 + the signal, as `train` exits; nil when it was killed (status 1).
        public var cleanStopStatus: Int32? = nil
        public var description: String {
            "\(step): \(how); run the same command again to resume (finished runs are kept)"
        }
    }

    /// Runs every step not yet complete; `log` receives one line per step.
    /// - Throws: `Interrupted` when a step is killed or interrupted.
    public func run(log: (String) -> Void) throws -> Outcome {
        var outcome = Outcome()
        var unusable = Set<String>()
        for (i, step) in plan.steps.enumerated() {
            let tag = "[\(i + 1)/\(plan.steps.count)] \(step.name)"
            let state = step.state
            if state == .complete {
                outcome.skipped.append(step.name)
                log("\(tag): done, skipped")
                continue
            }
            if let missing = step.dependencies.first(where: unusable.contains) {
                unusable.insert(step.name)
                outcome.blocked.append(step.name)
                log("\(tag): not run, it needs \(missing), which failed")
                continue
            }
            for directory in step.directories {
                try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            let arguments = step.argumentsForCurrentState
            log("\(tag): " + (state == .interrupted ? "resuming" : state == .partial ? "restarting (no checkpoint)" : "running")
                + ": " + ([executable] + arguments).map(shellQuote).joined(separator: " "))
            let ended = try ChildProcess.run(executable, arguments)
            if let signal = ChildProcess.stopSignal {
                throw Interrupted(step: step.name, how: "stopped by signal \(signal) (the step was asked to save its state)",
                                  cleanStopStatus: 128 + signal)
            }
            let status: Int32
            switch ended {
            case .signaled(let signal): throw Interrupted(step: step.name, how: "killed by signal \(signal)")
            case .exited(let code): status = code
            }
            if status == 130 || status == 143 {
                throw Interrupted(step: step.name, how: "interrupted (exit status \(status))", cleanStopStatus: status)
            }
            if status != 0 {
                unusable.insert(step.name)
                outcome.failed.append((step.name, "exit status \(status)"))
                log("\(tag): FAILED with exit status \(status)")
            } else if !FileManager.default.fileExists(atPath: step.completionMarker) {
                unusable.insert(step.name)
                outcome.failed.append((step.name, "exited with status 0 but wrote no \(step.completionMarker)"))
                log("\(tag): FAILED: no \(step.completionMarker)")
            } else {
                outcome.ran.append(step.name)
                if state == .interrupted { outcome.resumed.append(step.name) }
            }
        }
        return outcome
    }
}

/// Runs one step as a child process in its own process group, so a Ctrl-C or a SIGTERM sent
/// to ablate reaches the child exactly once — forwarded by ablate — and the child can save its
/// state and stop (lmtool takes a repeat within 1 s as the same request, but exits at once
/// without saving on a later second signal, `StopRequest`). The child gets `LMTOOL_PARENT_PID` in its
/// environment (`Support.ParentDeath`): if ablate dies without forwarding anything (SIGKILL),
/// the kernel sends the child SIGTERM, so no orphan keeps writing into the results directory.
enum ChildProcess {
    enum Ending { case exited(Int32), signaled(Int32) }

    /// The signal that asked ablate to stop, if any.
    static var stopSignal: Int32? {
        let s = ablationStopSignal.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Ending {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for a in argv { free(a) } }
        let environment: [UnsafeMutablePointer<CChar>?] = ParentDeath.childEnvironment().map { strdup($0) } + [nil]
        defer { for e in environment { free(e) } }
        for s in [SIGINT, SIGTERM, SIGHUP] {
            _ = signal(s) { received in
                _ = ablationStopSignal.compareExchange(expected: 0, desired: received, ordering: .relaxed)
                let child = ablationChild.load(ordering: .relaxed)
                if child > 0 { kill(child, received) } else { _exit(128 + received) }
            }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, nil, &attributes, argv, environment)
        if rc != 0 { throw AblationError("\(executable): cannot run: \(String(cString: strerror(rc)))") }
        ablationChild.store(pid, ordering: .relaxed)
        defer { ablationChild.store(0, ordering: .relaxed) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { throw AblationError("\(executable): cannot wait for the child: \(String(cString: strerror(errno)))") }
        }
        return status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
    }
}

/// The running child (written by the runner, read by the signal handler) and the first stop
/// signal (written by the handler, read by the runner): lock-free atomics, as `StopRequest`'s flag.
private let ablationChild = Atomic<pid_t>(0)
private let ablationStopSignal = Atomic<Int32>(0)
