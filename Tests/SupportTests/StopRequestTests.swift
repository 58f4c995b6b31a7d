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

    /// One request delivered twice at once (`timeout` signals the child, then its process group;
    /// another thread takes the copy) is one stop: before, the second `raise` ended this test
    /// process with status 143 and no checkpoint.
    func testTheSameRequestDeliveredTwiceIsOneStop() {
        StopRequest.install()
        defer { StopRequest.uninstall() }
        raise(SIGTERM)
        raise(SIGTERM)   // well within 1 s of the first
        raise(SIGINT)
        XCTAssertEqual(StopRequest.signal, SIGTERM, "the first signal is the request")
    }

    /// The handler's decision, at given times: the first signal sets the flag; any signal less
    /// than 1 s after the first is the same request; one 1 s or more after the first is a
    /// deliberate second Ctrl-C (exit at once). Re-arming forgets the first.
    func testOnlyASignalOneSecondAfterTheFirstExitsAtOnce() {
        StopRequest.install()
        defer { StopRequest.uninstall() }
        let second: Int64 = 1_000_000_000
        XCTAssertFalse(StopRequest.receive(SIGINT, atNanoseconds: 50 * second))
        XCTAssertEqual(StopRequest.signal, SIGINT)
        XCTAssertFalse(StopRequest.receive(SIGTERM, atNanoseconds: 50 * second))
        XCTAssertFalse(StopRequest.receive(SIGINT, atNanoseconds: 50 * second + second / 2))
        XCTAssertFalse(StopRequest.receive(SIGINT, atNanoseconds: 51 * second - 1), "measured from the first, not the last")
        XCTAssertEqual(StopRequest.signal, SIGINT)
        XCTAssertTrue(StopRequest.receive(SIGINT, atNanoseconds: 51 * second))
        XCTAssertTrue(StopRequest.receive(SIGTERM, atNanoseconds: 90 * second))
        StopRequest.install()
        XCTAssertFalse(StopRequest.receive(SIGTERM, atNanoseconds: 90 * second))
        XCTAssertEqual(StopRequest.signal, SIGTERM)
        XCTAssertNotEqual(StopRequest.abortExitStatus, SessionStop.exitStatus(SIGINT))
        XCTAssertNotEqual(StopRequest.abortExitStatus, SessionStop.exitStatus(SIGTERM))
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
