import Foundation
import XCTest
import LM

// Reading what the commands wrote, without the project's own readers: the command tests check
// files against independent parsers (JSONSerialization, coreutils' sha256sum, the safetensors
// layout read by hand) so that a bug in a shared reader cannot hide a bug in a writer.

/// The JSON object in the file at `path`.
func readJSONObject(atPath path: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], "\(path) is not a JSON object", file: file, line: line)
}

/// The lowercase hex SHA-256 of `data`, computed by coreutils' `sha256sum` (skips the test when
/// it is not installed).
func sha256sum(_ data: Data) throws -> String {
    guard let tool = ["/usr/bin/sha256sum", "/bin/sha256sum"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        throw XCTSkip("sha256sum (coreutils) not found")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tool)
    let input = Pipe(), output = Pipe()
    process.standardInput = input
    process.standardOutput = output
    try process.run()
    // Write from another thread: a large input would otherwise fill the pipe while nobody reads.
    let writer = Thread {
        input.fileHandleForWriting.write(data)
        try? input.fileHandleForWriting.close()
    }
    writer.start()
    let result = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let digest = String(decoding: result, as: UTF8.self).split(separator: " ").first.map(String.init) ?? ""
    guard process.terminationStatus == 0, digest.count == 64 else { throw CocoaError(.fileReadUnknown) }
    return digest
}

/// The SHA-256 of the file at `path`, by `sha256sum`.
func sha256sum(ofFile path: String) throws -> String {
    try sha256sum(Data(contentsOf: URL(fileURLWithPath: path)))
}

/// A safetensors file read by hand: 8-byte little-endian header length, the JSON header, the data.
struct RawSafetensors {
    let header: [String: Any]
    let data: Data

    init(path: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertGreaterThanOrEqual(bytes.count, 8, path, file: file, line: line)
        let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        header = try XCTUnwrap(JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + length))) as? [String: Any],
                               file: file, line: line)
        data = bytes.subdata(in: (8 + length)..<bytes.count)
    }

    /// The tensor names (without `__metadata__`).
    var names: Set<String> { Set(header.keys.filter { $0 != "__metadata__" }) }

    /// The shape of tensor `name`.
    func shape(_ name: String) throws -> [Int] {
        try XCTUnwrap((header[name] as? [String: Any])?["shape"] as? [Int], "no tensor \(name)")
    }

    /// The values of the F32 tensor `name`.
    func floats(_ name: String) throws -> [Float] {
        let entry = try XCTUnwrap(header[name] as? [String: Any], "no tensor \(name)")
        XCTAssertEqual(entry["dtype"] as? String, "F32", name)
        let offsets = try XCTUnwrap(entry["data_offsets"] as? [Int], name)
        let slice = data.subdata(in: offsets[0]..<offsets[1])
        return stride(from: 0, to: slice.count, by: 4).map { i in
            Float(bitPattern: slice[i..<(i + 4)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) })
        }
    }
}

/// Overwrites the F32 tensor `name` of the safetensors file at `path` in place with `value`:
/// element `element` only, or every element when nil. The offsets come from the header, read by
/// hand; the header and shapes stay valid.
func overwriteFloats(_ name: String, in path: String, with value: Float, element: Int? = nil) throws {
    var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    let length = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let header = try XCTUnwrap(JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + length))) as? [String: Any])
    let offsets = try XCTUnwrap((header[name] as? [String: Any])?["data_offsets"] as? [Int], name)
    let bits = value.bitPattern
    let range = element.map { (offsets[0] + 4 * $0)..<(offsets[0] + 4 * $0 + 4) } ?? offsets[0]..<offsets[1]
    XCTAssertLessThanOrEqual(range.upperBound, offsets[1], "\(name) has no element \(element ?? 0)")
    for i in stride(from: range.lowerBound, to: range.upperBound, by: 4) {
        for b in 0..<4 { bytes[8 + length + i + b] = UInt8(truncatingIfNeeded: bits >> (8 * UInt32(b))) }
    }
    try bytes.write(to: URL(fileURLWithPath: path))
}

/// Every regular file under `path` (relative path → bytes), to check that nothing changed.
func directorySnapshot(_ path: String) throws -> [String: Data] {
    var files: [String: Data] = [:]
    let enumerator = try XCTUnwrap(FileManager.default.enumerator(atPath: path))
    while let name = enumerator.nextObject() as? String {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: path + "/" + name))
        }
    }
    return files
}

/// Runs lmtool with `arguments` and checks the failure users are promised: a non-zero status and
/// one line on stderr, starting `Error: ` and containing every fragment.
func assertFails(_ arguments: [String], mentioning fragments: [String], file: StaticString = #filePath, line: UInt = #line) throws {
    let r = try runLMTool(arguments)
    XCTAssertNotEqual(r.status, 0, "expected failure: \(arguments)", file: file, line: line)
    let message = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
    XCTAssertTrue(message.hasPrefix("Error: "), "stderr: \(r.stderr)", file: file, line: line)
    XCTAssertEqual(message.split(separator: "\n").count, 1, "error must be one line: \(r.stderr)", file: file, line: line)
    for fragment in fragments {
        XCTAssertTrue(message.contains(fragment), "\"\(message)\" lacks \"\(fragment)\"", file: file, line: line)
    }
}

/// The cross-check of `lmtool perplexity` with scripts/run_to_pytorch.py: for each run, lmtool's
/// perplexity of `text` (the figure with OOVs scored as <unk>) equals PyTorch's within 0.1%, in
/// the run's batching mode and with `oovs` OOVs, and is more than `margin` away from `uniform`
/// (random weights must not give a near-uniform model). Skips the test without torch.
func assertPyTorchAgrees(runs: [(name: String, run: String, batching: TrainingConfig.Batching)], text: String,
                         oovs: Int, uniform: Double, margin: Double, file: StaticString = #filePath, line: UInt = #line) throws {
    var ours: [Double] = []
    for (_, run, _) in runs {
        let lm = try runLMTool(["perplexity", "--model", run, text, "--json", "--window", "3"])
        XCTAssertEqual(lm.status, 0, lm.stderr, file: file, line: line)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lm.stdout.utf8)) as? [String: Any], file: file, line: line)
        ours.append(try XCTUnwrap(((object["total"] as? [String: Any])?["withOOVs"] as? [String: Any])?["ppl"] as? Double, file: file, line: line))
    }
    let results = try pytorchScores(runs: runs.map(\.run), text: text, file: file, line: line)
    for ((name, _, batching), (result, mine)) in zip(runs, zip(results, ours)) {
        let theirs = try XCTUnwrap(result["ppl"] as? Double, file: file, line: line)
        XCTAssertEqual(result["mode"] as? String, batching.rawValue, file: file, line: line)
        XCTAssertEqual(result["oovs"] as? Int, oovs, file: file, line: line)
        XCTAssertEqual(mine, theirs, accuracy: 1e-3 * theirs, "\(name): lmtool \(mine), PyTorch \(theirs)", file: file, line: line)
        XCTAssertGreaterThan(abs(mine - uniform), margin, "random weights must not give a near-uniform model", file: file, line: line)
    }
}

/// scripts/run_to_pytorch.py on `runs` and `text` with `--json`, in one Python process (importing
/// torch takes seconds): one JSON object per run, in order. Skips the test when python3 cannot
/// import torch.
func pytorchScores(runs: [String], text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [[String: Any]] {
    let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/run_to_pytorch.py").path
    let py = Process()
    py.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    py.arguments = ["python3", script] + runs + [text, "--json"]
    let out = Pipe(), err = Pipe()
    py.standardOutput = out
    py.standardError = err
    try py.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    py.waitUntilExit()
    if py.terminationStatus != 0 && errors.contains("No module named 'torch'") {
        throw XCTSkip("python3 cannot import torch: PyTorch cross-check skipped")
    }
    XCTAssertEqual(py.terminationStatus, 0, errors, file: file, line: line)
    let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
    XCTAssertEqual(lines.count, runs.count, errors, file: file, line: line)
    return try lines.map { try XCTUnwrap(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], errors, file: file, line: line) }
}

/// A test case with a fresh temporary directory per test (`dir`, removed afterwards), and the two
/// helpers every command test needs: `path(name)` inside it and `write(name, text)`.
class TemporaryDirectoryTestCase: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmtool-\(type(of: self))-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    /// train.txt (90 lines), valid.txt and test.txt (15 each): 2–6 words of a cycle of 8.
    func writeSplitFiles() throws {
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "slept"]
        for (name, count, offset) in [("train.txt", 90, 0), ("valid.txt", 15, 3), ("test.txt", 15, 5)] {
            let lines = (0..<count).map { i in (0..<(2 + (i + offset) % 5)).map { words[(i + offset + $0) % 8] }.joined(separator: " ") }
            try (lines.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
    }

    /// `lmtool train` on `writeSplitFiles`' three files with a tiny, fast model (8 wide, one
    /// thread) into `run`.
    func tinyTrainArguments(run: String, epochs: Int, batchSize: Int = 4, bptt: Int = 6) -> [String] {
        ["train", "--run", path(run), "--train", path("train.txt"), "--valid", path("valid.txt"), "--test", path("test.txt"),
         "--preset", "tiny", "--embedding-size", "8", "--hidden-size", "8", "--batch-size", "\(batchSize)", "--bptt", "\(bptt)",
         "--epochs", "\(epochs)", "--threads", "1"]
    }
}
