import XCTest
import Corpus
import FuzzSupport
@testable import LM

/// An n-best list read through a real pipe (plain, zstd, gzip) is the list read from the file.
final class NBestListPipeTests: XCTestCase {
    func testNBestListThroughAPipeReadsLikeTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nbest-pipe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = (0..<4000).map { "utterance\($0 / 10)-\($0 % 10)\tabcdefghij hypothesis number \($0)\n" }.joined()
        let path = dir.appendingPathComponent("nbest.txt").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let onDisk = try NBestList(contentsOf: path)
        XCTAssertEqual(onDisk.hypotheses.count, 4000)
        XCTAssertEqual(onDisk.hypotheses[0], .init(id: "utterance0-0", text: "abcdefghij hypothesis number 0", line: 1))
        for tool in ["", "zstd", "gzip"] {
            let bytes = tool.isEmpty ? Array(text.utf8) : try compress(Array(text.utf8), with: tool)
            let piped = try PipeFeeder.withPipe(bytes) { try NBestList(contentsOf: $0) }
            XCTAssertEqual(piped.hypotheses, onDisk.hypotheses, tool)
        }
        // A UTF-8 byte order mark is not part of the first id.
        let bom = try PipeFeeder.withPipe([0xEF, 0xBB, 0xBF] + Array("u1\ta b\n".utf8)) { try NBestList(contentsOf: $0) }
        XCTAssertEqual(bom.hypotheses, [.init(id: "u1", text: "a b", line: 1)])
    }
}
