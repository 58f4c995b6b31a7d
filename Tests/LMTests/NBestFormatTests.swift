import Corpus
import Foundation
import XCTest
@testable import LM

/// The n-best formats of `lmtool rescore` on hand-written lists: detection, parsing (SRILM's
/// `nbest-format(5)` and Moses), the combined score and the reranked output, with expected
/// numbers worked out by hand (bytelog k = 1024 / 10000.5 / ln 10 log10 units).
final class NBestFormatTests: XCTestCase {
    let k = 1024 / 10000.5 / M_LN10

    func testDetectionFromTheFirstLine() throws {
        let cases: [(String, NBestFormat)] = [
            ("the cat sat\n", .plain),
            ("u1\tthe cat sat\n", .plain),
            ("1 2 cats\n", .plain),                       // two numbers and a word: not SRILM's three fields
            ("3 2 1 go\n", .plain),                       // an LM score above 0 is no log10 probability
            ("-3 0 1 go\n", .srilm),
            ("-100.5 -12 3 the cat sat\n", .srilm),
            ("NBestList1.0\n(-20) the cat\n", .nbestlist1),
            ("NBestList2.0\n(-20) the ( st: 0.00 et: 0.20 g: -10 a: -10 )\n", .nbestlist2),
            ("0 ||| the cat sat ||| lm: -1 ||| -3.5\n", .moses),
        ]
        for (text, format) in cases {
            XCTAssertEqual(try NBestList(parsing: text, path: "n").format, format, text)
        }
        // Told the format, a line that only looks like another is read as told.
        XCTAssertEqual(try NBestList(parsing: "(-20) the cat\n", path: "n", format: .plain).hypotheses[0].text, "(-20) the cat")
        XCTAssertEqual(try NBestList(parsing: "-3 0 1 go\n", path: "n", format: .plain).hypotheses[0].text, "-3 0 1 go")
    }

    /// The line: the hypothesis is "the cat sat", not the whole line.
    func testMosesFieldsAndSentenceIDs() throws {
        let list = try NBestList(parsing: "0 ||| the cat sat ||| lm: -1 ||| -3.5\n0 |||  ||| lm: -9 ||| -12 ||| 0-0\n1 ||| a ||| lm: -2 ||| -4\n", path: "m")
        XCTAssertEqual(list.hypotheses.map(\.id), ["0", "0", "1"])
        XCTAssertEqual(list.hypotheses.map(\.text), ["the cat sat", "", "a"])
        XCTAssertEqual(list.hypotheses.map(\.listScore), [-3.5, -12, -4])
        XCTAssertEqual(list.hypotheses[1].layout, .moses(features: "lm: -9", extra: ["0-0"]))
    }

    func testSRILMAndDecipherScoresAreLog10() throws {
        let srilm = try NBestList(parsing: "-100.5 -12 3 the cat sat\n-99 -13 0\n", path: "s")
        XCTAssertEqual(srilm.hypotheses.map(\.text), ["the cat sat", ""])
        XCTAssertEqual(srilm.hypotheses.map(\.listScore), [-100.5, -99])

        let one = try NBestList(parsing: "NBestList1.0\n(-2000) the cat\n", path: "d1")
        XCTAssertEqual(one.hypotheses[0].text, "the cat")
        XCTAssertEqual(one.hypotheses[0].line, 2)
        XCTAssertEqual(one.hypotheses[0].listScore!, -88.93906294063893, accuracy: 1e-9)

        // 2.0: "t-1" is an HMM state token inside "the" (it starts before "the" ends): not a word,
        // and its a: is not counted. Acoustic = -90 + -160 bytelog.
        let two = try NBestList(parsing: """
            NBestList2.0
            (-480) the ( st: 0.00 et: 0.20 g: -10 a: -90 ) t-1 ( st: 0.05 et: 0.10 g: 0 a: -5 ) dog ( st: 0.21 et: 0.50 g: -30 a: -160 )

            """, path: "d2")
        XCTAssertEqual(two.hypotheses[0].text, "the dog")
        XCTAssertEqual(two.hypotheses[0].listScore!, -250 * k, accuracy: 1e-12)
        XCTAssertEqual(Bytelog.fromLog10(Bytelog.toLog10(-2036)), -2036)
    }

    /// Every malformed line is one error naming the file and line.
    func testMalformedLinesNameFileAndLine() {
        let cases: [(String, NBestFormat?, String)] = [
            ("0 ||| a ||| f: 1 ||| -1\n1 ||| b ||| -2\n", nil, "m:2: expected 'id ||| hypothesis ||| features ||| total'"),
            ("0 ||| a ||| f: 1 ||| x\n", nil, "m:1: bad total score 'x'"),
            ("-1 -2 3 a b c\n-1 x 3 a\n", nil, "m:2: bad LM score 'x'"),
            ("-1 -2 3 a b c\n-1 -2\n", nil, "m:2: expected 'acoustic-score lm-score word-count words...'"),
            ("NBestList1.0\nthe cat\n", nil, "m:2: expected '(score)' first"),
            ("NBestList2.0\n(-5) the ( st: 0 et: 1 g: 0 )\n", nil, "m:2: 9 fields after the score"),
            ("NBestList2.0\n(-5) the ( st: 0 et: 1 g: 0 b: 0 )\n", nil, "m:2: token 1"),
            ("NBestList2.0\n", nil, "m: no hypotheses after the NBestList2.0 header"),
            ("the cat\n", .moses, "m:1: expected 'id ||| hypothesis"),
            ("the cat\n", .nbestlist1, "m:1: expected the header line 'NBestList1.0'"),
            ("the cat\n", .srilm, "m:1: expected 'acoustic-score"),
            // A Decipher line without its header is not read as text.
            ("(-20) the cat\n", nil, "m:1: starts with a Decipher score '(-20)' but the list has no NBestList1.0 or NBestList2.0 header"),
            // Errors in a detected format say it was detected.
            ("-1 -2 3 a b c\nthe cat sat\n", nil, "m:2: bad acoustic score 'the' (SRILM n-best format) (the format was detected from line 1)"),
        ]
        for (text, format, message) in cases {
            XCTAssertThrowsError(try NBestList(parsing: text, path: "m", format: format), text) { error in
                XCTAssertTrue("\(error)".hasPrefix(message), "\(text): \(error)")
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
    }

    /// SRILM acoustic + W·lm + P·words; ties keep the input order.
    func testCombinedScoresAndOrderByHand() throws {
        let list = try NBestList(parsing: "-100 -5 2 a b\n-99 -6 1 c\n-98 -1 3 d e f\n", path: "s")
        let lm = [-2.0, -4.0, -3.0], words = [2, 1, 3]
        // W 2, P -0.5: -100 - 4 - 1 = -105; -99 - 8 - 0.5 = -107.5; -98 - 6 - 1.5 = -105.5.
        let totals = list.combinedScores(log10Probabilities: lm, words: words, lmWeight: 2, wordPenalty: -0.5)
        XCTAssertEqual(totals, [-105, -107.5, -105.5])
        XCTAssertEqual(list.rerankedOrder(totals: totals), [0, 2, 1])
        XCTAssertEqual(list.rerankedOrder(totals: [-1, -1, 0]), [2, 0, 1])
        // A weight of 0 ignores lmtool entirely, even a −inf score.
        XCTAssertEqual(list.combinedScores(log10Probabilities: [-.infinity, 0, 0], words: words, lmWeight: 0, wordPenalty: 0), [-100, -99, -98])
        // Plain lists have no score of their own.
        let plain = try NBestList(parsing: "a\nb\n", path: "p")
        XCTAssertEqual(plain.combinedScores(log10Probabilities: [-1, -2], words: [1, 1], lmWeight: 3, wordPenalty: 1), [-2, -5])
    }

    /// Moses lists rerank within each sentence id, sentences in first-seen order.
    func testMosesRerankingStaysWithinSentences() throws {
        let list = try NBestList(parsing: "7 ||| a ||| f= 1 ||| -5\n7 ||| b ||| f= 2 ||| -1\n3 ||| c ||| f= 3 ||| -9\n3 ||| d ||| f= 4 ||| -2\n", path: "m")
        let totals = list.combinedScores(log10Probabilities: [0, 0, 0, 0], words: [1, 1, 1, 1], lmWeight: 1, wordPenalty: 0)
        XCTAssertEqual(list.rerankedOrder(totals: totals), [1, 0, 3, 2])
        XCTAssertEqual(list.render(reranked: totals, log10Probabilities: [-0.5, -1.25, -2, -3], words: [1, 1, 1, 1]), """
            7 ||| b ||| f= 2 lmtool= -1.25 ||| -1
            7 ||| a ||| f= 1 lmtool= -0.5 ||| -5
            3 ||| d ||| f= 4 lmtool= -3 ||| -2
            3 ||| c ||| f= 3 lmtool= -2 ||| -9

            """)
    }

    /// Each format written back best first, by hand.
    func testRenderRerankedInEachFormat() throws {
        let srilm = try NBestList(parsing: "-100 -5 2 a b\n-99.50 -6 1 c\n", path: "s")
        // Totals -100 + -2 = -102 and -99.5 + -1 = -100.5: c first, its acoustic score as written.
        let st = srilm.combinedScores(log10Probabilities: [-2, -1], words: [2, 1], lmWeight: 1, wordPenalty: 0)
        XCTAssertEqual(srilm.render(reranked: st, log10Probabilities: [-2, -1], words: [2, 1]), "-99.50 -1 1 c\n-100 -2 2 a b\n")

        // NBestList1.0: (-2000) → -88.939062...; + -1.5 = -90.439062... → bytelog -2033.73... → -2034.
        let one = try NBestList(parsing: "NBestList1.0\n(-2000) a b\n(-2100) c\n", path: "d1")
        let ot = one.combinedScores(log10Probabilities: [-1.5, -1.5], words: [2, 1], lmWeight: 1, wordPenalty: 0)
        XCTAssertEqual(ot[0], -2000 * k - 1.5, accuracy: 1e-12)
        XCTAssertEqual(Bytelog.fromLog10(ot[0]), (-2000 + (-1.5 / k)).rounded())
        XCTAssertEqual(one.render(reranked: ot, log10Probabilities: [-1.5, -1.5], words: [2, 1]), "NBestList1.0\n(-2034) a b\n(-2134) c\n")

        let two = try NBestList(parsing: "NBestList2.0\n(-7) x ( st: 0 et: 1 g: -3 a: -4 )\n", path: "d2")
        // Acoustic -4 bytelog; lm -1 (W 1): total -4 - 1/k = -26.49... → -26.
        let tt = two.combinedScores(log10Probabilities: [-1], words: [1], lmWeight: 1, wordPenalty: 0)
        XCTAssertEqual(two.render(reranked: tt, log10Probabilities: [-1], words: [1]), "NBestList2.0\n(-26) x ( st: 0 et: 1 g: -3 a: -4 )\n")

        let plain = try NBestList(parsing: "u1\ta\nu2\tb\n", path: "p")
        XCTAssertEqual(plain.render(reranked: [-3, -2], log10Probabilities: [-3, -2], words: [1, 1]), "u2\tb\nu1\ta\n")
    }
}
