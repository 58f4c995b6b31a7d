import Foundation
import XCTest

/// `embed neighbors`, `embed convert` and `embed align` on hostile input, run as a user runs them.
final class EmbedCommandTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "embed-command-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = directory + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func contents(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// a = (x, x), b = (x, 0), c = (0, x): cos(a, b) = cos(a, c) = 1/√2, printed 0.707, whatever x.
    /// The old code summed the squares in Float: 1e20² overflows (cosine 0.000), 1e-23² underflows.
    func testNeighborsOfHugeAndTinyVectors() throws {
        for x in ["1e20", "1e-23", "3e38"] {
            let path = try write("sc.vec", Array("3 2\na \(x) \(x)\nb \(x) 0\nc 0 \(x)\n".utf8))
            let r = try runLMTool(["embed", "neighbors", "--embeddings", path, "a"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stdout, "a: b 0.707, c 0.707\n", "x = \(x)")
        }
    }
}
