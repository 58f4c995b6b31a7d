#if canImport(Glibc)
import Glibc
#endif

/// SIGINT and SIGTERM as a request to stop the domain classifier's training cleanly: the
/// handler only sets a flag; the trainer polls it between batches, writes `last.safetensors`
/// and returns. A second signal while the first is pending exits at once (status 128 + signal).
///
/// (`LM.StopRequest` does the same for the language model; `Embeddings` cannot import `LM`.)
///
///     ClassifierStopRequest.install()
///     defer { ClassifierStopRequest.uninstall() }
///     let outcome = try DomainClassifierTrainer(...).run(shouldStop: { ClassifierStopRequest.signal != nil })
public enum ClassifierStopRequest {
    /// The signal that asked to stop (`SIGINT` or `SIGTERM`), or nil.
    public static var signal: Int32? {
        let s = classifierStopSignal
        return s == 0 ? nil : s
    }

    /// Routes SIGINT and SIGTERM to the stop flag and clears it.
    public static func install() {
        classifierStopSignal = 0
        for s in [SIGINT, SIGTERM] {
            _ = Glibc.signal(s) { received in
                if classifierStopSignal != 0 { _exit(128 + received) }
                classifierStopSignal = received
            }
        }
    }

    /// Restores the default actions of SIGINT and SIGTERM and clears the flag.
    public static func uninstall() {
        _ = Glibc.signal(SIGINT, SIG_DFL)
        _ = Glibc.signal(SIGTERM, SIG_DFL)
        classifierStopSignal = 0
    }
}

/// Written only by the signal handler (a single aligned word store), read by the trainer.
nonisolated(unsafe) private var classifierStopSignal: Int32 = 0
