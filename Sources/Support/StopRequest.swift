import Glibc
import Synchronization

/// SIGINT and SIGTERM as a request to stop training cleanly: the handler only sets a flag, the
/// training loop (the LM trainer, the domain classifier's, GLoMo pretraining) polls
/// `StopRequest.signal` between steps, saves a valid checkpoint and returns.
/// A second signal while the first is pending exits at once (status 128 + signal), so a stuck
/// run can still be interrupted.
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
        let s = stopRequestSignal.load(ordering: .relaxed)
        return s == 0 ? nil : s
    }

    /// Routes SIGINT and SIGTERM to the stop flag and clears it.
    public static func install() {
        stopRequestSignal.store(0, ordering: .relaxed)
        for s in [SIGINT, SIGTERM] {
            _ = Glibc.signal(s) { received in
                if stopRequestSignal.load(ordering: .relaxed) != 0 { _exit(128 + received) }
                stopRequestSignal.store(received, ordering: .relaxed)
            }
        }
    }

    /// Restores the default actions of SIGINT and SIGTERM and clears the flag.
    public static func uninstall() {
        _ = Glibc.signal(SIGINT, SIG_DFL)
        _ = Glibc.signal(SIGTERM, SIG_DFL)
        stopRequestSignal.store(0, ordering: .relaxed)
    }
}

/// Written by the signal handler (a lock-free atomic store), read by the trainer.
private let stopRequestSignal = Atomic<Int32>(0)

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
