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
}
