import Foundation
import NN
import XCTest
@testable import LM

final class SamplingTests: XCTestCase {
    let logits: [Float] = [log(0.2), log(0.5), log(0.3)]

    func testTopOneAndZeroTemperatureAreArgmax() {
        var rng = RNG(seed: 1)
        let before = rng.state
        XCTAssertEqual(Sampler(temperature: 1, topK: 1).sample(logProbabilities: logits, rng: &rng), 1)
        XCTAssertEqual(Sampler(temperature: 0).sample(logProbabilities: logits, rng: &rng), 1)
        XCTAssertEqual(Sampler(temperature: 0).sample(logProbabilities: [3, 7, 7, -1], rng: &rng), 1)   // lowest id on ties
        XCTAssertEqual(rng.state, before)   // greedy draws nothing
        // T → 0: at T = 0.01 the runner-up has weight (0.3 / 0.5)^100 ≈ 6e-23 relative to the best.
        let cold = Sampler(temperature: 0.01)
        XCTAssertEqual(Set((0..<1000).map { _ in cold.sample(logProbabilities: logits, rng: &rng) }), [1])
    }

    func testEmpiricalFrequenciesOverOneHundredThousandDraws() {
        var rng = RNG(seed: 42)
        var counts = [0, 0, 0]
        let sampler = Sampler()
        for _ in 0..<100_000 { counts[sampler.sample(logProbabilities: logits, rng: &rng)] += 1 }
        // Binomial standard deviation ≤ sqrt(0.25 / 1e5) ≈ 0.0016; allow 4σ.
        for (c, p) in zip(counts, [0.2, 0.5, 0.3]) { XCTAssertEqual(Double(c) / 1e5, p, accuracy: 0.0064) }
    }

    func testTemperatureTwoFlattensAsTheSquareRoot() {
        // p^(1/2) normalised: sqrt(.2), sqrt(.5), sqrt(.3) over their sum 0.44721 + 0.70711 + 0.54772 = 1.70204.
        var rng = RNG(seed: 3)
        var counts = [0, 0, 0]
        let sampler = Sampler(temperature: 2)
        for _ in 0..<100_000 { counts[sampler.sample(logProbabilities: logits, rng: &rng)] += 1 }
        for (c, p) in zip(counts, [0.26275, 0.41545, 0.32180]) { XCTAssertEqual(Double(c) / 1e5, p, accuracy: 0.0064) }
    }

    func testTopTwoRenormalisesOverTheTwoBest() {
        // Keeps ids 1 (0.5) and 2 (0.3): 0.625 and 0.375; id 0 never.
        var rng = RNG(seed: 9)
        var counts = [0, 0, 0]
        let sampler = Sampler(topK: 2)
        for _ in 0..<100_000 { counts[sampler.sample(logProbabilities: logits, rng: &rng)] += 1 }
        XCTAssertEqual(counts[0], 0)
        XCTAssertEqual(Double(counts[1]) / 1e5, 0.625, accuracy: 0.0064)
    }

    func testTopIndicesKeepLowerIDsAmongTies() {
        let x: [Float] = [1, 5, 3, 5, 3, 0, 3, -.infinity]
        x.withUnsafeBufferPointer { p in
            XCTAssertEqual(Sampler.topIndices(p, 1), [1])
            XCTAssertEqual(Sampler.topIndices(p, 2), [1, 3])
            XCTAssertEqual(Sampler.topIndices(p, 3), [1, 2, 3])
            XCTAssertEqual(Sampler.topIndices(p, 4), [1, 2, 3, 4])
            XCTAssertEqual(Sampler.topIndices(p, 6), [0, 1, 2, 3, 4, 6])
            XCTAssertEqual(Sampler.topIndices(p, 7), [0, 1, 2, 3, 4, 5, 6])
        }
        // Against a full sort on a larger random vector with many ties.
        var rng = RNG(seed: 11)
        let y = (0..<500).map { _ in Float(rng.int(below: 40)) }
        for k in [1, 7, 100, 499] {
            let expected = (0..<500).sorted { y[$0] > y[$1] || (y[$0] == y[$1] && $0 < $1) }.prefix(k).sorted()
            XCTAssertEqual(y.withUnsafeBufferPointer { Sampler.topIndices($0, k) }, Array(expected))
        }
    }

    func testDeterministicPerSeedAndNeverPicksMinusInfinity() {
        let x: [Float] = [0, -.infinity, 1, 2, -.infinity]
        func draws(_ seed: UInt64) -> [Int] {
            var rng = RNG(seed: seed)
            return (0..<200).map { _ in Sampler(temperature: 1.5).sample(logProbabilities: x, rng: &rng) }
        }
        XCTAssertEqual(draws(5), draws(5))
        XCTAssertNotEqual(draws(5), draws(6))
        XCTAssertFalse(draws(5).contains(1) || draws(5).contains(4))
    }

    // MARK: - top-p (nucleus)

    /// Draws `n` tokens and returns each id's share.
    func shares(_ sampler: Sampler, _ x: [Float], draws n: Int = 100_000, seed: UInt64 = 5) -> [Double] {
        var rng = RNG(seed: seed)
        var counts = [Int](repeating: 0, count: x.count)
        for _ in 0..<n { counts[sampler.sample(logProbabilities: x, rng: &rng)] += 1 }
        return counts.map { Double($0) / Double(n) }
    }

    /// (0.2, 0.5, 0.3): nucleus 0.6 is {0.5, 0.3} (0.5 < 0.6 ≤ 0.8), renormalised to 0.625 / 0.375;
    /// nucleus 0.5 is {0.5} alone (reached exactly); nucleus 0.81 is everything.
    func testTopPKeepsTheSmallestPrefixReachingP() {
        let a = shares(Sampler(topP: 0.6), logits)
        XCTAssertEqual(a[0], 0)
        XCTAssertEqual(a[1], 0.625, accuracy: 0.0064)
        XCTAssertEqual(a[2], 0.375, accuracy: 0.0064)
        XCTAssertEqual(shares(Sampler(topP: 0.5), logits, draws: 1000), [0, 1, 0])
        let all = shares(Sampler(topP: 0.81), logits)
        for (s, q) in zip(all, [0.2, 0.5, 0.3]) { XCTAssertEqual(s, q, accuracy: 0.0064) }
        XCTAssertEqual(shares(Sampler(topP: 1), logits, seed: 8), shares(Sampler(), logits, seed: 8), "top-p 1 is no restriction")
    }

    /// The nucleus is taken after the temperature: at T = 2 the probabilities are (0.26275,
    /// 0.41545, 0.32180), so nucleus 0.7 needs both 0.41545 and 0.32180 (sum 0.73725), and their
    /// renormalised shares are 0.56350 / 0.43650.
    func testTopPAppliesToTheTemperedDistribution() {
        let s = shares(Sampler(temperature: 2, topP: 0.7), logits)
        XCTAssertEqual(s[0], 0)
        XCTAssertEqual(s[1], 0.56350, accuracy: 0.0064)
        XCTAssertEqual(s[2], 0.43650, accuracy: 0.0064)
    }

    /// Equal probabilities at the edge of the nucleus: the lower id is kept; one draw per call.
    func testTopPTiesKeepTheLowerID() {
        let x: [Float] = [log(0.25), log(0.25), log(0.25), log(0.25)]
        XCTAssertEqual(shares(Sampler(topP: 0.25), x, draws: 1000), [1, 0, 0, 0])
        let half = shares(Sampler(topP: 0.5), x)
        XCTAssertEqual(half[2] + half[3], 0)
        XCTAssertEqual(half[0], 0.5, accuracy: 0.0064)
        var rng = RNG(seed: 1), other = RNG(seed: 1)
        _ = Sampler(topP: 0.25).sample(logProbabilities: x, rng: &rng)
        _ = other.uniform()
        XCTAssertEqual(rng.state, other.state)
    }
}
