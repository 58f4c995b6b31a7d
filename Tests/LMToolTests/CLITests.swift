import Foundation
import XCTest

/// Runs the built `lmtool` binary, as a user would, and returns its exit status and output.
func runLMTool(_ arguments: [String], currentDirectory: URL? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    // On Linux the test bundle's URL is the products folder itself; on macOS it is the .xctest inside it.
    let bundle = Bundle(for: CLITests.self).bundleURL
    let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("lmtool") }
    guard let binary = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0.path) }) else {
        throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: bundle.appendingPathComponent("lmtool").path])
    }
    let process = Process()
    process.executableURL = binary
    process.arguments = arguments
    if let currentDirectory { process.currentDirectoryURL = currentDirectory }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
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
}
