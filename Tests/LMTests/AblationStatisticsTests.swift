import XCTest
@testable import LM

/// The report's statistics against values computed by hand, published tables and an
/// independent Python implementation of the bootstrap.
final class AblationStatisticsTests: XCTestCase {
    func testMeanAndStandardDeviationByHand() {
        XCTAssertEqual(Statistics.mean([2, 4, 9]), 5)
        // Deviations −3, −1, 4: squares 9 + 1 + 16 = 26, / (3 − 1) = 13.
        XCTAssertEqual(Statistics.standardDeviation([2, 4, 9]), 13.0.squareRoot(), accuracy: 1e-12)
        XCTAssertTrue(Statistics.standardDeviation([5]).isNaN)
        XCTAssertTrue(Statistics.mean([]).isNaN)
    }

    func testIncompleteBetaAndTCDFByHand() {
        // I_x(2, 3) = Σ_{j=2}^{4} C(4, j) x^j (1 − x)^{4−j}; at x = ½: (6 + 4 + 1) / 16.
        XCTAssertEqual(Statistics.regularizedIncompleteBeta(0.5, 2, 3), 11.0 / 16, accuracy: 1e-12)
        // At x = 0.2: 6·0.04·0.64 + 4·0.008·0.8 + 0.0016 = 0.1536 + 0.0256 + 0.0016.
        XCTAssertEqual(Statistics.regularizedIncompleteBeta(0.2, 2, 3), 0.1808, accuracy: 1e-12)
        // t with 1 degree of freedom is Cauchy: P(T ≤ t) = ½ + atan(t)/π.
        for t in [-3.0, -0.5, 0, 1, 2.5] {
            XCTAssertEqual(Statistics.tCDF(t, degreesOfFreedom: 1), 0.5 + atan(t) / Double.pi, accuracy: 1e-12)
        }
        // With 2: P(T ≤ t) = ½ + t / (2 √(2 + t²)).
        XCTAssertEqual(Statistics.tCDF(1.5, degreesOfFreedom: 2), 0.5 + 1.5 / (2 * (2 + 2.25).squareRoot()), accuracy: 1e-12)
    }

    func testTQuantilesMatchPublishedTables() {
        // Two-sided 95% critical values (any statistics table; R's qt(0.975, df)).
        let table: [(Double, Double)] = [(1, 12.706204736), (2, 4.302652730), (3, 3.182446305), (4, 2.776445105),
                                         (9, 2.262157163), (30, 2.042272456), (1000, 1.962339081)]
        for (df, value) in table {
            XCTAssertEqual(Statistics.tQuantile(0.975, degreesOfFreedom: df), value, accuracy: 1e-8, "df \(df)")
        }
        XCTAssertEqual(Statistics.tQuantile(0.95, degreesOfFreedom: 5), 2.015048373, accuracy: 1e-8)
        XCTAssertEqual(Statistics.tQuantile(0.025, degreesOfFreedom: 4), -2.776445105, accuracy: 1e-8)
        // Closed form with 2 degrees of freedom: t_p = (2p − 1) √(2 / (4p(1 − p))).
        let p = 0.9
        XCTAssertEqual(Statistics.tQuantile(p, degreesOfFreedom: 2), (2 * p - 1) * (2 / (4 * p * (1 - p))).squareRoot(), accuracy: 1e-9)
    }

    func testPairedIntervalByHand() {
        // Differences 10, 15, 5: mean 10, sd 5; 95% half width 4.302652730 · 5 / √3 = 12.42069…
        let i = Statistics.pairedInterval([110, 120, 130], [100, 105, 125])
        XCTAssertEqual(i.mean, 10)
        XCTAssertEqual(i.count, 3)
        XCTAssertEqual(i.low, 10 - 4.302652730 * 5 / 3.0.squareRoot(), accuracy: 1e-7)
        XCTAssertEqual(i.high, 10 + 4.302652730 * 5 / 3.0.squareRoot(), accuracy: 1e-7)
        // A constant difference has a zero-width interval; one pair has none.
        let c = Statistics.pairedInterval([3, 4, 5, 6], [1, 2, 3, 4])
        XCTAssertEqual([c.mean, c.low, c.high], [2, 2, 2])
        XCTAssertTrue(Statistics.pairedInterval([3], [1]).low.isNaN)
    }

    func testPercentileInterpolatesLinearly() {
        // Position q·(n − 1): 0.25 · 4 = 1 → 20; 0.1 · 4 = 0.4 → 10 + 0.4 · 10.
        XCTAssertEqual(Statistics.percentile([10, 20, 30, 40, 50], 0.25), 20)
        XCTAssertEqual(Statistics.percentile([10, 20, 30, 40, 50], 0.1), 14, accuracy: 1e-12)
        XCTAssertEqual(Statistics.percentile([10, 20, 30, 40, 50], 1), 50)
    }

    func testBootstrapDegenerateCaseByHand() {
        // Every arm sentence has log-prob −2 per token and every baseline one −3: any resample
        // gives perplexities e² and e³, so the interval collapses onto e² − e³.
        let tokens = [1, 4, 2, 9, 3]
        let arm = Statistics.SentenceScores(tokens: tokens, logprobs: tokens.map { -2 * Double($0) })
        let base = Statistics.SentenceScores(tokens: tokens, logprobs: tokens.map { -3 * Double($0) })
        let i = Statistics.pairedBootstrap(pairs: [(arm, base)], resamples: 50, seed: 3)
        let expected = exp(2.0) - exp(3.0)
        XCTAssertEqual(i.mean, expected, accuracy: 1e-12)
        XCTAssertEqual(i.low, expected, accuracy: 1e-12)
        XCTAssertEqual(i.high, expected, accuracy: 1e-12)
        XCTAssertEqual(i.count, 50)
    }

    func testBootstrapMatchesThePythonReference() {
        // Values printed by Tests/LMTests/Fixtures/ablation_bootstrap.py (same data, 200 resamples, seed 7).
        let tokens = [3, 5, 2, 7, 4, 6, 1]
        func s(_ lp: [Double]) -> Statistics.SentenceScores { .init(tokens: tokens, logprobs: lp) }
        let pairs = [(s([-6.1, -11.3, -3.9, -15.2, -8.8, -12.5, -2.4]), s([-6.5, -11.0, -4.4, -16.0, -9.1, -12.2, -2.9])),
                     (s([-6.0, -11.9, -3.5, -15.0, -8.1, -12.9, -2.2]), s([-6.6, -11.4, -4.0, -15.8, -9.3, -12.6, -2.7]))]
        let i = Statistics.pairedBootstrap(pairs: pairs, resamples: 200, seed: 7)
        XCTAssertEqual(i.mean, -0.7432497420929138, accuracy: 1e-12)
        XCTAssertEqual(i.low, -1.8779934510646725, accuracy: 1e-12)
        XCTAssertEqual(i.high, 0.00512472734739427, accuracy: 1e-12)
        // Another seed draws other resamples.
        XCTAssertNotEqual(Statistics.pairedBootstrap(pairs: pairs, resamples: 200, seed: 8).low, i.low)
    }

    func testTwoLevelBootstrapMatchesThePythonReference() {
        // Values printed by Tests/LMTests/Fixtures/ablation_bootstrap.py ("two-level:", same data as above).
        let tokens = [3, 5, 2, 7, 4, 6, 1]
        func s(_ lp: [Double]) -> Statistics.SentenceScores { .init(tokens: tokens, logprobs: lp) }
        let pairs = [(s([-6.1, -11.3, -3.9, -15.2, -8.8, -12.5, -2.4]), s([-6.5, -11.0, -4.4, -16.0, -9.1, -12.2, -2.9])),
                     (s([-6.0, -11.9, -3.5, -15.0, -8.1, -12.9, -2.2]), s([-6.6, -11.4, -4.0, -15.8, -9.3, -12.6, -2.7]))]
        let i = Statistics.twoLevelBootstrap(pairs: pairs, resamples: 200, seed: 7)
        XCTAssertEqual(i?.mean ?? .nan, -0.7432497420929138, accuracy: 1e-12)
        XCTAssertEqual(i?.low ?? .nan, -1.6218804624747278, accuracy: 1e-12)
        XCTAssertEqual(i?.high ?? .nan, -0.13369581166780226, accuracy: 1e-12)
        XCTAssertEqual(i?.count, 200)
    }

    /// Each pair has a constant per-token log-probability in both runs, so any sentence resample
    /// gives the pair's own difference: +10 (110 − 100) or −10 (90 − 100). Only the seed level
    /// varies: a resample of two pairs averages to +10 (both drawn pair 1, p = ¼), 0 (½) or −10
    /// (¼). With 1000 resamples the 2.5% and 97.5% percentiles fall inside the ±10 blocks,
    /// so the interval is exactly [−10, +10] around the full-set mean 0. A sentence-only
    /// bootstrap of the same pairs collapses onto 0: it cannot see that the seeds disagree.
    func testTwoLevelBootstrapResamplesSeedsByHand() {
        let tokens = [1, 4, 2, 9, 3]
        func constant(_ ppl: Double) -> Statistics.SentenceScores { .init(tokens: tokens, logprobs: tokens.map { -log(ppl) * Double($0) }) }
        let pairs = [(constant(110), constant(100)), (constant(90), constant(100))]
        let i = Statistics.twoLevelBootstrap(pairs: pairs, resamples: 1000, seed: 5)
        XCTAssertEqual(i?.mean ?? .nan, 0, accuracy: 1e-9)
        XCTAssertEqual(i?.low ?? .nan, -10, accuracy: 1e-9)
        XCTAssertEqual(i?.high ?? .nan, 10, accuracy: 1e-9)
        let sentencesOnly = Statistics.pairedBootstrap(pairs: pairs, resamples: 1000, seed: 5)
        XCTAssertEqual(sentencesOnly.low, 0, accuracy: 1e-9)
        XCTAssertEqual(sentencesOnly.high, 0, accuracy: 1e-9)
        // One seed cannot measure training variance: no interval rather than the sentence-only one.
        XCTAssertNil(Statistics.twoLevelBootstrap(pairs: [pairs[0]], resamples: 10, seed: 5))
    }

    func testSeedsNeededByHand() {
        // sd 10, mean 5: t(0.975, 17) · 10 / √18 = 2.10982 · 2.35702 = 4.973 < 5, while
        // t(0.975, 16) · 10 / √17 = 2.11991 · 2.42536 = 5.142 ≥ 5.
        XCTAssertEqual(Statistics.seedsNeeded(mean: 5, sd: 10), 18)
        XCTAssertEqual(Statistics.seedsNeeded(mean: -5, sd: 10), 18)
        // sd 1, mean 10: already two seeds (12.706 / √2 = 8.98 < 10).
        XCTAssertEqual(Statistics.seedsNeeded(mean: 10, sd: 1), 2)
        XCTAssertEqual(Statistics.seedsNeeded(mean: 3, sd: 0), 2)
        // No effect, or one far below the seed spread: beyond any budget.
        XCTAssertNil(Statistics.seedsNeeded(mean: 0, sd: 3))
        XCTAssertNil(Statistics.seedsNeeded(mean: 0.45, sd: 13))
        XCTAssertNil(Statistics.seedsNeeded(mean: .nan, sd: 1))
    }
}
