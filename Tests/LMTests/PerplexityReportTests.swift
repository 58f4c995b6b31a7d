import Corpus
import Foundation
import XCTest
@testable import LM

/// SRILM `ngram -ppl` arithmetic on a hand-made example whose probabilities are powers of two:
///
///     sentence 1: the   cat   </s>           p = 1/2, 1/4, 1/2
///     sentence 2: a     zyx   c     </s>     p = 1/4, 1/10 (OOV, scored as <unk>), 1/2, 1/8
///
/// In-vocabulary product 2^-10, so the SRILM logprob is −10·log10 2 = −3.0103 over
/// 5 words − 1 OOV + 2 sentences = 6 (ppl = 2^(10/6)) or 4 (ppl1 = 2^(10/4)). With the OOV
/// scored as `<unk>` (SRILM's -unk), logprob is −(10·log10 2 + 1) over 7 and 5.
final class PerplexityReportTests: XCTestCase {
    let sentences: [[TokenScore]] = [
        [TokenScore(token: "the", logProb: log(0.5)), TokenScore(token: "cat", logProb: log(0.25)),
         TokenScore(token: "<eos>", logProb: log(0.5), isEndOfSentence: true)],
        [TokenScore(token: "a", logProb: log(0.25)), TokenScore(token: "<unk>", logProb: log(0.1), isOOV: true),
         TokenScore(token: "c", logProb: log(0.5)), TokenScore(token: "<eos>", logProb: log(0.125), isEndOfSentence: true)],
    ]

    func testCountsAndBothFigureSets() throws {
        let report = PerplexityReport(file: "test.txt", sentences: sentences)
        let t = report.total
        XCTAssertEqual([t.sentences, t.words, t.oovs, t.zeroprobs], [2, 5, 1, 0])
        let log2 = log10(2.0)
        XCTAssertEqual(t.srilm.logprob, -10 * log2, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(t.srilm.ppl), pow(2, 10.0 / 6), accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(t.srilm.ppl1), pow(2, 2.5), accuracy: 1e-12)
        XCTAssertEqual(t.withOOVs.logprob, -(10 * log2 + 1), accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(t.withOOVs.ppl), pow(2, 10.0 / 7) * pow(10, 1.0 / 7), accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(t.withOOVs.ppl1), 4 * pow(10, 0.2), accuracy: 1e-12)
        // Per sentence: 2^-4 over 3 and 2 positions; 2^-6 over 3 and 2 once the OOV is dropped.
        XCTAssertEqual(try XCTUnwrap(report.sentences[0].statistics.srilm.ppl), pow(2, 4.0 / 3), accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(report.sentences[1].statistics.srilm.ppl1), 8, accuracy: 1e-12)
    }

    func testFlatTokensAreGroupedAfterEachEndOfSentence() {
        let flat = sentences.flatMap { $0 } + [TokenScore(token: "tail", logProb: log(0.5))]
        let report = PerplexityReport(file: "t", tokens: flat)
        XCTAssertEqual(report.sentences.map { $0.tokens.count }, [3, 4, 1])
        XCTAssertEqual(report.total.sentences, 2)   // the tail has no <eos>
        XCTAssertEqual(report.total.words, 6)
    }

    func testScoreFromVocabularyIDs() throws {
        let vocabulary = try Vocabulary(tokens: ["<unk>", "<eos>", "cat"], counts: [1, 1, 1])
        XCTAssertEqual(TokenScore(id: 2, logProb: -1, vocabulary: vocabulary), TokenScore(token: "cat", logProb: -1))
        XCTAssertEqual(TokenScore(id: 1, logProb: -2, vocabulary: vocabulary),
                       TokenScore(token: "<eos>", logProb: -2, isEndOfSentence: true))
        XCTAssertEqual(TokenScore(id: 0, logProb: -3, isOOV: true, vocabulary: vocabulary).token, "<unk>")
    }

    func testUniformModelHasPerplexityV() throws {
        let v = 37.0
        let tokens = (0..<9).map { TokenScore(token: "w", logProb: -log(v), isEndOfSentence: $0 % 3 == 2) }
        let t = PerplexityStatistics(tokens)
        XCTAssertEqual(try XCTUnwrap(t.srilm.ppl), v, accuracy: 1e-10)
        XCTAssertEqual(try XCTUnwrap(t.srilm.ppl1), pow(v, 9.0 / 6), accuracy: 1e-9)   // 9 factors of 1/V over 6 words
    }

    /// The golden SRILM text, every number worked out by hand (see the class comment):
    ///
    /// `ngram -ppl` (default): the OOV is counted, not scored. logprob = log10 2^-10 = −3.0103;
    /// ppl = 10^(3.0103 / (5 − 1 − 0 + 2)) = 2^(10/6) = 3.1748; ppl1 = 10^(3.0103 / 4) = 2^2.5 = 5.65685.
    /// Per sentence: 1: 2^-4 → −1.20412, ppl 2^(4/3) = 2.51984, ppl1 2^(4/2) = 4;
    /// 2: 2^-6 (1/4 · 1/2 · 1/8) → −1.80618, ppl 2^(6/(3 − 1 + 1)) = 4, ppl1 2^(6/2) = 8.
    ///
    /// `ngram -unk -ppl` (`unk`): the OOV is scored with 1/10, 0 OOVs printed.
    /// logprob = −3.0103 − 1 = −4.0103; ppl = 10^(4.0103 / 7) = 3.74024; ppl1 = 10^(4.0103 / 5) = 6.33957.
    /// Sentence 2: −2.80618, ppl 10^(2.80618 / 4) = 5.02973, ppl1 10^(2.80618 / 3) = 8.61774.
    func testGoldenSRILMTextWithAndWithoutUnk() {
        let report = PerplexityReport(file: "test.txt", sentences: sentences)
        XCTAssertEqual(report.render(), """
            file test.txt: 2 sentences, 5 words, 1 OOVs
            0 zeroprobs, logprob= -3.0103 ppl= 3.1748 ppl1= 5.65685

            """)
        XCTAssertEqual(report.render(unk: true), """
            file test.txt: 2 sentences, 5 words, 0 OOVs
            0 zeroprobs, logprob= -4.0103 ppl= 3.74024 ppl1= 6.33957

            """)
        XCTAssertEqual(report.render(detail: .perWord), """
            the cat
            \tp( the | <s> ) \t= [lstm] 0.5 [ -0.30103 ]
            \tp( cat | the ...) \t= [lstm] 0.25 [ -0.60206 ]
            \tp( </s> | cat ...) \t= [lstm] 0.5 [ -0.30103 ]
            1 sentences, 2 words, 0 OOVs
            0 zeroprobs, logprob= -1.20412 ppl= 2.51984 ppl1= 4

            a <unk> c
            \tp( a | <s> ) \t= [lstm] 0.25 [ -0.60206 ]
            \tp( <unk> | a ...) \t= [OOV] 0 [ -inf ]
            \tp( c | <unk> ...) \t= [lstm] 0.5 [ -0.30103 ]
            \tp( </s> | c ...) \t= [lstm] 0.125 [ -0.90309 ]
            1 sentences, 3 words, 1 OOVs
            0 zeroprobs, logprob= -1.80618 ppl= 4 ppl1= 8

            file test.txt: 2 sentences, 5 words, 1 OOVs
            0 zeroprobs, logprob= -3.0103 ppl= 3.1748 ppl1= 5.65685

            """)
        let unk = report.render(detail: .perWord, unk: true).split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(Array(unk[7...12]), [
            "a <unk> c",
            "\tp( a | <s> ) \t= [lstm] 0.25 [ -0.60206 ]",
            "\tp( <unk> | a ...) \t= [<unk>] 0.1 [ -1 ]",
            "\tp( c | <unk> ...) \t= [lstm] 0.5 [ -0.30103 ]",
            "\tp( </s> | c ...) \t= [lstm] 0.125 [ -0.90309 ]",
            "1 sentences, 3 words, 0 OOVs",
        ])
        XCTAssertEqual(unk[13], "0 zeroprobs, logprob= -2.80618 ppl= 5.02973 ppl1= 8.61774")
    }

    /// Discourse mode carries the state into every sentence but the first: its first word is
    /// conditioned on the previous `</s>` (and all before), so the context is not `<s>`.
    func testCarriedStateShowsThePreviousSentenceEndAsContext() {
        let report = PerplexityReport(file: "d.txt", scoredSentences: [
            .init(tokens: sentences[0]), .init(tokens: sentences[1], followsPrevious: true),
        ])
        let lines = report.render(detail: .perWord).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines[1], "\tp( the | <s> ) \t= [lstm] 0.5 [ -0.30103 ]")
        XCTAssertEqual(lines[7], "\tp( a | </s> ...) \t= [lstm] 0.25 [ -0.60206 ]")
    }

    func testNoOOVLineWithoutOOVsAndUndefinedPerplexity() {
        let text = PerplexityReport(file: "a.txt", sentences: [Array(sentences[0])]).render()
        XCTAssertEqual(text, "file a.txt: 1 sentences, 2 words, 0 OOVs\n0 zeroprobs, logprob= -1.20412 ppl= 2.51984 ppl1= 4\n")
        // SRILM prints the second line only when something was counted.
        let empty = PerplexityReport(file: "e.txt", sentences: [[TokenScore]]()).render()
        XCTAssertEqual(empty, "file e.txt: 0 sentences, 0 words, 0 OOVs\n")
        // A sentence of one <eos> (a blank line in discourse mode): ppl1 has no words to count.
        let blank = PerplexityReport(file: "b.txt", sentences: [[TokenScore(token: "<eos>", logProb: log(0.1), isEndOfSentence: true)]]).render()
        XCTAssertEqual(blank, "file b.txt: 1 sentences, 0 words, 0 OOVs\n0 zeroprobs, logprob= -1 ppl= 10 ppl1= undefined\n")
    }

    func testZeroProbabilityIsCountedAndLeftOut() throws {
        let t = PerplexityStatistics([TokenScore(token: "a", logProb: log(0.1)), TokenScore(token: "b", logProb: -.infinity),
                                      TokenScore(token: "<eos>", logProb: log(0.1), isEndOfSentence: true)])
        XCTAssertEqual(t.zeroprobs, 1)
        XCTAssertEqual(t.srilm.logprob, -2, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(t.srilm.ppl), 10, accuracy: 1e-12)   // 10^(2 / (2 − 1 + 1))
    }

    func testPerSentenceAndPerWordRenderings() {
        let report = PerplexityReport(file: "test.txt", sentences: [sentences[0]])
        let perSentence = report.render(detail: .perSentence)
        XCTAssertTrue(perSentence.hasPrefix("the cat\n1 sentences, 2 words, 0 OOVs\n0 zeroprobs, logprob= -1.20412 ppl= 2.51984 ppl1= 4\n\nfile test.txt: 1 sentences"), perSentence)
        let perWord = PerplexityReport(file: "test.txt", sentences: sentences).render(detail: .perWord)
        let lines = perWord.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(Array(lines[0...3]), [
            "the cat",
            "\tp( the | <s> ) \t= [lstm] 0.5 [ -0.30103 ]",
            "\tp( cat | the ...) \t= [lstm] 0.25 [ -0.60206 ]",
            "\tp( </s> | cat ...) \t= [lstm] 0.5 [ -0.30103 ]",
        ])
        XCTAssertEqual(lines[9], "\tp( <unk> | a ...) \t= [OOV] 0 [ -inf ]")
    }

    func testJSONRoundTrip() throws {
        let report = PerplexityReport(file: "test.txt", sentences: sentences)
        let decoded = try JSONDecoder().decode(PerplexityReport.self, from: JSONEncoder().encode(report))
        XCTAssertEqual(decoded, report)
        // The JSON carries the perplexities themselves: ppl = 2^(10/6) under "srilm".
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(report.total)) as! [String: Any]
        let srilm = try XCTUnwrap(json["srilm"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(srilm["ppl"] as? Double), pow(2, 10.0 / 6), accuracy: 1e-12)
        XCTAssertNotNil(json["withOOVs"])
        let zero = PerplexityReport(file: "z.txt", sentences: [[TokenScore(token: "a", logProb: -.infinity)]])
        let zeroJSON = try zero.json()
        XCTAssertTrue(zeroJSON.contains("\"lnProb\" : \"-inf\""), zeroJSON)
    }

    /// Every log probability in the JSON names its base: tokens `lnProb` and `log10Prob`,
    /// statistics `inVocabularyLog10Prob`, `oovLog10Prob` and `log10Prob` in each figure set;
    /// the older names still decode.
    func testJSONNamesTheLogBaseOfEveryField() throws {
        let token = try JSONSerialization.jsonObject(with: JSONEncoder().encode(sentences[0][1])) as! [String: Any]
        XCTAssertEqual(Set(token.keys), ["token", "lnProb", "log10Prob", "isEndOfSentence", "isOOV"])
        XCTAssertEqual(try XCTUnwrap(token["lnProb"] as? Double), log(0.25), accuracy: 1e-15)
        XCTAssertEqual(try XCTUnwrap(token["log10Prob"] as? Double), log10(0.25), accuracy: 1e-15)
        let total = PerplexityReport(file: "t", sentences: sentences).total
        let stats = try JSONSerialization.jsonObject(with: JSONEncoder().encode(total)) as! [String: Any]
        XCTAssertEqual(Set(stats.keys), ["sentences", "words", "oovs", "zeroprobs", "oovZeroprobs",
                                         "inVocabularyLog10Prob", "oovLog10Prob", "srilm", "withOOVs"])
        XCTAssertEqual(try XCTUnwrap(stats["oovLog10Prob"] as? Double), -1, accuracy: 1e-12)
        for key in ["srilm", "withOOVs"] {
            XCTAssertEqual(Set(try XCTUnwrap(stats[key] as? [String: Any]).keys), ["log10Prob", "ppl", "ppl1"], key)
        }
        let old = #"{"sentences": 1, "words": 2, "oovs": 0, "zeroprobs": 0, "oovZeroprobs": 0, "inVocabularyLogprob": -2, "oovLogprob": 0}"#
        XCTAssertEqual(try JSONDecoder().decode(PerplexityStatistics.self, from: Data(old.utf8)).srilm.logprob, -2)
        let oldToken = #"{"token": "a", "logProb": -1.5, "isEndOfSentence": false, "isOOV": false}"#
        XCTAssertEqual(try JSONDecoder().decode(TokenScore.self, from: Data(oldToken.utf8)).logProb, -1.5)
    }
}
