import Foundation

/// A compression tool that failed (it is missing, or exited with an error).
public struct CompressionToolError: Error, CustomStringConvertible {
    public var description: String
}

/// Compresses `bytes` with an external tool (`zstd` or `gzip`, through a pipe): an
/// implementation independent of lmtool's readers, for the tests that read compressed input.
///
///     let zst = try compress(Array("a b\n".utf8), with: "zstd")
///     let multiFrame = try compress(bytes, with: "zstd", arguments: ["--rsyncable"])
public func compress(_ bytes: [UInt8], with tool: String, arguments: [String] = []) throws -> [UInt8] {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [tool, "-c", "-q"] + arguments
    let input = Pipe(), output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    // The writer runs on its own thread: a large input would otherwise fill the pipe while the
    // tool waits for its output to be read.
    let writer = Thread {
        input.fileHandleForWriting.write(Data(bytes))
        try? input.fileHandleForWriting.close()
    }
    writer.start()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CompressionToolError(description: "\(tool) \(arguments.joined(separator: " ")): exit status \(process.terminationStatus)")
    }
    return Array(data)
}
