import Glibc

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
        let s = stopRequestSignal
        return s == 0 ? nil : s
    }

    /// Routes SIGINT and SIGTERM to the stop flag and clears it.
    public static func install() {
        stopRequestSignal = 0
        for s in [SIGINT, SIGTERM] {
            _ = Glibc.signal(s) { received in
                if stopRequestSignal != 0 { _exit(128 + received) }
                stopRequestSignal = received
            }
        }
    }

    /// Restores the default actions of SIGINT and SIGTERM and clears the flag.
    public static func uninstall() {
        _ = Glibc.signal(SIGINT, SIG_DFL)
        _ = Glibc.signal(SIGTERM, SIG_DFL)
        stopRequestSignal = 0
    }
}

/// Written only by the signal handler (a single aligned word store), read by the trainer.
nonisolated(unsafe) private var stopRequestSignal: Int32 = 0
