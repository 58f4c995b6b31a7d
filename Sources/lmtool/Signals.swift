import Support

/// Runs a training session with SIGINT and SIGTERM turned into a clean stop (`StopRequest`): the
/// trainers of `train`, `pretrain-domain` and `pretrain-glomo` check it before every step (through
/// `SessionStop`), save `last.safetensors` and return their "stopped" outcome, and the command
/// exits with `SessionStop.exitStatus`. The one place lmtool installs these process-wide
/// handlers; the libraries only read the flag.
///
///     switch try stoppingOnSignals({ try trainer.train() }) { ... }
func stoppingOnSignals<T>(_ session: () throws -> T) rethrows -> T {
    StopRequest.install()
    defer { StopRequest.uninstall() }
    return try session()
}
