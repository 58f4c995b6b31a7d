import XCTest
import Corpus
import NN
@testable import Embeddings

final class Word2VecTests: XCTestCase {
    /// The SGNS objective for one example, in Double: log σ(u·v⁺) + Σ log σ(−u·v⁻).
    func objective(_ u: [Float], _ outputs: [[Float]], _ labels: [Float]) -> Double {
        var total = 0.0
        for (v, label) in zip(outputs, labels) {
            let x = zip(u, v).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let sign = label == 1 ? 1.0 : -1.0
            total += -log1p(exp(-sign * x))
        }
        return total
    }

    func testUpdateIsAlphaTimesTheGradientByFiniteDifferences() {
        let d = 5
        var rng = RNG(seed: 3)
        let u = (0..<d).map { _ in rng.uniform(-1, 1) }
        let outputs = (0..<3).map { _ in (0..<d).map { _ in rng.uniform(-1, 1) } }   // 1 positive, 2 negatives
        let labels: [Float] = [1, 0, 0]
        let alpha: Float = 1e-3

        var input = u
        var outs = outputs
        var gradient = [Float](repeating: 0, count: d)
        input.withUnsafeMutableBufferPointer { ip in
            gradient.withUnsafeMutableBufferPointer { gp in
                for k in 0..<3 {
                    outs[k].withUnsafeMutableBufferPointer { op in
                        Word2Vec.update(input: ip.baseAddress!, output: op.baseAddress!, label: labels[k], alpha: alpha,
                                        gradient: gp.baseAddress!, dimension: d, expTable: nil)
                    }
                }
                Word2Vec.axpy(ip.baseAddress!, 1, gp.baseAddress!, d)
            }
        }
        // Central differences of the objective (in Double) against the step / alpha.
        let h: Float = 1e-2
        for j in 0..<d {
            var plus = u, minus = u
            plus[j] += h
            minus[j] -= h
            let numeric = (objective(plus, outputs, labels) - objective(minus, outputs, labels)) / Double(2 * h)
            XCTAssertEqual(Double((input[j] - u[j]) / alpha), numeric, accuracy: 1e-3, "input \(j)")
        }
        for k in 0..<3 {
            for j in 0..<d {
                var plus = outputs, minus = outputs
                plus[k][j] += h
                minus[k][j] -= h
                let numeric = (objective(u, plus, labels) - objective(u, minus, labels)) / Double(2 * h)
                XCTAssertEqual(Double((outs[k][j] - outputs[k][j]) / alpha), numeric, accuracy: 1e-3, "output \(k) \(j)")
            }
        }
    }

    func testSigmoidTableMatchesLibmWithinItsResolution() {
        var table = [Float](repeating: 0, count: Word2Vec.expTableSize + 1)
        for i in 0...Word2Vec.expTableSize {
            let e = expf((Float(i) / Float(Word2Vec.expTableSize) * 2 - 1) * Word2Vec.maxExp)
            table[i] = e / (e + 1)
        }
        // With in·out = x and output zero, the table step puts alpha·(1 − σ(x)) into the gradient.
        for x: Float in [-5.5, -1, 0, 0.3, 2, 5.9] {
            var input: [Float] = [x], output: [Float] = [1], gradient: [Float] = [0]
            table.withUnsafeBufferPointer { t in
                Word2Vec.update(input: &input, output: &output, label: 1, alpha: 1, gradient: &gradient, dimension: 1, expTable: t.baseAddress!)
            }
            XCTAssertEqual(gradient[0], 1 - 1 / (1 + exp(-x)), accuracy: 0.01, "x = \(x)")
        }
    }

    func testKeepProbabilityIsMikolovsFormula() {
        // f = 100 of total 10,000 with t = 1e-3: t·total = 10, keep = (sqrt(10) + 1) · 10 / 100 = 0.41623.
        let keep = Word2Vec.keepProbabilities(counts: [0, 0, 100, 5], total: 10_000, sample: 1e-3)
        XCTAssertEqual(keep[2], 0.416228, accuracy: 1e-5)
        XCTAssertGreaterThan(keep[3], 1)   // rare words are always kept
    }

    func testUnigramTableFollowsCountsToThe075() {
        let table = Word2Vec.unigramTable(counts: [0, 0, 16, 1, 0])
        let twos = table.filter { $0 == 2 }.count, threes = table.filter { $0 == 3 }.count
        XCTAssertEqual(twos + threes, table.count)
        // 16^0.75 = 8, so word 2 takes 8/9 of the table.
        XCTAssertEqual(Double(twos) / Double(table.count), 8.0 / 9.0, accuracy: 1e-3)
    }

    func testNegativeDrawsCoverTheWholeTable() {
        // The C tool's LCG feeding the multiply-shift index: 10 equal buckets get 10% each.
        var random: UInt64 = 1
        var buckets = [Int](repeating: 0, count: 10)
        let size: UInt64 = 2_000_000, draws = 100_000
        for _ in 0..<draws {
            random = random &* 25214903917 &+ 11
            let i = Word2Vec.tableIndex(random, size)
            XCTAssertTrue(i >= 0 && i < Int(size))
            buckets[i * 10 / Int(size)] += 1
        }
        for b in buckets { XCTAssertEqual(Double(b) / Double(draws), 0.1, accuracy: 0.01) }
    }

    /// Groups g = 0..<8 of sentences "L_g a_g R_g" and "L_g b_g R_g": a_g and b_g have the same
    /// contexts and never meet, so each must end as the other's nearest neighbour.
    func syntheticCorpus(groups: Int, sentencesPerGroup: Int, seed: UInt64) throws -> (ids: [Int32], vocabulary: Vocabulary) {
        var tokens = ["<unk>", "<eos>"]
        for g in 0..<groups { tokens += ["L\(g)", "a\(g)", "b\(g)", "R\(g)"] }
        let vocab = try Vocabulary(tokens: tokens, counts: [0, groups * sentencesPerGroup] + Array(repeating: sentencesPerGroup, count: 4 * groups))
        var rng = RNG(seed: seed)
        var ids: [Int32] = []
        for _ in 0..<(groups * sentencesPerGroup) {
            let g = rng.int(below: groups)
            let middle = rng.int(below: 2) == 0 ? "a\(g)" : "b\(g)"
            ids += ["L\(g)", middle, "R\(g)"].map { vocab.id($0) } + [Vocabulary.endOfSentenceID]
        }
        return (ids, vocab)
    }

    func testWordsSharingContextsBecomeNearestNeighbours() throws {
        let (ids, vocab) = try syntheticCorpus(groups: 8, sentencesPerGroup: 150, seed: 5)
        let options = Word2VecOptions(dimension: 16, window: 1, negative: 5, epochs: 5, threads: 1, sample: 0, seed: 9)
        let table = Word2Vec.train(ids: ids, vocabulary: vocab, options: options)
        XCTAssertEqual(table.vocabularyHash, vocab.contentHash)
        XCTAssertEqual(table.words, vocab.tokens)
        for g in 0..<8 {
            XCTAssertEqual(try table.neighbors(of: "a\(g)", k: 1).first?.word, "b\(g)")
            XCTAssertEqual(try table.neighbors(of: "b\(g)", k: 1).first?.word, "a\(g)")
        }
    }

    func testOneThreadIsDeterministicForASeed() throws {
        let (ids, vocab) = try syntheticCorpus(groups: 4, sentencesPerGroup: 50, seed: 1)
        var options = Word2VecOptions(dimension: 8, window: 2, negative: 3, epochs: 2, threads: 1, sample: 1e-2, seed: 4)
        let a = Word2Vec.train(ids: ids, vocabulary: vocab, options: options)
        let b = Word2Vec.train(ids: ids, vocabulary: vocab, options: options)
        XCTAssertEqual(a.vectors, b.vectors)
        options.seed = 5
        let c = Word2Vec.train(ids: ids, vocabulary: vocab, options: options)
        XCTAssertNotEqual(a.vectors, c.vectors)
        // Training moved the trained words away from their initial vectors, but not <unk>.
        options.seed = 4
        options.epochs = 0
        let initial = Word2Vec.train(ids: ids, vocabulary: vocab, options: options)
        XCTAssertEqual(Array(initial.vectors[0..<8]), Array(a.vectors[0..<8]))
        XCTAssertNotEqual(Array(initial.vectors[16..<24]), Array(a.vectors[16..<24]))
    }

    func testTwoThreadsTrainToo() throws {
        let (ids, vocab) = try syntheticCorpus(groups: 8, sentencesPerGroup: 150, seed: 5)
        let options = Word2VecOptions(dimension: 16, window: 1, negative: 5, epochs: 5, threads: 2, sample: 0, seed: 9)
        let table = Word2Vec.train(ids: ids, vocabulary: vocab, options: options)
        var hits = 0
        for g in 0..<8 where try table.neighbors(of: "a\(g)", k: 1).first?.word == "b\(g)" { hits += 1 }
        XCTAssertGreaterThanOrEqual(hits, 7)
    }
}
