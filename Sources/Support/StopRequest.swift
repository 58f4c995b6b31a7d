import Glibc
import Synchronization

/// SIGINT and SIGTERM as a request to stop training cleanly: the handler only sets a flag, the
/// training loop (the LM trainer, the domain classifier's, GLoMo pretraining) polls
/// `StopRequest.signal` between steps, saves a valid checkpoint and returns.
///
/// One request is often delivered twice: `timeout` signals the child and then its process group,
/// a scheduler or a wrapper may repeat it, and in a multi-threaded process a second thread can
/// take the copy while the first is still in the handler. So a signal less than
/// `repeatIntervalNanoseconds` (1 s) after the first is the same request and changes nothing.
/// A signal that comes later is a deliberate second Ctrl-C (someone who will not wait for the
/// checkpoint): it exits at once with `abortExitStatus` (75, not the clean stop's 128 + signal),
/// after writing one line to standard error saying that no checkpoint was saved.
///
///     StopRequest.install()
///     defer { StopRequest.uninstall() }
///     for batch in batches {
///         if let signal = StopRequest.signal { saveLast(); print("stopped by signal \(signal)"); break }
///         step(batch)
///     }
public enum StopRequest {
    /// The signal that asked to stop (`SIGINT` or `SIGTERM`), or nil.
    public static var signal: Int32? {
        let s = stopRequestSignal.load(ordering: .acquiring)
        return s == 0 ? nil : s
    }

    /// A second signal this long after the first (or later) exits at once; an earlier one is
    /// the first request delivered again. (Computed, not stored: the signal handler reads it,
    /// and a stored static is initialized lazily, which is not async-signal-safe.)
    public static var repeatIntervalNanoseconds: Int64 { 1_000_000_000 }

    /// The exit status after a deliberate second signal: the process ends without saving a
    /// checkpoint (EX_TEMPFAIL; a clean stop exits with 128 + the signal).
    public static var abortExitStatus: Int32 { 75 }

    /// Routes SIGINT and SIGTERM to the stop flag and clears it.
    public static func install() {
        stopRequestSignal.store(0, ordering: .releasing)
        stopRequestTime.store(0, ordering: .releasing)
        for s in [SIGINT, SIGTERM] {
            _ = Glibc.signal(s) { received in
                var now = timespec()
                clock_gettime(CLOCK_MONOTONIC, &now)
                guard StopRequest.receive(received, atNanoseconds: Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)) else { return }
                let message: StaticString = received == SIGINT
                    ? "Error: a second SIGINT (Ctrl-C) stopped training at once, without saving a checkpoint: the training since the last checkpoint is lost\n"
                    : "Error: a second SIGTERM stopped training at once, without saving a checkpoint: the training since the last checkpoint is lost\n"
                _ = write(2, message.utf8Start, message.utf8CodeUnitCount)
                _exit(StopRequest.abortExitStatus)
            }
        }
    }

    /// Restores the default actions of SIGINT and SIGTERM and clears the flag.
    public static func uninstall() {
        _ = Glibc.signal(SIGINT, SIG_DFL)
        _ = Glibc.signal(SIGTERM, SIG_DFL)
        stopRequestSignal.store(0, ordering: .releasing)
        stopRequestTime.store(0, ordering: .releasing)
    }

    /// What the handler does with `signal` received at `now` (monotonic nanoseconds): the first
    /// one sets the flag; another within `repeatIntervalNanoseconds` of the first is the same
    /// request; a later one returns true (exit at once). Async-signal-safe (lock-free atomics
    /// only): several threads may run it at the same time, and exactly one of them is first.
    public static func receive(_ signal: Int32, atNanoseconds now: Int64) -> Bool {
        let stamp = Swift.max(now, 1)   // 0 marks "no request yet"
        let (isFirst, first) = stopRequestTime.compareExchange(expected: 0, desired: stamp, ordering: .acquiringAndReleasing)
        if isFirst {
            stopRequestSignal.store(signal, ordering: .releasing)
            return false
        }
        return stamp - first >= repeatIntervalNanoseconds
    }
}

/// Written by the signal handler (lock-free atomics), read by the trainer: the signal that asked
/// to stop, and when the first one arrived (monotonic nanoseconds; 0: none yet).
private let stopRequestSignal = Atomic<Int32>(0)
private let stopRequestTime = Atomic<Int64>(0)

/// The one stop check of the three trainers (the LM's, the domain classifier's, GLoMo
/// pretraining): called before every optimizer step, it says why the session must stop now —
/// a SIGINT or SIGTERM (`StopRequest`), or the session's step limit (`--stop-after-steps`) — or
/// returns nil and counts the step. The trainer then saves `last.safetensors`, logs
/// `SessionStop.line` and returns its "stopped" outcome; the command exits with `exitStatus`.
///
///     var stop = SessionStop(stepLimit: 100)
///     for batch in batches {
///         if let reason = stop.check() { saveLast(); log(SessionStop.line(reason, at: "step 7", checkpoint: path)); break }
///         step(batch)
///     }
public struct SessionStop: Sendable {
    /// Why a session stopped before its end.
    public enum Reason: Equatable, Sendable {
        case signal(Int32)
        case stepLimit

        /// The signal that asked to stop, if one did.
        public var signal: Int32? {
            if case .signal(let s) = self { return s }
            return nil
        }
    }

    /// Steps this session may take (nil: no limit).
    public var stepLimit: Int?
    /// Steps taken so far in this session.
    public private(set) var steps = 0

    public init(stepLimit: Int? = nil) {
        self.stepLimit = stepLimit
    }

    /// Before a step: the reason to stop now, or nil (and the step is counted).
    public mutating func check() -> Reason? {
        if let signal = StopRequest.signal { return .signal(signal) }
        if let limit = stepLimit, steps >= limit { return .stepLimit }
        steps += 1
        return nil
    }

    /// The line every trainer logs when it stops: `stopped at epoch 2, step 310 by signal 2;
    /// state saved in runs/a/last.safetensors (continue with --resume)`.
    public static func line(_ reason: Reason, at position: String, checkpoint: String) -> String {
        "stopped at \(position)\(reason.signal.map { " by signal \($0)" } ?? ""); state saved in \(checkpoint) (continue with --resume)"
    }

    /// The exit status of a command whose session stopped: 128 + the signal, or 0 after a step
    /// limit (the run continues with `--resume`).
    public static func exitStatus(_ signal: Int32?) -> Int32 {
        signal.map { 128 + $0 } ?? 0
    }
}
