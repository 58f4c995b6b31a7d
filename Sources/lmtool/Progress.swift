import Glibc
import LM
import Support

// The progress display of `lmtool train`: the trainer reports `ProgressSnapshot`s through
// `TrainingProgress` (LM); this file draws them on standard error.

extension ProgressSnapshot {
    /// The progress line, e.g. `epoch 2/13  45.0%  6,912 tok/s  ETA 1m23s  loss 5.123  ppl 167.8`.
    ///
    /// Unknown values (no rate yet) print as `--`. Pure: the same snapshot gives the same text.
    var line: String {
        let percent = tokensTotal > 0 ? 100 * Double(tokensDone) / Double(tokensTotal) : 0
        let rate = tokensPerSecond.map { grouped(Int($0.rounded())) } ?? "--"
        let eta = etaSeconds.map(ProgressSnapshot.duration) ?? "--"
        let ppl = loss.isFinite ? ProgressSnapshot.fixed(exp(loss), 1) : "\(exp(loss))"
        return "epoch \(epoch)/\(epochs)  \(ProgressSnapshot.fixed(percent, 1))%  \(rate) tok/s  ETA \(eta)  loss \(ProgressSnapshot.fixed(loss, 3))  ppl \(ppl)"
    }

    /// `3723` → `1h02m`, `83` → `1m23s`, `7.4` → `7s`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--" }
        let s = Int(seconds.rounded())
        if s >= 3600 { return "\(s / 3600)h" + pad2((s % 3600) / 60) + "m" }
        if s >= 60 { return "\(s / 60)m" + pad2(s % 60) + "s" }
        return "\(s)s"
    }

    /// `x` with `places` decimals, e.g. `fixed(5.1234, 3)` = `5.123`.
    static func fixed(_ x: Double, _ places: Int) -> String {
        guard x.isFinite else { return "\(x)" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let n = Int((abs(x) * scale).rounded())
        let whole = n / Int(scale), fraction = n % Int(scale)
        var f = String(fraction)
        while f.count < places { f = "0" + f }
        return (x < 0 && n != 0 ? "-" : "") + "\(whole)" + (places > 0 ? "." + f : "")
    }

    private static func pad2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
}

/// Shows training progress: on a terminal, one line redrawn in place (`\r`, then clear to the
/// end of the line) at most every `redrawInterval` seconds; otherwise (a log file, a pipe) a
/// plain line every `logInterval` seconds.
///
///     let progress = ProgressReporter()          // stderr, terminal detected with isatty
///     progress.update(snapshot)                  // call after every batch; cheap when throttled
///     progress.finish()                          // ends the redrawn line
final class ProgressReporter: TrainingProgress {
    let isTerminal: Bool
    let logInterval: Double
    let redrawInterval: Double
    private let write: (String) -> Void
    private var lastOutput: Double?
    private var lineOpen = false

    /// - Parameters:
    ///   - isTerminal: redraw in place; by default whether stderr is a terminal.
    ///   - write: where the text goes; by default stderr.
    init(isTerminal: Bool = isatty(STDERR_FILENO) != 0, logInterval: Double = 30, redrawInterval: Double = 0.2,
                write: @escaping (String) -> Void = ProgressReporter.writeToStandardError) {
        self.isTerminal = isTerminal
        self.logInterval = logInterval
        self.redrawInterval = redrawInterval
        self.write = write
    }

    /// Shows `snapshot` if enough time has passed since the last output (`now` in seconds on
    /// any monotonic clock, by default `Support.monotonicSeconds()`). The first
    /// update is always shown.
    func update(_ snapshot: ProgressSnapshot, now: Double = monotonicSeconds()) {
        let interval = isTerminal ? redrawInterval : logInterval
        if let last = lastOutput, now - last < interval { return }
        lastOutput = now
        if isTerminal {
            write("\r" + snapshot.line + "\u{1B}[K")
            lineOpen = true
        } else {
            write(snapshot.line + "\n")
        }
    }

    /// Prints a message on its own line (ending a redrawn progress line first).
    func log(_ message: String) {
        finish()
        write(message + "\n")
    }

    /// Ends the redrawn line on a terminal so that later output starts on a fresh line.
    func finish() {
        if lineOpen { write("\n") }
        lineOpen = false
    }

    static func writeToStandardError(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if n <= 0 { if n < 0 && errno == EINTR { continue } else { return } }
                offset += n
            }
        }
    }
}
