import Foundation
import XCTest
@testable import Support

/// The run-folder kernel the three run-directory kinds share: --force removes only the files a
/// run owns, the refusal and --if-needed messages, JSON files and JSON lines.
final class RunFolderTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("runfolder-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func write(_ text: String, _ path: String) throws { try text.write(toFile: path, atomically: false, encoding: .utf8) }
    func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    func testPrepareNewRefusesARunAndForceRemovesOnlyTheOwnedFiles() throws {
        let folder = RunFolder(path: directory + "/run/")
        XCTAssertEqual(folder.path, directory + "/run")
        try folder.prepareNew(force: false, removing: [])
        XCTAssertTrue(exists(folder.path), "created")
        try write("{}", folder.configPath)
        try write("m", folder.modelPath)
        try write("mine", folder.file("notes.txt"))
        XCTAssertThrowsError(try folder.prepareNew(force: false, removing: [folder.modelPath])) { error in
            XCTAssertEqual("\(error)", "\(folder.path): already holds a run (config.json); use --force to replace it or --resume to continue it")
        }
        XCTAssertTrue(exists(folder.modelPath), "nothing touched without --force")
        XCTAssertThrowsError(try folder.prepareNew(force: false, removing: [], what: "a GLoMo model")) { error in
            XCTAssertTrue("\(error)".hasSuffix(": already holds a GLoMo model (config.json); use --force to replace it or --resume to continue it"), "\(error)")
        }
        try folder.prepareNew(force: true, removing: [folder.summaryPath, folder.modelPath])
        XCTAssertFalse(exists(folder.modelPath))
        XCTAssertTrue(exists(folder.configPath), "not listed: kept")
        XCTAssertEqual(try String(contentsOfFile: folder.file("notes.txt"), encoding: .utf8), "mine", "not the run's: kept")
    }

    func testAFinishedFolderWithoutConfigIsNotStartedOver() throws {
        let folder = RunFolder(path: directory + "/done")
        try folder.prepareNew(force: false, removing: [])
        try write("{}", folder.summaryPath)
        XCTAssertFalse(folder.holdsRun)
        XCTAssertTrue(folder.isFinished)
        XCTAssertThrowsError(try folder.prepareNew(force: false, removing: [folder.summaryPath]))
        try folder.prepareNew(force: true, removing: [folder.summaryPath])
        XCTAssertFalse(folder.isFinished)
    }

    func testStateAndIfNeededDecision() throws {
        let path = directory + "/run"
        let folder = RunFolder(path: path)
        var notes: [String] = []
        /// "resume force" as decided, "skip" for nothing to do.
        func decide(_ ifNeeded: Bool, resume: Bool = false, force: Bool = false) throws -> String {
            let flags = try RunFolder.decide(path, ifNeeded: ifNeeded, resume: resume, force: force, note: { notes.append($0) })
            return flags.map { "\($0.resume) \($0.force)" } ?? "skip"
        }
        XCTAssertEqual(folder.state(), .fresh)
        XCTAssertEqual(try decide(true), "false false")
        XCTAssertEqual(notes, [], "a fresh run starts without a note")
        XCTAssertTrue(exists(OutputLock.lockFilePath(for: path)), "decided under the lock")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try write("{}", folder.configPath)
        XCTAssertEqual(folder.state(), .partial)
        XCTAssertEqual(try decide(true), "false true")
        try write("x", folder.lastCheckpointPath)
        XCTAssertEqual(folder.state(), .interrupted)
        XCTAssertEqual(try decide(true), "true false")
        XCTAssertEqual(try decide(false, force: true), "false true", "without --if-needed: the flags as given")
        XCTAssertEqual(folder.state(completionMarker: folder.file("other")), .interrupted)
        try write("{}", folder.summaryPath)
        XCTAssertEqual(folder.state(), .complete)
        XCTAssertEqual(try decide(true), "skip")
        XCTAssertEqual(notes, ["\(path): started without a checkpoint, starting again (--force)",
                               "\(path): interrupted, resuming (--resume)",
                               "\(path): finished (summary.json present), nothing to do"])
    }

    struct Record: Codable, Equatable {
        var stepCount: Int
        var note: String
    }

    func testJSONFilesAreSnakeCaseAndErrorsNameTheFile() throws {
        let folder = RunFolder(path: directory)
        let file = folder.file("a.json")
        try folder.writeJSON(Record(stepCount: 3, note: "x"), to: file)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "{\n  \"note\" : \"x\",\n  \"step_count\" : 3\n}\n")
        XCTAssertEqual(try folder.readJSON(Record.self, from: file, what: "record"), Record(stepCount: 3, note: "x"))
        try write(#"{"stepCount": 4, "note": "old"}"#, file)
        XCTAssertEqual(try folder.readJSON(Record.self, from: file, what: "record"), Record(stepCount: 4, note: "old"), "camelCase still reads")
        try write(#"{"note": "y"}"#, file)
        XCTAssertThrowsError(try folder.readJSON(Record.self, from: file, what: "record")) { error in
            XCTAssertEqual("\(error)", "\(file): not a record: missing field 'stepCount'")
        }
        XCTAssertThrowsError(try folder.readJSON(Record.self, from: folder.file("none.json"), what: "record")) { error in
            XCTAssertTrue("\(error)".hasPrefix(folder.file("none.json") + ": cannot read"), "\(error)")
        }
    }

    func testJSONLinesAppendCutsATornLineAndReadSkipsIt() throws {
        let folder = RunFolder(path: directory)
        let file = folder.metricsPath
        let decode: (ArraySlice<UInt8>) throws -> Record = { try RunFolder.decoder().decode(Record.self, from: Data($0)) }
        XCTAssertEqual(try folder.readJSONLines(from: file, decode: decode).records, [], "no file: no records")
        try folder.appendJSONLine(try RunFolder.jsonLine(Record(stepCount: 1, note: "a")), to: file)
        try write(try String(contentsOfFile: file, encoding: .utf8) + #"{"step_co"#, file)
        let torn = try folder.readJSONLines(from: file, decode: decode)
        XCTAssertEqual(torn.records, [Record(stepCount: 1, note: "a")])
        XCTAssertEqual(torn.tornLastLine, RunFolder.TornLine(line: 2, byteCount: 9))
        try folder.appendJSONLine(try RunFolder.jsonLine(Record(stepCount: 2, note: "b")), to: file)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8),
                       "{\"note\":\"a\",\"step_count\":1}\n{\"note\":\"b\",\"step_count\":2}\n", "the torn line is cut before appending")
        try write("{\"note\":\"a\",\"step_count\":1}\n{\"note\":3}\n", file)
        XCTAssertThrowsError(try folder.readJSONLines(from: file, decode: decode)) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(file):2: not a metrics record: "), "\(error)")
        }
    }
}
