import Foundation
import XCTest
@testable import Support

final class AtomicFileTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testWritesAndReplaces() throws {
        let path = directory.appendingPathComponent("out.txt").path
        try AtomicFile.write(Array("first".utf8), to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "first")
        try AtomicFile.write(to: path) { sink in
            try sink.write("second ")
            try sink.write([UInt8](repeating: 65, count: 100_000))
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(data.count, 7 + 100_000)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["out.txt"])
    }

    func testFailureLeavesOldFileAndNoTemporary() throws {
        struct Boom: Error {}
        let path = directory.appendingPathComponent("keep.txt").path
        try AtomicFile.write(Array("old".utf8), to: path)
        XCTAssertThrowsError(try AtomicFile.write(to: path) { sink in
            try sink.write("half of the new content")
            throw Boom()
        })
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "old")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["keep.txt"])
    }

    func testMissingDirectoryIsAClearError() {
        let path = directory.appendingPathComponent("no/such/dir/x.txt").path
        XCTAssertThrowsError(try AtomicFile.write([1], to: path)) { error in
            XCTAssertTrue("\(error)".hasPrefix(path), "\(error)")
        }
    }
}
