import Foundation
import XCTest

/// Fallback rows (vectors an embedding command did not learn) as a user meets them: `embed bilm`
/// averages over the whole corpus whatever `--train-tokens` says, every writer lists its fallback
/// rows in `FILE.fallbacks.txt`, `embed neighbors` marks them and `train --embeddings` does not
/// count them as found. Files are read back with plain string splitting, not lmtool's readers.
final class EmbedFallbackTests: XCTestCase {
    var directory = ""
    var corpus: String { directory + "/corpus.txt" }

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "embed-fallback-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        // 40 lines, all in the train split. Vocabulary: <unk>, <eos> and 12 words. The first 10
        // tokens, "the cat sat on the mat <eos> a dog ran", leave out in, park, bird and sang.
        let lines = (0..<40).map { i in ["the cat sat on the mat", "a dog ran in the park", "the bird sang"][i % 3] }
        try (lines.joined(separator: "\n") + "\n").write(toFile: corpus, atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    let small = ["--embedding-size", "4", "--hidden-size", "3", "--batch-size", "2", "--bptt", "4"]

    /// The rows of a word2vec text file (header dropped), word → values as written.
    func rows(_ path: String) throws -> [String: String] {
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").dropFirst()
        var rows: [String: String] = [:]
        for line in lines {
            let space = try XCTUnwrap(line.firstIndex(of: " "))
            rows[String(line[..<space])] = String(line[line.index(after: space)...])
        }
        return rows
    }

    func sidecar(_ path: String) throws -> [String] {
        try String(contentsOfFile: path + ".fallbacks.txt", encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// `--train-tokens 10` trains on 10 tokens but averages over all 241: only <unk> (never in
    /// the corpus) falls back, so 14 distinct rows. The old code averaged over the 10 training
    /// tokens: 5 rows shared one mean vector, and nothing said which.
    func testBiLMAveragesOverTheWholeCorpusWhateverTrainTokens() throws {
        let out = directory + "/bilm.vec"
        let r = try runLMTool(["embed", "bilm", "--corpus", corpus, "--out", out, "--train-tokens", "10"] + small)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("training on the first 10 tokens, averaging over all"), r.stdout)
        XCTAssertTrue(r.stdout.contains("13 of 14 words averaged over their occurrences in 241 tokens"), r.stdout)
        XCTAssertTrue(r.stdout.contains("1 of 14 rows are fallbacks (never seen in the averaged tokens: <unk>)"), r.stdout)
        let table = try rows(out)
        XCTAssertEqual(table.count, 14)
        XCTAssertEqual(Set(table.values).count, 14, "every word seen in the corpus has its own average")
        XCTAssertEqual(try sidecar(out), ["<unk>"])
        // The words never in the 10 training tokens are said so.
        XCTAssertTrue(r.stdout.contains("4 averaged words never occur in the 10 training tokens"), r.stdout)
    }

    /// `--average-tokens 10` bounds the averaging only: the 4 words after them and <unk> share
    /// the mean vector, are listed, and `embed neighbors` marks them (from the sidecar, and
    /// without it from the identical vectors).
    func testAverageTokensListsFallbacksAndNeighborsMarkThem() throws {
        let out = directory + "/bilm.vec"
        let r = try runLMTool(["embed", "bilm", "--corpus", corpus, "--out", out, "--average-tokens", "10"] + small)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("training on all, averaging over the first 10 tokens"), r.stdout)
        XCTAssertTrue(r.stdout.contains("5 of 14 rows are fallbacks"), r.stdout)
        XCTAssertEqual(Set(try sidecar(out)), ["<unk>", "in", "park", "bird", "sang"])
        let table = try rows(out)
        XCTAssertEqual(Set(["<unk>", "in", "park", "bird", "sang"].map { table[$0]! }).count, 1, "one shared fallback vector")

        let n = try runLMTool(["embed", "neighbors", "--embeddings", out, "-k", "3", "park", "cat"])
        XCTAssertEqual(n.status, 0, n.stderr)
        let lines = n.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, n.stdout)
        XCTAssertTrue(lines[0].hasPrefix("park [fallback]: "), n.stdout)
        XCTAssertTrue(lines[0].contains(" [fallback] 1.000"), n.stdout)
        XCTAssertFalse(lines[1].hasPrefix("cat ["), n.stdout)
        XCTAssertTrue(n.stderr.contains("warning: 5 of 14 rows of \(out) are fallbacks listed in \(out).fallbacks.txt"), n.stderr)

        try FileManager.default.removeItem(atPath: out + ".fallbacks.txt")
        let bare = try runLMTool(["embed", "neighbors", "--embeddings", out, "-k", "3", "park"])
        XCTAssertEqual(bare.status, 0, bare.stderr)
        XCTAssertTrue(bare.stdout.hasPrefix("park [shared vector]: "), bare.stdout)
        XCTAssertTrue(bare.stdout.contains(" [shared vector] 1.000"), bare.stdout)
        XCTAssertTrue(bare.stderr.contains("warning: 5 rows of \(out) have exactly the same vector as other rows (1 group(s)"), bare.stderr)
    }

    /// word2vec never trains <unk> and <eos>: both are listed (without subsampling every other
    /// word is a context word often enough to move); the file itself stays plain word2vec text.
    func testWord2VecListsItsUntrainedRows() throws {
        let out = directory + "/w2v.vec"
        let r = try runLMTool(["embed", "word2vec", corpus, "--out", out, "--dim", "4", "--min-count", "1", "--epochs", "2", "--sample", "0", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("2 of 14 rows are fallbacks (untouched by training, still their random initial vectors: <unk> <eos>), listed in \(out).fallbacks.txt"), r.stdout)
        XCTAssertEqual(try sidecar(out), ["<unk>", "<eos>"])
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.first, "14 4")
        XCTAssertEqual(lines.count, 15)
    }

    /// `embed align` lists the missing words and the input's fallback rows it carries; `embed
    /// convert` carries the list over, and a converted file without one loses any stale list.
    func testAlignAndConvertKeepTheList() throws {
        let vectors = directory + "/w2v.vec"
        let w = try runLMTool(["embed", "word2vec", corpus, "--out", vectors, "--dim", "4", "--min-count", "1", "--epochs", "2", "--sample", "0", "--threads", "1"])
        XCTAssertEqual(w.status, 0, w.stderr)
        let vocab = directory + "/v.txt"
        try "<unk>\t0\n<eos>\t0\nthe\t5\ncat\t3\nzebra\t1\n".write(toFile: vocab, atomically: true, encoding: .utf8)
        let aligned = directory + "/aligned.vec"
        let a = try runLMTool(["embed", "align", "--embeddings", vectors, "--vocab", vocab, "--out", aligned])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertTrue(a.stdout.contains("2 of the found rows are fallback rows in \(vectors) (listed in \(vectors).fallbacks.txt): <unk> <eos>"), a.stdout)
        XCTAssertTrue(a.stdout.contains("3 of 5 rows are fallbacks"), a.stdout)
        XCTAssertEqual(try sidecar(aligned), ["<unk>", "<eos>", "zebra"])

        let converted = directory + "/w2v.safetensors"
        let c = try runLMTool(["embed", "convert", vectors, "--out", converted])
        XCTAssertEqual(c.status, 0, c.stderr)
        XCTAssertEqual(try sidecar(converted), ["<unk>", "<eos>"])
        try FileManager.default.removeItem(atPath: vectors + ".fallbacks.txt")
        let again = try runLMTool(["embed", "convert", vectors, "--out", converted])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: converted + ".fallbacks.txt"), "a stale list is removed")
    }

    /// `train --embeddings` on the word2vec file: <unk> and <eos> are in the file but were never
    /// trained there, so 12 words are found, not 14 (the old line said "14 of 14 ... 0 missing").
    func testTrainEmbeddingsDoesNotCountFallbackRowsAsFound() throws {
        let vectors = directory + "/w2v.vec"
        let w = try runLMTool(["embed", "word2vec", corpus, "--out", vectors, "--dim", "8", "--min-count", "1", "--epochs", "2", "--sample", "0", "--threads", "1"])
        XCTAssertEqual(w.status, 0, w.stderr)
        for name in ["valid.txt", "test.txt"] { try FileManager.default.copyItem(atPath: corpus, toPath: directory + "/" + name) }
        let r = try runLMTool(["train", "--run", directory + "/run", "--train", corpus, "--valid", directory + "/valid.txt",
                               "--test", directory + "/test.txt",
                               "--preset", "tiny", "--embedding-size", "8", "--hidden-size", "8", "--batch-size", "4", "--bptt", "6",
                               "--epochs", "1", "--threads", "1", "--embeddings", vectors])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("12 of 14 vocabulary words found in \(vectors)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("2 more are fallback rows in the file (listed in \(vectors).fallbacks.txt: <unk> <eos>), not counted as found"), r.stdout)
    }

    /// pretrain-domain's two exports list their fallback rows next to each file.
    func testPretrainDomainListsFallbackRowsOfBothExports() throws {
        let words = [["apple", "pear", "plum", "fig"], ["saw", "nail", "drill", "vise"]]
        var lines: [String] = []
        for i in 0..<56 {
            let d = i % 2
            let text = (0..<(3 + i % 5)).map { words[d][($0 * 7 + i) % 4] }.joined(separator: " ")
            let split = i < 40 ? "train" : (i < 48 ? "valid" : "test")
            lines.append("{\"text\": \"\(text)\", \"domain\": \"\(d == 0 ? "fruit" : "tools")\", \"split\": \"\(split)\"}")
        }
        let toy = directory + "/toy.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(toFile: toy, atomically: true, encoding: .utf8)
        let run = directory + "/domain"
        let r = try runLMTool(["pretrain-domain", "--corpus", toy, "--out", run, "--epochs", "1",
                               "--embedding-size", "8", "--hidden-size", "8", "--batch-size", "8"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for name in ["embeddings.vec", "embeddings.safetensors", "contextual.vec", "contextual.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(run)/\(name).fallbacks.txt"), name)
        }
        // Every fruit and tool word occurs in the train split; <unk> does not.
        let listed = try sidecar(run + "/embeddings.vec")
        XCTAssertTrue(listed.contains("<unk>"), "\(listed)")
        XCTAssertTrue(Set(listed).isDisjoint(with: words.joined()), "\(listed)")
        XCTAssertEqual(try sidecar(run + "/contextual.vec"), listed)
        XCTAssertTrue(r.stdout.contains("rows are fallbacks (input rows of words absent from the training examples"), r.stdout)

        // With --max-length 1 only each example's first word trains (apple, plum, nail, vise: the
        // first words of the train documents). Two runs with different learning rates, same seed:
        // exactly the listed rows are equal in both (never updated), every other row differs.
        var tables: [[String: String]] = []
        for (name, lr) in [("a", "0.02"), ("b", "0.05")] {
            let cut = try runLMTool(["pretrain-domain", "--corpus", toy, "--out", directory + "/" + name, "--epochs", "1", "--max-length", "1",
                                     "--embedding-size", "8", "--hidden-size", "8", "--batch-size", "8", "--lr", lr])
            XCTAssertEqual(cut.status, 0, cut.stderr)
            tables.append(try rows(directory + "/" + name + "/embeddings.vec"))
        }
        let unchanged = Set(tables[0].keys.filter { tables[0][$0] == tables[1][$0] })
        XCTAssertEqual(Set(try sidecar(directory + "/a/embeddings.vec")), unchanged)
        XCTAssertTrue(unchanged.isSuperset(of: ["pear", "fig", "saw", "drill"]), "\(unchanged)")
        XCTAssertTrue(unchanged.isDisjoint(with: ["apple", "plum", "nail", "vise"]), "\(unchanged)")
    }
}
