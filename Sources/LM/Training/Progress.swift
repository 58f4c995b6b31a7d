/// Where training stands within an epoch, for the progress display.
public struct ProgressSnapshot: Equatable, Sendable {
    /// 1-based epoch and the number of epochs.
    public var epoch: Int
    public var epochs: Int
    /// Target tokens processed so far in this epoch, and in the whole epoch.
    public var tokensDone: Int
    public var tokensTotal: Int
    /// Seconds since this epoch started.
    public var elapsedSeconds: Double
    /// Mean training loss (natural log, per token) over the recent batches.
    public var loss: Double

    public init(epoch: Int, epochs: Int, tokensDone: Int, tokensTotal: Int, elapsedSeconds: Double, loss: Double) {
        self.epoch = epoch
        self.epochs = epochs
        self.tokensDone = tokensDone
        self.tokensTotal = tokensTotal
        self.elapsedSeconds = elapsedSeconds
        self.loss = loss
    }

    /// Tokens per second so far this epoch (nil before any time or token has passed).
    public var tokensPerSecond: Double? {
        elapsedSeconds > 0 && tokensDone > 0 ? Double(tokensDone) / elapsedSeconds : nil
    }

    /// Seconds left in this epoch at the current rate.
    public var etaSeconds: Double? {
        tokensPerSecond.map { Double(max(tokensTotal - tokensDone, 0)) / $0 }
    }
}

/// Where `Trainer` sends its progress: the CLI renders it (`ProgressReporter` in lmtool: a line
/// redrawn in place on a terminal, a plain line now and then otherwise); nil on the trainer = none.
public protocol TrainingProgress: AnyObject {
    /// After every training step; `now` is `Support.monotonicSeconds()` at its end. Called often:
    /// a renderer throttles.
    func update(_ snapshot: ProgressSnapshot, now: Double)
    /// Before the trainer saves, validates, logs or stops: end any line drawn in place.
    func finish()
}
