#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM as a request to stop pretraining cleanly: the handler only sets a flag,
/// the pretrainer polls `StopSignal.received` between steps, writes a checkpoint and returns.
/// A second signal while the first is pending exits at once (status 128 + signal).
///
/// (A small local copy of `LM.StopRequest`, which GLoMoGraph cannot import.)
///
///     StopSignal.install()
///     defer { StopSignal.uninstall() }
///     let outcome = try trainer.run(shouldStop: { StopSignal.received != nil })
public enum StopSignal {
    /// The signal that asked to stop, or nil.
    public static var received: Int32? {
        let s = glomoStopSignal
        return s == 0 ? nil : s
    }

    /// Routes SIGINT and SIGTERM to the flag and clears it.
    public static func install() {
        glomoStopSignal = 0
        for s in [SIGINT, SIGTERM] {
            _ = Glibc.signal(s) { received in
                if glomoStopSignal != 0 { _exit(128 + received) }
                glomoStopSignal = received
            }
        }
    }

    /// Restores the default actions and clears the flag.
    public static func uninstall() {
        _ = Glibc.signal(SIGINT, SIG_DFL)
        _ = Glibc.signal(SIGTERM, SIG_DFL)
        glomoStopSignal = 0
    }
}

/// Written only by the signal handler (one aligned word store), read between steps.
nonisolated(unsafe) private var glomoStopSignal: Int32 = 0
