import LM
import XCTest
@testable import lmtool

/// The progress display of `lmtool train` (`ProgressReporter` in Sources/lmtool/Commands/TrainCommand.swift).
final class ProgressTests: XCTestCase {
    func testLineWithRateAndETAWorkedOutByHand() {
        // 450,000 of 1,000,000 tokens in 65 s: 6,923.08 tok/s; 550,000 left → 79.44 s → 1m19s.
        // loss 5.0 → ppl e^5 = 148.413.
        let s = ProgressSnapshot(epoch: 2, epochs: 13, tokensDone: 450_000, tokensTotal: 1_000_000, elapsedSeconds: 65, loss: 5)
        XCTAssertEqual(s.tokensPerSecond!, 450_000.0 / 65, accuracy: 1e-9)
        XCTAssertEqual(s.etaSeconds!, 550_000 * 65 / 450_000.0, accuracy: 1e-9)
        XCTAssertEqual(s.line, "epoch 2/13  45.0%  6,923 tok/s  ETA 1m19s  loss 5.000  ppl 148.4")
    }

    func testLineBeforeAnyTokenHasNoRate() {
        let s = ProgressSnapshot(epoch: 1, epochs: 6, tokensDone: 0, tokensTotal: 500, elapsedSeconds: 0, loss: .nan)
        XCTAssertEqual(s.line, "epoch 1/6  0.0%  -- tok/s  ETA --  loss nan  ppl nan")
    }

    func testDurationsAndGrouping() {
        XCTAssertEqual(ProgressSnapshot.duration(7.4), "7s")
        XCTAssertEqual(ProgressSnapshot.duration(83), "1m23s")
        XCTAssertEqual(ProgressSnapshot.duration(3723), "1h02m")
        XCTAssertEqual(ProgressSnapshot.duration(.infinity), "--")
        XCTAssertEqual(ProgressSnapshot.fixed(-0.0004, 3), "0.000")
        XCTAssertEqual(ProgressSnapshot.fixed(2.9996, 3), "3.000")
        // A diverging run: the loss 22.08 of the tester's run, exp(loss) = 3.87e9, and beyond what an
        // Int holds (a loss of 50: exp = 5.18e21), which trapped the progress line.
        XCTAssertEqual(ProgressSnapshot.fixed(3869040412.8, 1), "3869040412.8")
        XCTAssertEqual(ProgressSnapshot.fixed(5.184705528587072e21, 1), "5.2e+21")
        XCTAssertEqual(ProgressSnapshot.fixed(-1e300, 3), "-1.000e+300")
        XCTAssertEqual(ProgressSnapshot.duration(1e300), "--")
        let diverging = ProgressSnapshot(epoch: 1, epochs: 1, tokensDone: 10, tokensTotal: 20, elapsedSeconds: 1, loss: 50)
        XCTAssertTrue(diverging.line.hasSuffix("loss 50.000  ppl 5.2e+21"), diverging.line)
    }

    func testTerminalRedrawsInPlaceAndThrottles() {
        var out: [String] = []
        let reporter = ProgressReporter(isTerminal: true, redrawInterval: 0.2) { out.append($0) }
        let s = ProgressSnapshot(epoch: 1, epochs: 1, tokensDone: 10, tokensTotal: 20, elapsedSeconds: 1, loss: 1)
        reporter.update(s, now: 100)
        reporter.update(s, now: 100.1)   // too soon
        reporter.update(s, now: 100.3)
        reporter.log("valid ppl 12.3")
        XCTAssertEqual(out, ["\r" + s.line + "\u{1B}[K", "\r" + s.line + "\u{1B}[K", "\n", "valid ppl 12.3\n"])
    }

    func testPlainLogLinesEveryInterval() {
        var out: [String] = []
        let reporter = ProgressReporter(isTerminal: false, logInterval: 30) { out.append($0) }
        let s = ProgressSnapshot(epoch: 1, epochs: 1, tokensDone: 10, tokensTotal: 20, elapsedSeconds: 1, loss: 1)
        for t in stride(from: 0.0, through: 70, by: 5) { reporter.update(s, now: t) }   // shown at 0, 30, 60
        reporter.finish()
        XCTAssertEqual(out, Array(repeating: s.line + "\n", count: 3))
    }
}
