import Glibc
import XCTest
import Support

/// SIGINT/SIGTERM become a stop request instead of killing the process.
final class StopRequestTests: XCTestCase {
    func testSignalsSetTheFlagInsteadOfKilling() {
        StopRequest.install()
        defer { StopRequest.uninstall() }
        XCTAssertNil(StopRequest.signal)
        raise(SIGTERM)   // with the default action this would end the test process
        XCTAssertEqual(StopRequest.signal, SIGTERM)
        StopRequest.install()   // re-arming clears the flag
        XCTAssertNil(StopRequest.signal)
        raise(SIGINT)
        XCTAssertEqual(StopRequest.signal, SIGINT)
    }

    func testUninstallClearsTheFlag() {
        StopRequest.install()
        raise(SIGINT)
        StopRequest.uninstall()
        XCTAssertNil(StopRequest.signal)
    }

    /// The stop check the three trainers share: the step limit counts this session's steps, a
    /// signal wins over it, and the logged line and exit status are the same for every trainer.
    func testSessionStopCountsStepsAndReportsTheSignal() {
        var stop = SessionStop(stepLimit: 2)
        XCTAssertNil(stop.check())
        XCTAssertNil(stop.check())
        XCTAssertEqual(stop.check(), .stepLimit)
        XCTAssertEqual(stop.steps, 2)
        var unlimited = SessionStop()
        for _ in 0..<100 { XCTAssertNil(unlimited.check()) }
        StopRequest.install()
        defer { StopRequest.uninstall() }
        raise(SIGTERM)
        XCTAssertEqual(unlimited.check(), .signal(SIGTERM))
        XCTAssertEqual(SessionStop.line(.signal(SIGINT), at: "step 7", checkpoint: "m/last.safetensors"),
                       "stopped at step 7 by signal 2; state saved in m/last.safetensors (continue with --resume)")
        XCTAssertEqual(SessionStop.line(.stepLimit, at: "epoch 1, step 4", checkpoint: "r/last.safetensors"),
                       "stopped at epoch 1, step 4; state saved in r/last.safetensors (continue with --resume)")
        XCTAssertEqual(SessionStop.exitStatus(SIGTERM), 143)
        XCTAssertEqual(SessionStop.exitStatus(nil), 0)
    }
}
