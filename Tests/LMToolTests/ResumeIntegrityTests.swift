import Foundation
import XCTest

/// `--resume` refuses other training data, and a model whose config.json does not describe its
/// tensors is not scored: one line naming the file, non-zero status, the checkpoint kept
/// (issue 17, items 6 and 7).
final class ResumeIntegrityCommandTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "lmtool-resume-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ name: String, _ lines: [String]) throws {
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
    }

    /// `count` lines of the 8-word cycle, `offset` apart.
    func cycleLines(_ count: Int, offset: Int) -> [String] {
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "slept"]
        return (0..<count).map { i in (0..<(2 + (i + offset) % 5)).map { words[(i + offset + $0) % 8] }.joined(separator: " ") }
    }

    /// Asserts failure with one `Error: ` line that starts with `file` and contains `fragment`.
    func assertOneLineError(_ r: (status: Int32, stdout: String, stderr: String), file path: String, _ fragment: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("Error: \(path): "), r.stderr, file: file, line: line)
        XCTAssertTrue(r.stderr.contains(fragment), r.stderr, file: file, line: line)
        XCTAssertEqual(r.stderr.filter { $0 == "\n" }.count, 1, r.stderr, file: file, line: line)
    }

    func contents(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    func trainArguments(epochs: Int) -> [String] {
        ["train", "--run", dir + "/run", "--train", dir + "/train.txt", "--valid", dir + "/valid.txt", "--preset", "tiny",
         "--embedding-size", "8", "--hidden-size", "8", "--batch-size", "4", "--bptt", "6", "--epochs", "\(epochs)", "--threads", "1"]
    }

    func testTrainResumeOnAShuffledTrainingFileIsRefused() throws {
        try write("train.txt", cycleLines(90, offset: 0))
        try write("valid.txt", cycleLines(15, offset: 3))
        let first = try runLMTool(trainArguments(epochs: 2) + ["--stop-after-steps", "5"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let last = dir + "/run/last.safetensors"
        let saved = try contents(last)
        try write("train.txt", cycleLines(90, offset: 0).reversed())
        let resumed = try runLMTool(["train", "--run", dir + "/run", "--resume", "--threads", "1"])
        assertOneLineError(resumed, file: last, "--resume on different training data")
        XCTAssertEqual(try contents(last), saved)
        // The original file resumes.
        try write("train.txt", cycleLines(90, offset: 0))
        XCTAssertEqual(try runLMTool(["train", "--run", dir + "/run", "--resume", "--threads", "1"]).status, 0)
    }

    /// Flipping tieWeights in config.json: perplexity would score a model that does not exist.
    func testPerplexityRefusesAModelWhoseConfigDoesNotDescribeItsTensors() throws {
        try write("train.txt", cycleLines(90, offset: 0))
        try write("valid.txt", cycleLines(15, offset: 3))
        XCTAssertEqual(try runLMTool(trainArguments(epochs: 1)).status, 0)
        let configPath = dir + "/run/config.json"
        let config = try String(contentsOfFile: configPath, encoding: .utf8)
        XCTAssertTrue(config.contains("\"tie_weights\" : false"), config)
        try config.replacingOccurrences(of: "\"tie_weights\" : false", with: "\"tie_weights\" : true")
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        let r = try runLMTool(["perplexity", "--model", dir + "/run", dir + "/valid.txt"])
        assertOneLineError(r, file: dir + "/run/model.safetensors", "unexpected tensor 'decoder.weight'")
        XCTAssertEqual(r.stdout, "")
    }

    func testPretrainGLoMoResumeOnOtherDataIsRefused() throws {
        let subjects = ["the cat", "a dog", "the old man", "my friend"], verbs = ["sat on", "saw", "walked to"]
        let objects = ["the mat", "a ship", "the house"]
        let lines = (0..<1000).map { i in "\(subjects[i % 4]) \(verbs[i % 3]) \(objects[(i / 3) % 3]) ." }
        try write("corpus.txt", lines)
        let first = try runLMTool(["pretrain-glomo", "--corpus", dir + "/corpus.txt", "--out", dir + "/glomo", "--embedding-size", "8",
                                   "--heads", "2", "--graph-layers", "1", "--conv-layers", "1", "--sequence-length", "8",
                                   "--batch-size", "4", "--positions", "4", "--checkpoint-every", "3", "--min-count", "1",
                                   "--valid-sequences", "4", "--threads", "1", "--steps", "7", "--stop-after-steps", "4"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let last = dir + "/glomo/last.safetensors"
        let saved = try contents(last)
        try write("corpus.txt", lines.reversed())
        let resumed = try runLMTool(["pretrain-glomo", "--out", dir + "/glomo", "--resume", "--threads", "1"])
        assertOneLineError(resumed, file: last, "--resume on different training data")
        XCTAssertEqual(try contents(last), saved)
    }

    func testPretrainDomainResumeOnOtherDataIsRefused() throws {
        let words = [["apple", "pear", "plum", "fig"], ["saw", "nail", "drill", "vise"]]
        func corpus(_ order: [Int]) -> [String] {
            order.map { i in
                let d = i % 2
                let text = (0..<(3 + i % 5)).map { words[d][($0 * 7 + i) % 4] }.joined(separator: " ")
                let split = i < 40 ? "train" : (i < 48 ? "valid" : "test")
                return "{\"text\": \"\(text)\", \"domain\": \"\(d == 0 ? "fruit" : "tools")\", \"split\": \"\(split)\"}"
            }
        }
        try write("toy.jsonl", corpus(Array(0..<56)))
        let small = ["--embedding-size", "8", "--hidden-size", "8", "--batch-size", "8", "--lr", "0.02", "--threads", "1"]
        let first = try runLMTool(["pretrain-domain", "--corpus", dir + "/toy.jsonl", "--out", dir + "/domain", "--epochs", "1"] + small)
        XCTAssertEqual(first.status, 0, first.stderr)
        let last = dir + "/domain/last.safetensors"
        let saved = try contents(last)
        try write("toy.jsonl", corpus(Array((0..<40).reversed()) + Array(40..<56)))
        let resumed = try runLMTool(["pretrain-domain", "--corpus", dir + "/toy.jsonl", "--out", dir + "/domain", "--resume", "--epochs", "2"])
        assertOneLineError(resumed, file: last, "--resume on different training data")
        XCTAssertEqual(try contents(last), saved)
    }
}
