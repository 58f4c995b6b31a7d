import Corpus
import Foundation
import LM
import NN
import XCTest

/// `lmtool rescore` on hand-written n-best lists of each format (plain, SRILM, NBestList1.0,
/// NBestList2.0, Moses), with a run whose every next-token distribution is fixed:
/// p(<unk>) 0.1, p(<eos>) 0.2, p(the) 0.3, p(cat) 0.4. So log10 p(hypothesis </s>) is by hand:
/// "the cat" log10 0.024 = -1.6197888, "cat cat" log10 0.032 = -1.4948500, "the dog" (dog
/// scored as <unk>) log10 0.006 = -2.2218487, "the" log10 0.06 = -1.2218487.
final class RescoreFormatTests: TemporaryDirectoryTestCase {
    let vocabulary = try! Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat"], counts: [1, 2, 5, 3])
    let lm = ["the cat": -1.6197887582883939, "cat cat": -1.494850021680094, "the dog": -2.221848749616356, "the": -1.2218487496163564]
    /// log10 of one bytelog unit.
    let k = 1024 / 10000.5 / M_LN10

    func read(_ name: String) throws -> String { try String(contentsOfFile: path(name), encoding: .utf8) }

    /// A run whose weights are 0 and decoder bias log p: every position's distribution is p.
    func makeConstantRun() throws -> String {
        let config = RunConfig(model: ModelConfig(vocabularySize: 4, embeddingSize: 4, hiddenSize: 5, layers: 1, dropout: 0,
                                                  tieWeights: false, initRange: 0.5),
                               training: Preset.tiny.training, corpus: .init(train: ["train.txt"]),
                               tokenization: TokenizationOptions(), vocabularyHash: vocabulary.contentHash)
        let run = try RunDirectory.create(at: path("run"), config: config, vocabulary: vocabulary)
        var rng = RNG(seed: 1)
        let model = try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 1, rng: &rng)
        for i in 0..<model.store.values.count { model.store.values[i] = 0 }
        let bias = model.store.values(model.decoderBias!)
        for (i, q) in [0.1, 0.2, 0.3, 0.4].enumerated() { bias[i] = Float(log(q)) }
        try run.saveModel(model, config: config)
        return run.path
    }

    /// Tab-separated column `column` of line `line` of `text`, as a number.
    func number(_ text: String, line: Int, column: Int, file: StaticString = #filePath, at: UInt = #line) throws -> Double {
        let lines = text.split(separator: "\n")
        guard line < lines.count else { XCTFail("no line \(line) in \(text)", file: file, line: at); return .nan }
        let fields = lines[line].split(separator: "\t")
        guard column < fields.count, let x = Double(fields[column]) else { XCTFail("no number in column \(column) of '\(lines[line])'", file: file, line: at); return .nan }
        return x
    }

    /// The Moses line used to be scored as 12 words of plain text (10 of them OOVs here).
    func testMosesLineScoresOnlyItsHypothesis() throws {
        let run = try makeConstantRun()
        let nbest = try write("m.nbest", "0 ||| the cat sat ||| lm: -1 ||| -3.5\n")
        let r = try runLMTool(["rescore", "--model", run, nbest, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(json["format"] as? String, "moses")
        let h = try XCTUnwrap((json["hypotheses"] as? [[String: Any]])?.first)
        XCTAssertEqual(h["text"] as? String, "the cat sat")
        XCTAssertEqual(h["id"] as? String, "0")
        XCTAssertEqual(h["words"] as? Int, 3)
        XCTAssertEqual(h["oovs"] as? Int, 1)
        // log10(0.3 · 0.4 · 0.1 · 0.2) = log10 0.0024; total -3.5 + that.
        XCTAssertEqual(try XCTUnwrap(h["logprob"] as? Double), log10(0.0024), accuracy: 1e-5)
        XCTAssertEqual(try XCTUnwrap(h["total"] as? Double), -3.5 + log10(0.0024), accuracy: 1e-5)
    }

    /// Moses, W 1 and P -0.5: sentence 0 totals -3.5 - 1.61979 - 1 = -6.11979, -3 - 1.49485 - 1 =
    /// -5.49485, -2 - 2.22185 - 1 = -5.22185 (best); sentence 1 -1 - 1.22185 - 0.5 = -2.72185
    /// (best), -1.5 - 1.61979 - 1 = -4.11979. With W 10, P 0 sentence 0 becomes cat cat
    /// (-17.95), the cat (-19.70), the dog (-24.22).
    func testMosesRerankedWithWeightAndPenalty() throws {
        let run = try makeConstantRun()
        let nbest = try write("m.nbest", """
            0 ||| the cat ||| d: -1 lm: -2 ||| -3.5
            0 ||| cat cat ||| d: -1 lm: -2 ||| -3.0
            0 ||| the dog ||| d: -1 lm: -2 ||| -2.0
            1 ||| the ||| d: 0 ||| -1.0
            1 ||| the cat ||| d: 0 ||| -1.5

            """)
        let r = try runLMTool(["rescore", "--model", run, nbest, "--lm-weight", "1", "--word-penalty", "-0.5", "--output", path("out.nbest")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try read("out.nbest"), """
            0 ||| the dog ||| d: -1 lm: -2 lmtool= -2.22185 ||| -5.22185
            0 ||| cat cat ||| d: -1 lm: -2 lmtool= -1.49485 ||| -5.49485
            0 ||| the cat ||| d: -1 lm: -2 lmtool= -1.61979 ||| -6.11979
            1 ||| the ||| d: 0 lmtool= -1.22185 ||| -2.72185
            1 ||| the cat ||| d: 0 lmtool= -1.61979 ||| -4.11979

            """)
        // stdout: id, lmtool's log10 p and the total, in input order.
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 5)
        XCTAssertTrue(r.stdout.hasPrefix("0\t"), r.stdout)
        XCTAssertEqual(try number(r.stdout, line: 0, column: 1), lm["the cat"]!, accuracy: 1e-5)
        XCTAssertEqual(try number(r.stdout, line: 0, column: 2), -3.5 + lm["the cat"]! - 1, accuracy: 1e-5)

        let heavy = try runLMTool(["rescore", "--model", run, nbest, "--lm-weight", "10", "--output", path("heavy.nbest")])
        XCTAssertEqual(heavy.status, 0, heavy.stderr)
        XCTAssertEqual(try read("heavy.nbest").split(separator: "\n").map { $0.components(separatedBy: " ||| ").dropFirst().first ?? "" },
                       ["cat cat", "the cat", "the dog", "the", "the cat"])
    }

    /// SRILM's own format: acoustic + W·lm + P·words, lmtool's log10 p written as the LM score.
    /// Totals (W 1): -100 - 1.61979 = -101.62; -99 - 1.49485 = -100.49 (best); -98.5 - 2.22185 = -100.72.
    func testSRILMFormatReranked() throws {
        let run = try makeConstantRun()
        let nbest = try write("s.nbest", "-100 -5 2 the cat\n-99 -6 2 cat cat\n-98.5 -1 2 the dog\n")
        let r = try runLMTool(["rescore", "--model", run, nbest, "--output", path("out.nbest")])
        XCTAssertEqual(r.status, 0, r.stderr)
        let out = try read("out.nbest").split(separator: "\n").map { $0.split(separator: " ") }
        XCTAssertEqual(out.count, 3)
        guard out.count == 3, out.allSatisfy({ $0.count >= 4 }) else { return }
        XCTAssertEqual(out.map { $0[0] }, ["-99", "-98.5", "-100"])
        XCTAssertEqual(out.map { $0[3...].joined(separator: " ") }, ["cat cat", "the dog", "the cat"])
        XCTAssertEqual(out.map { $0[2] }, ["2", "2", "2"])
        for (fields, words) in zip(out, ["cat cat", "the dog", "the cat"]) {
            XCTAssertEqual(Double(fields[1])!, lm[words]!, accuracy: 1e-5)
        }
        XCTAssertEqual(try number(r.stdout, line: 0, column: 1), -101.6197888, accuracy: 1e-5)
        XCTAssertEqual(try number(r.stdout, line: 1, column: 1), -100.4948500, accuracy: 1e-5)
        XCTAssertEqual(try number(r.stdout, line: 2, column: 1), -100.7218487, accuracy: 1e-5)
    }

    /// NBestList1.0 (W 1): (-2000) the cat → -2000k - 1.61979 = -90.5589 → bytelog -2036.42 → -2036;
    /// (-1990) the dog → -1990k - 2.22185 = -90.7162 → -2039.96 → -2040. The cat stays first.
    /// NBestList2.0: the dog's acoustic is -240 bytelog (the state token t-1 is not counted), the
    /// cat's -250: totals -240k - 2.22185 = -12.8945 → -289.96 → -290 and -250k - 1.61979 =
    /// -12.7372 → -286.42 → -286, so the cat moves first.
    func testDecipherListsReranked() throws {
        let run = try makeConstantRun()
        let one = try write("d1.nbest", "NBestList1.0\n(-2000) the cat\n(-1990) the dog\n")
        let r1 = try runLMTool(["rescore", "--model", run, one, "--output", path("d1.out")])
        XCTAssertEqual(r1.status, 0, r1.stderr)
        XCTAssertEqual(try read("d1.out"), "NBestList1.0\n(-2036) the cat\n(-2040) the dog\n")
        XCTAssertEqual(try number(r1.stdout, line: 0, column: 1), -2000 * k + lm["the cat"]!, accuracy: 1e-5)

        let two = try write("d2.nbest", """
            NBestList2.0
            (-300) the ( st: 0.00 et: 0.20 g: -10 a: -100 ) t-1 ( st: 0.05 et: 0.10 g: 0 a: -5 ) dog ( st: 0.21 et: 0.50 g: -30 a: -140 )
            (-310) the ( st: 0.00 et: 0.20 g: -10 a: -100 ) cat ( st: 0.21 et: 0.50 g: -20 a: -150 )

            """)
        let r2 = try runLMTool(["rescore", "--model", run, two, "--output", path("d2.out")])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(try read("d2.out"), """
            NBestList2.0
            (-286) the ( st: 0.00 et: 0.20 g: -10 a: -100 ) cat ( st: 0.21 et: 0.50 g: -20 a: -150 )
            (-290) the ( st: 0.00 et: 0.20 g: -10 a: -100 ) t-1 ( st: 0.05 et: 0.10 g: 0 a: -5 ) dog ( st: 0.21 et: 0.50 g: -30 a: -140 )

            """)
    }

    /// Plain lists keep today's output; --output reorders the lines by lmtool's score (W·lm + P·words).
    func testPlainListReranked() throws {
        let run = try makeConstantRun()
        let nbest = try write("p.txt", "u1\tthe dog\nu2\tthe cat\nu3\tthe\n")
        let r = try runLMTool(["rescore", "--model", run, nbest, "--output", path("p.out")])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try read("p.out"), "u3\tthe\nu2\tthe cat\nu1\tthe dog\n")
        XCTAssertEqual(r.stdout.split(separator: "\n").map { $0.split(separator: "\t").count }, [2, 2, 2])
        // A word penalty of +0.5 per word lifts "the cat" (-1.62 + 1 = -0.62) above "the"
        // (-1.22 + 0.5 = -0.72), not "the dog" (-2.22 + 1 = -1.22).
        let p = try runLMTool(["rescore", "--model", run, nbest, "--word-penalty", "0.5", "--output", path("p1.out")])
        XCTAssertEqual(p.status, 0, p.stderr)
        XCTAssertEqual(try read("p1.out"), "u2\tthe cat\nu3\tthe\nu1\tthe dog\n")
    }

    /// A leading <s> and a trailing </s> or <eos> are the hypothesis' sentence boundaries (as in
    /// SRILM), not words: "<s> the cat </s>" scores exactly as "the cat", log10(0.3 · 0.4 · 0.2),
    /// 2 words, 0 OOVs, in every format; the list is written back with its tags. Before, the
    /// tags were scored as two OOV words and <eos> as a second sentence end.
    func testSentenceTagsAtTheEndsAreBoundariesNotWords() throws {
        let run = try makeConstantRun()
        let theCat = log10(0.3 * 0.4 * 0.2)
        let plain = try write("tags.txt", "a\t<s> the cat </s>\nb\tthe cat\nc\t<s> the cat <eos>\nd\tthe cat </s>\ne\t<s> </s>\n")
        let r = try runLMTool(["rescore", "--model", run, plain, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let hypotheses = try XCTUnwrap(json["hypotheses"] as? [[String: Any]])
        XCTAssertEqual(hypotheses.count, 5)
        for h in hypotheses.prefix(4) {
            XCTAssertEqual(try XCTUnwrap(h["logprob"] as? Double), theCat, accuracy: 1e-6, "\(h)")
            XCTAssertEqual(h["words"] as? Int, 2, "\(h)")
            XCTAssertEqual(h["oovs"] as? Int, 0, "\(h)")
        }
        XCTAssertEqual(hypotheses[0]["text"] as? String, "<s> the cat </s>", "the text as read")
        // "<s> </s>": the empty sentence, </s> alone: log10 0.2, no words.
        XCTAssertEqual(try XCTUnwrap(hypotheses[4]["logprob"] as? Double), log10(0.2), accuracy: 1e-6)
        XCTAssertEqual(hypotheses[4]["words"] as? Int, 0)

        // SRILM's own format, as SRILM writes hypotheses (with the tags): the same score, and
        // the reranked list keeps the tags, with lmtool's word count 2.
        let srilm = try write("tags.srilm", "-10 -5 4 <s> the cat </s>\n")
        let s = try runLMTool(["rescore", "--model", run, srilm, "--output", path("tags.out")])
        XCTAssertEqual(s.status, 0, s.stderr)
        XCTAssertEqual(try number(s.stdout, line: 0, column: 0), theCat, accuracy: 1e-5)   // printed with %g
        let written = try read("tags.out")
        let fields = written.split(separator: " ")
        XCTAssertEqual(fields.count, 7, written)
        XCTAssertEqual(fields[0], "-10")
        XCTAssertEqual(try XCTUnwrap(Double(fields[1])), theCat, accuracy: 1e-6)
        XCTAssertEqual(fields[2...].joined(separator: " "), "2 <s> the cat </s>\n")
    }

    /// A sentence tag inside a hypothesis would score a second sentence end (or a word):
    /// refused, naming the file and line and the tag; nothing is written.
    func testSentenceTagsInsideAHypothesisAreRefused() throws {
        let run = try makeConstantRun()
        for (i, hypothesis) in ["the <eos> cat", "the cat </s> </s>", "<s> <s> the", "the </s> cat </s>"].enumerated() {
            let nbest = try write("inner\(i).txt", "the cat\n\(hypothesis)\n")
            let tag = hypothesis.contains("<eos>") ? "<eos>" : hypothesis.hasPrefix("<s> <s>") ? "<s>" : "</s>"
            try assertFails(["rescore", "--model", run, nbest, "--output", path("out")],
                            mentioning: ["\(nbest):2: '\(tag)' inside the hypothesis"])
            XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")))
        }
        let moses = try write("inner.moses", "0 ||| the </s> cat ||| lm: -1 ||| -3.5\n")
        try assertFails(["rescore", "--model", run, moses], mentioning: ["\(moses):1: '</s>' inside the hypothesis"])
    }

    /// A line that does not fit the list's format is one error naming the file and line; nothing is written.
    func testMalformedListsAreRefused() throws {
        let run = try makeConstantRun()
        let moses = try write("bad.nbest", "0 ||| the cat ||| lm: -1 ||| -3.5\n0 ||| the dog ||| -2\n")
        let r = try runLMTool(["rescore", "--model", run, moses, "--output", path("out")])
        XCTAssertNotEqual(r.status, 0)
        let message = r.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(message.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(message.hasPrefix("Error: \(moses):2: expected 'id ||| hypothesis ||| features ||| total'"), message)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")))

        let plain = try write("plain.txt", "the cat\n")
        let forced = try runLMTool(["rescore", "--model", run, plain, "--nbest-format", "nbestlist2"])
        XCTAssertNotEqual(forced.status, 0)
        XCTAssertTrue(forced.stderr.contains("\(plain):1: expected the header line 'NBestList2.0'"), forced.stderr)

        let unknown = try runLMTool(["rescore", "--model", run, plain, "--nbest-format", "xml"])
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.stderr.contains("xml"), unknown.stderr)

        let weight = try runLMTool(["rescore", "--model", run, plain, "--lm-weight", "nan"])
        XCTAssertNotEqual(weight.status, 0)
        XCTAssertTrue(weight.stderr.contains("--lm-weight"), weight.stderr)
    }
}
