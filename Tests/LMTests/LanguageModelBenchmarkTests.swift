import XCTest
@testable import LM

/// `lmtool bench lm --phase`: a phase that was not run prints as `-`, never as a number.
/// (Running the benchmark itself takes ~10 s per phase in a debug build, so it is left to
/// `lmtool bench lm`.)
final class LanguageModelBenchmarkTests: XCTestCase {
    func testPhaseNotRunPrintsDash() {
        let evalOnly = LanguageModelBenchmark.Result(
            name: "tiny", trainTokensPerSecond: nil, evalTokensPerSecond: 1234.4,
            trainTokensPerCPUSecond: nil, evalTokensPerCPUSecond: 617.6, peakRSS: 3 * 1_048_576)
        XCTAssertEqual(evalOnly.description,
                       "tiny     train - tok/s  eval 1234 tok/s  peak RSS 3 MB  cpu: train - tok/s  eval 618 tok/s")
        let trainOnly = LanguageModelBenchmark.Result(
            name: "medium", trainTokensPerSecond: 99.5, evalTokensPerSecond: nil,
            trainTokensPerCPUSecond: 50, evalTokensPerCPUSecond: nil, peakRSS: nil)
        XCTAssertEqual(trainOnly.description,
                       "medium   train 100 tok/s  eval - tok/s  peak RSS n/a  cpu: train 50 tok/s  eval - tok/s")
    }
}
