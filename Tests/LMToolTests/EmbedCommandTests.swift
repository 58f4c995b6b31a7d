import Foundation
import XCTest

/// `embed neighbors`, `embed convert` and `embed align` on hostile input, run as a user runs them:
/// exact cosines for vectors far from 1 in size, an error status for a word not in the table,
/// and nothing written when any input is bad.
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

    /// A word not in the table: the others are printed, then one error line and a non-zero status
    /// (the old command printed "zebra: not in FILE" and exited 0).
    func testNeighborsOfAMissingWordIsAnError() throws {
        let path = try write("v.vec", Array("3 2\na 1 0\nb 1 1\nc 0 1\n".utf8))
        let r = try runLMTool(["embed", "neighbors", "--embeddings", path, "-k", "1", "zebra", "a", "yak"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stdout, "a: b 0.707\n")   // cos((1, 0), (1, 1)) = 1/√2
        XCTAssertEqual(r.stderr, "Error: \(path): 2 of the 3 words asked for are not in the table: zebra yak\n")
        let ok = try runLMTool(["embed", "neighbors", "--embeddings", path, "-k", "1", "c"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, "c: b 0.707\n")
    }

    /// A fallbacks sidecar that cannot be read (invalid UTF-8 on line 2) is found before anything
    /// is written: `convert` and `align` fail naming it, and the destination and its old sidecar
    /// are left as they were. The old `convert` wrote the new table first, beside the stale
    /// sidecar; the old `align` wrote the aligned table first.
    func testConvertAndAlignWriteNothingWhenTheSidecarIsBad() throws {
        let input = try write("in.vec", Array("2 2\nthe 1 2\ncat 3 4\n".utf8))
        _ = try write("in.vec.fallbacks.txt", Array("the\n".utf8) + [0xff, 0xfe, 10])
        let vocab = try write("vocab.txt", Array("<unk>\t0\n<eos>\t0\nthe\t2\ncat\t1\n".utf8))
        for command in [["embed", "convert", input], ["embed", "align", "--embeddings", input, "--vocab", vocab]] {
            let out = try write("out.bin", Array("old table".utf8))
            let oldSidecar = try write("out.bin.fallbacks.txt", Array("old\n".utf8))
            let r = try runLMTool(command + ["--out", out])
            XCTAssertNotEqual(r.status, 0, "\(command)")
            XCTAssertEqual(r.stderr, "Error: \(input).fallbacks.txt:2: not valid UTF-8\n", "\(command)")
            XCTAssertEqual(r.stdout, "", "\(command)")
            XCTAssertEqual(contents(out), Data("old table".utf8), "\(command)")
            XCTAssertEqual(contents(oldSidecar), Data("old\n".utf8), "\(command)")
            let fresh = directory + "/fresh.vec"
            let r2 = try runLMTool(command + ["--out", fresh])
            XCTAssertNotEqual(r2.status, 0, "\(command)")
            XCTAssertNil(contents(fresh), "\(command)")
            XCTAssertNil(contents(fresh + ".fallbacks.txt"), "\(command)")
        }
    }
}
