import Glibc
import Foundation
import XCTest

/// The built `lmtool` binary next to the test bundle.
func lmtoolBinaryURL() throws -> URL {
    // On Linux the test bundle's URL is the products folder itself; on macOS it is the .xctest inside it.
    let bundle = Bundle(for: CLITests.self).bundleURL
    let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("lmtool") }
    guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: bundle.appendingPathComponent("lmtool").path])
    }
    return binary
}

/// Runs `executable` and returns its exit status and output. `standardInput`, when given, is
/// written to a pipe (as in `cat f | lmtool ...`); otherwise the child's standard input is the
/// test's. A run longer than `timeout` seconds is killed (SIGKILL), so a hang fails the test
/// instead of stopping the suite. Both output pipes are drained at once, so a child that fills
/// one while the other is being read cannot block.
func runProcess(_ executable: URL, _ arguments: [String], standardInput input: [UInt8]? = nil, currentDirectory: URL? = nil,
                timeout: Double = 900) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    let stdin = Pipe(), out = Pipe(), err = Pipe()
    if input != nil { process.standardInput = stdin }
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let pid = process.processIdentifier
    let killer = DispatchWorkItem { if process.isRunning { kill(pid, SIGKILL) } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
    defer { killer.cancel() }
    if let input {
        Thread {
            stdin.fileHandleForWriting.write(Data(input))
            try? stdin.fileHandleForWriting.close()
        }.start()
    }
    // The semaphore orders the thread's write of `collected` before the read below.
    final class Collected: @unchecked Sendable { var data = Data() }
    let stderrDone = DispatchSemaphore(value: 0)
    let collected = Collected()
    Thread {
        collected.data = err.fileHandleForReading.readDataToEndOfFile()
        stderrDone.signal()
    }.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    stderrDone.wait()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: collected.data, as: UTF8.self))
}

/// Runs `executable` (a path) with `arguments`; its exit status and output.
func runProcess(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
    try runProcess(URL(fileURLWithPath: executable), arguments)
}

/// Runs the built `lmtool` binary, as a user would, and returns its exit status and output
/// (see `runProcess` for `standardInput` and `timeout`).
func runLMTool(_ arguments: [String], standardInput: [UInt8]? = nil, currentDirectory: URL? = nil,
               timeout: Double = 900) throws -> (status: Int32, stdout: String, stderr: String) {
    try runProcess(try lmtoolBinaryURL(), arguments, standardInput: standardInput, currentDirectory: currentDirectory, timeout: timeout)
}

final class CLITests: XCTestCase {
    func testVersion() throws {
        let r = try runLMTool(["--version"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.hasPrefix("0.1.0"), r.stdout)
    }

    func testUnknownSubcommandFails() throws {
        let r = try runLMTool(["no-such-command"])
        XCTAssertNotEqual(r.status, 0)
    }

    /// Every error is one line, whatever its type: a path holding a newline, quoted by an error
    /// type that does not escape it itself (here `TrainingSetupError`), is escaped by the CLI
    /// (before, the message was printed over two lines).
    func testAnyErrorIsOneLineEvenWithANewlineInAPath() throws {
        let r = try runLMTool(["train", "--corpus", "a\nb", "--train", "a\nb", "--run", NSTemporaryDirectory() + "lmtool-never-\(UUID().uuidString)"])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr, "Error: a\\nb is given both with --corpus and as an explicit split\n")
    }
}
