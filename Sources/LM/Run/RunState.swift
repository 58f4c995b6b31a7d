import Support

/// Where a run-like directory stands (an `lmtool train` run, a `pretrain-domain` or
/// `pretrain-glomo` model: each writes `config.json` first, `last.safetensors` at checkpoints and
/// `summary.json` last), and so what running its command again must do: `Support.RunFolder.State`,
/// the one decision behind `ablate`'s steps and `--if-needed` (`RunFolder.decide`).
///
///     switch RunState(directory: "runs/a") { case .complete: print("done"); default: ... }
public typealias RunState = RunFolder.State

extension RunFolder.State {
    /// The state of `directory`; `completionMarker` is the file whose presence means finished
    /// (default `directory/summary.json`).
    public init(directory: String, completionMarker: String? = nil) {
        self = RunFolder(path: directory).state(completionMarker: completionMarker)
    }

    /// The run-control flag its command needs now: `--resume`, `--force`, or none (start, or
    /// nothing to do for `complete`).
    public var flag: String? {
        switch self {
        case .interrupted: return "--resume"
        case .partial: return "--force"
        case .complete, .fresh: return nil
        }
    }
}
