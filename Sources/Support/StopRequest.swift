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
