import Foundation
import XCTest

/// An empty path (`--out ""`, `--run ""`, an empty positional file) names no file: every
/// command refuses it as a usage error, in one line naming the option, with status 64, before
/// any work and without creating anything (no output, no lock file beside it).
final class EmptyPathTests: TemporaryDirectoryTestCase {
    func testEveryPathOptionRefusesAnEmptyPathBeforeAnyWork() throws {
        try writeSplitFiles()
        let t = path("train.txt"), v = try write("v.txt", "<unk>\t0\n<eos>\t5\nthe\t7\n"), o = path("out"), m = path("model")
        let train = tinyTrainArguments(run: "run", epochs: 1)
        func replacing(_ value: String, in arguments: [String]) -> [String] { arguments.map { $0 == value ? "" : $0 } }
        let cases: [(flag: String, arguments: [String])] = [
            ("--out", ["vocab", "build", t, "--out", ""]),
            ("a corpus PATH", ["vocab", "build", "", "--out", o]),
            ("a corpus PATH", ["corpus", "stats", ""]),
            ("--vocab", ["corpus", "stats", t, "--vocab", ""]),
            ("--run", replacing(path("run"), in: train)),
            ("--train", replacing(t, in: train)),
            ("--valid", replacing(path("valid.txt"), in: train)),
            ("--test", replacing(path("test.txt"), in: train)),
            ("--corpus", ["train", "--run", path("run"), "--corpus", ""]),
            ("--vocab", train + ["--vocab", ""]),
            ("--embeddings", train + ["--embeddings", ""]),
            ("--glomo", train + ["--glomo", ""]),
            ("--out", ["ablate", "--out", "", "--corpus", t]),
            ("--corpus", ["ablate", "--out", o, "--corpus", ""]),
            ("--spec", ["ablate", "--out", o, "--corpus", t, "--spec", ""]),
            ("--vocab", ["ablate", "--out", o, "--corpus", t, "--vocab", ""]),
            ("--out", ["embed", "word2vec", t, "--out", ""]),
            ("a corpus PATH", ["embed", "word2vec", "", "--out", o]),
            ("--vocab", ["embed", "word2vec", t, "--out", o, "--vocab", ""]),
            ("--out", ["embed", "bilm", "--corpus", t, "--out", ""]),
            ("--corpus", ["embed", "bilm", "--corpus", "", "--out", o]),
            ("--vocab", ["embed", "bilm", "--corpus", t, "--out", o, "--vocab", ""]),
            ("--embeddings", ["embed", "neighbors", "--embeddings", "", "the"]),
            ("INPUT", ["embed", "convert", "", "--out", o]),
            ("--out", ["embed", "convert", t, "--out", ""]),
            ("--embeddings", ["embed", "align", "--embeddings", "", "--vocab", v, "--out", o]),
            ("--vocab", ["embed", "align", "--embeddings", t, "--vocab", "", "--out", o]),
            ("--out", ["embed", "align", "--embeddings", t, "--vocab", v, "--out", ""]),
            ("--out", ["pretrain-domain", "--corpus", t, "--out", ""]),
            ("--corpus", ["pretrain-domain", "--corpus", "", "--out", o]),
            ("--vocab", ["pretrain-domain", "--corpus", t, "--out", o, "--vocab", ""]),
            ("--glomo", ["pretrain-domain", "--corpus", t, "--out", o, "--glomo", ""]),
            ("--out", ["pretrain-glomo", "--corpus", t, "--out", ""]),
            ("--corpus", ["pretrain-glomo", "--corpus", "", "--out", o]),
            ("--vocab", ["pretrain-glomo", "--corpus", t, "--out", o, "--vocab", ""]),
            ("--model", ["glomo", "show", "--model", "", "--text", "the cat", "--out", o]),
            ("--out", ["glomo", "show", "--model", m, "--text", "the cat", "--out", ""]),
            ("--model", ["generate", "--model", ""]),
            ("--model", ["perplexity", "--model", "", t]),
            ("a FILE to score", ["perplexity", "--model", m, ""]),
            ("--model", ["rescore", "--model", "", t]),
            ("NBEST", ["rescore", "--model", m, ""]),
            ("--output", ["rescore", "--model", m, t, "--output", ""]),
            ("RESULTS", ["report", ""]),
        ]
        let before = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        for (flag, arguments) in cases {
            XCTAssertTrue(arguments.contains(""), "\(arguments)")
            let r = try runLMTool(arguments, currentDirectory: dir, timeout: 60)
            XCTAssertEqual(r.status, 64, "\(arguments): \(r.stdout) \(r.stderr)")
            XCTAssertEqual(r.stderr, "Error: \(flag) must not be empty: give a path\n", "\(arguments)")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), before, "\(arguments): nothing is created")
        }
    }
}
