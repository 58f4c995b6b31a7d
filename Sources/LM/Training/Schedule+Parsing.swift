extension TrainingConfig.Schedule {
    /// Parses the `--schedule` syntax: `constant`, `decay:EPOCH:FACTOR` (multiply the learning
    /// rate by FACTOR at every epoch after EPOCH) or `plateau:FACTOR` (multiply it by FACTOR after
    /// an epoch that does not improve the validation loss).
    ///
    ///     try TrainingConfig.Schedule(parsing: "decay:4:0.5")   // .decayAfter(epoch: 4, factor: 0.5)
    ///     try TrainingConfig.Schedule(parsing: "plateau:0.25")  // .plateau(factor: 0.25)
    ///
    /// - Throws: `TrainingSetupError` with the accepted forms.
    public init(parsing text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        func factor(_ s: String) -> Float? { Float(s).flatMap { $0 > 0 && $0.isFinite ? $0 : nil } }
        switch parts.first {
        case "constant" where parts.count == 1:
            self = .constant
            return
        case "decay" where parts.count == 3:
            if let epoch = Int(parts[1]), epoch >= 0, let f = factor(parts[2]) {
                self = .decayAfter(epoch: epoch, factor: f)
                return
            }
        case "plateau" where parts.count == 2:
            if let f = factor(parts[1]) {
                self = .plateau(factor: f)
                return
            }
        default:
            break
        }
        throw TrainingSetupError("--schedule '\(text)': expected constant, decay:EPOCH:FACTOR (e.g. decay:4:0.5) or plateau:FACTOR (e.g. plateau:0.25), with EPOCH ≥ 0 and FACTOR > 0")
    }

    /// The `--schedule` text of this schedule (the inverse of `init(parsing:)`).
    public var argument: String {
        switch self {
        case .constant: return "constant"
        case .decayAfter(let epoch, let factor): return "decay:\(epoch):\(factor)"
        case .plateau(let factor): return "plateau:\(factor)"
        }
    }
}
