import Foundation
import XCTest
import Synchronization

/// Every numeric option has a range checked before any work: a bad value (negative numbers
/// included, which ArgumentParser would otherwise take for flags) gives exactly one line naming
/// the option on stderr, a non-zero status, and nothing written (issue 17, item 9).
final class OptionBoundsTests: XCTestCase {
    /// (command and its other arguments, [(option, bad value)]). The paths do not exist: a value
    /// that is not refused up front fails later on the missing file, with a message that does
    /// not name the option, so the test catches it.
    static let table: [([String], [(String, String)])] = [
        (["corpus", "stats", "in.txt"], [("--max-line-bytes", "-1"), ("--max-line-bytes", "0")]),
        (["vocab", "build", "in.txt", "--out", "out.txt"],
         [("--min-count", "0"), ("--min-count", "-1"), ("--max-size", "-1"), ("--max-line-bytes", "-1")]),
        (["train", "--run", "run", "--train", "in.txt", "--valid", "in.txt"],
         [("--embedding-size", "-1"), ("--hidden-size", "0"), ("--layers", "-1"), ("--dropout", "-0.5"), ("--dropout", "1"),
          ("--init-range", "-1"), ("--bptt", "0"), ("--batch-size", "-1"), ("--lr", "-1"), ("--lr", "0"),
          ("--momentum", "-1"), ("--weight-decay", "-1"), ("--clip", "-1"), ("--epochs", "0"), ("--epochs", "-1"),
          ("--epochs", "2000000"), ("--patience", "0"), ("--train-tokens", "-1"), ("--seed", "-1"),
          ("--threads", "0"), ("--threads", "-1"), ("--threads", "100000"), ("--checkpoint-every", "-1"),
          ("--checkpoint-every", "0"), ("--stop-after-steps", "-1"), ("--min-count", "0"), ("--max-size", "1"),
          ("--max-line-bytes", "-1")]),
        (["ablate", "--out", "results", "--corpus", "in.txt"],
         [("--seeds", "0"), ("--min-count", "-1"), ("--max-size", "1"), ("--pretrain-epochs", "0"),
          ("--pretrain-tokens", "-1"), ("--pretrain-hidden-size", "0"), ("--glomo-steps", "-1")]),
        (["bench", "gemm"], [("--repeats", "0"), ("--threads", "100000"), ("--threads", "-1")]),
        (["bench", "lm"], [("--steps", "-1"), ("--threads", "0")]),
        (["embed", "word2vec", "in.txt", "--out", "out.vec"],
         [("--dim", "0"), ("--window", "-1"), ("--negative", "-1"), ("--min-count", "0"), ("--epochs", "-1"),
          ("--threads", "100000"), ("--threads", "0"), ("--sample", "-1"), ("--alpha", "0"), ("--seed", "-1")]),
        (["embed", "neighbors", "--embeddings", "e.vec", "the"], [("-k", "0"), ("-k", "-1")]),
        (["embed", "align", "--embeddings", "e.vec", "--vocab", "v.txt", "--out", "out.vec"], [("--scale", "-1"), ("--seed", "-1")]),
        (["embed", "bilm", "--corpus", "in.txt", "--out", "out.vec"],
         [("--embedding-size", "0"), ("--hidden-size", "-1"), ("--epochs", "-1"), ("--train-tokens", "1"),
          ("--batch-size", "0"), ("--bptt", "-1"), ("--lr", "-1"), ("--samples", "0"), ("--min-occurrences", "0"),
          ("--min-count", "0"), ("--max-size", "1"), ("--seed", "-1"), ("--threads", "100000"), ("--threads", "-1"),
          ("--average-tokens", "-1")]),
        (["glomo", "show", "--model", "m", "--text", "the cat", "--out", "g.svg"], [("--max-tokens", "0"), ("--max-tokens", "-1")]),
        (["generate", "--model", "run"],
         [("--temperature", "-1"), ("--temperature", "nan"), ("--top-k", "0"), ("--top-p", "0"), ("--words", "-1"),
          ("--words", "1000001"), ("--words", "99999999999999"), ("--num-samples", "0"), ("--num-samples", "100001"), ("--seed", "-1")]),
        (["perplexity", "--model", "run", "in.txt"],
         [("--batch-size", "0"), ("--batch-size", "1025"), ("--batch-size", "1000000000"), ("--window", "-1"), ("--window", "0"),
          ("--window", "1025"), ("--window", "1000000000")]),
        (["rescore", "--model", "run", "nbest.txt"],
         [("--batch-size", "0"), ("--batch-size", "-1"), ("--batch-size", "1025"), ("--batch-size", "1000000000"),
          ("--lm-weight", "nan"), ("--word-penalty", "inf")]),
        (["report", "results"], [("--resamples", "0"), ("--resamples", "100001"), ("--bootstrap-seed", "-1")]),
        (["pretrain-domain", "--corpus", "in.txt", "--out", "out"],
         [("--min-count", "0"), ("--max-size", "-1"), ("--embedding-size", "0"), ("--hidden-size", "-1"),
          ("--init-range", "-1"), ("--dropout", "1"), ("--epochs", "0"), ("--batch-size", "-1"), ("--lr", "-1"),
          ("--clip", "-1"), ("--max-length", "-1"), ("--seed", "-1"), ("--threads", "100000"), ("--min-occurrences", "0")]),
        (["pretrain-glomo", "--corpus", "in.txt", "--out", "out"],
         [("--min-count", "0"), ("--max-size", "-1"), ("--embedding-size", "0"), ("--channels", "-1"), ("--conv-layers", "0"),
          ("--graph-layers", "-1"), ("--heads", "0"), ("--head-size", "-1"), ("--sequence-length", "0"),
          ("--batch-size", "-1"), ("--predict", "0"), ("--positions", "-1"), ("--lr", "-1"), ("--clip", "-1"),
          ("--steps", "-1"), ("--epochs", "-1"), ("--train-tokens", "-1"), ("--checkpoint-every", "-1"),
          ("--valid-sequences", "-1"), ("--seed", "-1"), ("--threads", "100000"), ("--stop-after-steps", "-1")]),
    ]

    func testEveryBadNumericValueGivesOneLineNamingTheOption() throws {
        let folder = NSTemporaryDirectory() + "lmtool-bounds-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let cases = Self.table.flatMap { command, options in options.map { command + [$0.0, $0.1] } }
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: cases.count) { i in   // a few processes at a time
            let arguments = cases[i], option = arguments[arguments.count - 2], shown = arguments.joined(separator: " ")
            var problems: [String] = []
            do {
                let r = try Self.runLMToolKilledAfter(seconds: 60, arguments, currentDirectory: folder)
                let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
                if r.status == 0 { problems.append("\(shown): exit status 0") }
                // Status 64, ArgumentParser's usage-error status, as docs/guarantees.md promises
                // (the scoring commands and train used to exit 1 from checks made in run()).
                if r.status != 64 {
                    problems.append("\(shown): exit status \(r.status), not 64 (a usage error)")
                }
                if lines.count != 1 || !r.stderr.hasSuffix("\n") { problems.append("\(shown): \(lines.count) lines: \(r.stderr)") }
                if !r.stderr.contains(option) { problems.append("\(shown): the error does not name \(option): \(r.stderr)") }
            } catch {
                problems.append("\(shown): \(error)")
            }
            failures.withLock { $0 += problems }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder), [], "nothing may be written")
        let all = failures.withLock { $0 }
        XCTAssertTrue(all.isEmpty, all.sorted().joined(separator: "\n"))
    }

    /// `runLMTool`, but the process is killed after `seconds` (a value that hangs, as
    /// `--threads 100000` did, fails the test instead of stopping the suite).
    static func runLMToolKilledAfter(seconds: Double, _ arguments: [String], currentDirectory: String) throws -> (status: Int32, stderr: String) {
        let r = try runLMTool(arguments, currentDirectory: URL(fileURLWithPath: currentDirectory), timeout: seconds)
        return (r.status, r.stderr)
    }

    /// The threads limit is stated in the help.
    func testTheThreadsRangeIsInTheHelp() throws {
        let r = try runLMTool(["train", "--help"])
        XCTAssertEqual(r.status, 0)
        XCTAssertTrue(r.stdout.contains("4 × the processor count"), r.stdout)
    }

    /// `report --resamples` has an upper bound (100000000 ran for minutes), stated in the help
    /// and in the one-line error.
    func testTheResamplesRangeIsInTheHelpAndTheError() throws {
        let help = try runLMTool(["report", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("1 to 100,000"), help.stdout)
        let r = try runLMTool(["report", NSTemporaryDirectory() + "no-such-results-\(UUID().uuidString)", "--resamples", "100000000"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stderr.split(separator: "\n").last.map(String.init), "Error: --resamples must be in 1...100000, got 100000000")
    }
}
