import Foundation
import XCTest
@testable import Support

/// `OutputLock` against another real process: `flock(1)` from util-linux holds the lock file
/// the way a second lmtool would.
final class OutputLockTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("outlock-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func testLockFileSitsBesideTheOutputAndHoldsOurPid() throws {
        let run = directory + "/runs/tiny"
        try OutputLock.acquire(run)
        try OutputLock.acquire(run)   // re-entrant within one process
        let lockFile = directory + "/runs/.tiny.lock"
        XCTAssertEqual(OutputLock.lockFilePath(for: run), lockFile)
        XCTAssertEqual(try String(contentsOfFile: lockFile, encoding: .utf8), "\(getpid())\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: run), "the output itself is not created")
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/runs"), "its folder is")
        // What is written through (a FIFO here; standard output, devices) is not locked.
        XCTAssertEqual(mkfifo(directory + "/fifo", 0o644), 0)
        try OutputLock.acquire(directory + "/fifo")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/.fifo.lock"))
    }

    /// Held by another process: one line naming the output and the pid in the lock file; once
    /// that process is killed with SIGKILL, the lock is free.
    func testAnotherHolderIsRefusedUntilItIsKilled() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/flock") else { throw XCTSkip("no /usr/bin/flock") }
        let out = directory + "/results"
        let lockFile = OutputLock.lockFilePath(for: out), ready = directory + "/ready"
        // One process (bash, then sleep in its place) holds the lock the way lmtool does: an
        // open descriptor with flock on it, its pid written into the file.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/bash")
        holder.arguments = ["-c", #"exec 9>>"$0"; flock --exclusive 9; echo $$ >&9; echo ready > "$1"; exec sleep 60"#, lockFile, ready]
        try holder.run()
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL); holder.waitUntilExit() } }
        for _ in 0..<500 where !FileManager.default.fileExists(atPath: ready) { usleep(10_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: ready), "the holder did not start")

        XCTAssertThrowsError(try OutputLock.acquire(out)) { error in
            XCTAssertEqual("\(error)", "\(out): in use by another lmtool process (pid \(holder.processIdentifier); lock file \(lockFile))")
        }
        XCTAssertThrowsError(try OutputLock.acquire(out), "still held")

        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        try OutputLock.acquire(out)
        XCTAssertEqual(try String(contentsOfFile: lockFile, encoding: .utf8), "\(getpid())\n")
    }
}
