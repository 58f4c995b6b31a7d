import Foundation
import Support

/// The statistics of an ablation report: mean and standard deviation over seeds, Student's t
/// quantiles, a confidence interval for a paired difference, a two-level paired bootstrap
/// (seeds, then test sentences: the report's headline interval), a paired bootstrap over test
/// sentences alone (a secondary column: it ignores seed variance), and the seeds an arm needs.
///
///     Statistics.mean([1, 2, 3])                          // 2
///     Statistics.standardDeviation([1, 2, 3])             // 1 (n − 1 in the denominator)
///     Statistics.tQuantile(0.975, degreesOfFreedom: 4)    // 2.776445…
///     Statistics.pairedInterval([110, 120], [100, 105])   // mean difference 12.5 with its 95% CI
public enum Statistics {
    /// The arithmetic mean (NaN for an empty array).
    public static func mean(_ x: [Double]) -> Double {
        x.isEmpty ? .nan : x.reduce(0, +) / Double(x.count)
    }

    /// The sample standard deviation, with n − 1 in the denominator (NaN below two values).
    public static func standardDeviation(_ x: [Double]) -> Double {
        guard x.count > 1 else { return .nan }
        let m = mean(x)
        return (x.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(x.count - 1)).squareRoot()
    }

    // MARK: - Student's t distribution

    /// The regularized incomplete beta function I_x(a, b), by the continued fraction of
    /// Numerical Recipes (§6.4, modified Lentz), accurate to ~1e-14 here.
    public static func regularizedIncompleteBeta(_ x: Double, _ a: Double, _ b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logFront: Double = lgamma(a + b) - lgamma(a) - lgamma(b) + a * Foundation.log(x) + b * Foundation.log(1 - x)
        let front = Foundation.exp(logFront)
        // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
        if x > (a + 1) / (a + b + 2) { return 1 - regularizedIncompleteBeta(1 - x, b, a) }
        let tiny = 1e-300
        var c = 1.0, d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var f = d
        for m in 1...300 {
            let m = Double(m)
            // Even step.
            var numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
            d = 1 + numerator * d; if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            f *= d * c
            // Odd step.
            numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
            d = 1 + numerator * d; if abs(d) < tiny { d = tiny }
            c = 1 + numerator / c; if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            f *= delta
            if abs(delta - 1) < 1e-15 { break }
        }
        return front * f / a
    }

    /// The cumulative distribution function of Student's t with `df` degrees of freedom:
    /// P(T ≤ t) = 1 − ½ I_{df/(df+t²)}(df/2, ½) for t ≥ 0, by symmetry below 0.
    public static func tCDF(_ t: Double, degreesOfFreedom df: Double) -> Double {
        let tail = 0.5 * regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5)
        return t >= 0 ? 1 - tail : tail
    }

    /// The `p`-quantile of Student's t with `df` degrees of freedom (0 < p < 1), found by
    /// bisection on `tCDF` to ~1e-12. `tQuantile(0.975, degreesOfFreedom: 1)` = 12.7062…
    public static func tQuantile(_ p: Double, degreesOfFreedom df: Double) -> Double {
        precondition(p > 0 && p < 1 && df > 0, "tQuantile needs 0 < p < 1 and df > 0")
        if p == 0.5 { return 0 }
        if p < 0.5 { return -tQuantile(1 - p, degreesOfFreedom: df) }
        var lo = 0.0, hi = 1.0
        while tCDF(hi, degreesOfFreedom: df) < p { hi *= 2 }
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if tCDF(mid, degreesOfFreedom: df) < p { lo = mid } else { hi = mid }
            if hi - lo < 1e-12 * max(1, hi) { break }
        }
        return 0.5 * (lo + hi)
    }

    // MARK: - Paired differences

    /// A mean difference with a two-sided confidence interval.
    public struct Interval: Codable, Equatable, Sendable {
        public var mean: Double
        public var low: Double
        public var high: Double
        /// How many pairs (seeds) or resamples it rests on.
        public var count: Int

        public init(mean: Double, low: Double, high: Double, count: Int) {
            self.mean = mean
            self.low = low
            self.high = high
            self.count = count
        }

        enum CodingKeys: String, CodingKey { case mean, low, high, count }

        /// Undefined (non-finite) values are written as `null`.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            for (key, value) in [(CodingKeys.mean, mean), (.low, low), (.high, high)] {
                if value.isFinite { try c.encode(value, forKey: key) } else { try c.encodeNil(forKey: key) }
            }
            try c.encode(count, forKey: .count)
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            mean = try c.decodeIfPresent(Double.self, forKey: .mean) ?? .nan
            low = try c.decodeIfPresent(Double.self, forKey: .low) ?? .nan
            high = try c.decodeIfPresent(Double.self, forKey: .high) ?? .nan
            count = try c.decode(Int.self, forKey: .count)
        }
    }

    /// The mean of the paired differences `a[i] − b[i]` with its t interval at `level`
    /// (mean ± t_{(1+level)/2, n−1} · sd / √n). With one pair the bounds are NaN.
    ///
    /// Example: a = [110, 120, 130], b = [100, 105, 125] → differences 10, 15, 5, mean 10,
    /// sd 5, 95% interval 10 ± 4.302653 · 5 / √3 = [−2.42, 22.42].
    public static func pairedInterval(_ a: [Double], _ b: [Double], level: Double = 0.95) -> Interval {
        precondition(a.count == b.count, "pairedInterval needs pairs")
        let d = zip(a, b).map { $0 - $1 }
        let m = mean(d)
        guard d.count > 1 else { return Interval(mean: m, low: .nan, high: .nan, count: d.count) }
        let half = tQuantile((1 + level) / 2, degreesOfFreedom: Double(d.count - 1)) * standardDeviation(d) / Double(d.count).squareRoot()
        return Interval(mean: m, low: m - half, high: m + half, count: d.count)
    }

    // MARK: - Paired bootstrap over test sentences

    /// The test sentences of one run: token count (with `<eos>`) and summed natural-log
    /// probability per sentence, from its `test-sentences.tsv`.
    public struct SentenceScores: Equatable, Sendable {
        public var tokens: [Int]
        public var logprobs: [Double]

        public init(tokens: [Int], logprobs: [Double]) {
            self.tokens = tokens
            self.logprobs = logprobs
        }

        /// exp(−Σ logprob / Σ tokens) over the sentences at `indices`.
        func perplexity(_ indices: [Int]) -> Double {
            // n in Double: token counts read from test-sentences.tsv may be any Int (exact up to 2^53).
            var n = 0.0, lp = 0.0
            for i in indices {
                n += Double(tokens[i])
                lp += logprobs[i]
            }
            return Foundation.exp(-lp / max(n, 1))
        }
    }

    /// The paired bootstrap over test sentences alone: it ignores training randomness (seed
    /// variance), so it is the report's secondary column, never the headline. Each resample draws S sentence indices with
    /// replacement (the same indices for every pair of runs), computes for every pair
    /// (arm run k, baseline run k, same seed) the perplexity difference over those sentences,
    /// and averages it over the pairs. The interval is the (1−level)/2 and (1+level)/2
    /// percentiles of the resampled differences (linear interpolation between order
    /// statistics, position q·(R−1), as numpy's default); `mean` is the difference on the full
    /// test set.
    ///
    /// Indices come from `SplitMix64(seed)`: index = ⌊next() · S / 2⁶⁴⌋. The Python script
    /// Tests/LMTests/Fixtures/ablation_bootstrap.py draws the same resamples.
    ///
    /// - Precondition: every run scored the same number of sentences (the caller checks and
    ///   reports a mismatch as an error naming the file).
    public static func pairedBootstrap(pairs: [(arm: SentenceScores, baseline: SentenceScores)], resamples: Int = 1000,
                                       seed: UInt64 = 1, level: Double = 0.95) -> Interval {
        precondition(!pairs.isEmpty && resamples > 0, "pairedBootstrap needs pairs and resamples")
        let s = pairs[0].arm.tokens.count
        precondition(pairs.allSatisfy { $0.arm.tokens.count == s && $0.baseline.tokens.count == s }, "pairedBootstrap: sentence counts differ")
        func difference(_ indices: [Int]) -> Double {
            mean(pairs.map { $0.arm.perplexity(indices) - $0.baseline.perplexity(indices) })
        }
        let full = difference(Array(0..<s))
        guard s > 0 else { return Interval(mean: full, low: .nan, high: .nan, count: resamples) }
        var rng = SplitMix64(seed: seed)
        var values: [Double] = []
        values.reserveCapacity(resamples)
        var indices = [Int](repeating: 0, count: s)
        for _ in 0..<resamples {
            for j in 0..<s { indices[j] = rng.index(below: s) }
            values.append(difference(indices))
        }
        values.sort()
        return Interval(mean: full, low: percentile(values, (1 - level) / 2), high: percentile(values, (1 + level) / 2), count: resamples)
    }

    /// The two-level (hierarchical) paired bootstrap: the headline interval of the report,
    /// which accounts for both training randomness (seeds) and the choice of test sentences.
    /// Each resample draws K pairs (arm run k, baseline run k, same seed) with replacement from
    /// the K pairs, then, for each drawn pair, S sentence indices with replacement (the same
    /// indices for both runs of the pair, since sentences are paired across arms; a pair drawn
    /// twice gets two independent draws); the resampled value is the mean over the drawn pairs
    /// of the corpus-level perplexity difference exp(−Σ logp / Σ tokens) on those sentences.
    /// The interval is the (1−level)/2 and (1+level)/2 percentiles as in `pairedBootstrap`;
    /// `mean` is the mean over pairs of the difference on the full test set.
    ///
    /// Draw order, from one `SplitMix64(seed)`: per resample, per drawn pair, first the pair
    /// index ⌊next() · K / 2⁶⁴⌋, then its S sentence indices. The Python script
    /// Tests/LMTests/Fixtures/ablation_bootstrap.py draws the same resamples.
    ///
    /// Nil with fewer than two pairs: a single seed cannot measure training variance, and the
    /// interval must not silently become the sentence-only one.
    ///
    /// - Precondition: both runs of a pair scored the same, non-zero number of sentences
    ///   (pairs may differ from each other).
    public static func twoLevelBootstrap(pairs: [(arm: SentenceScores, baseline: SentenceScores)], resamples: Int = 1000,
                                         seed: UInt64 = 1, level: Double = 0.95) -> Interval? {
        precondition(resamples > 0, "twoLevelBootstrap needs resamples")
        precondition(pairs.allSatisfy { $0.arm.tokens.count == $0.baseline.tokens.count && !$0.arm.tokens.isEmpty },
                     "twoLevelBootstrap: sentence counts differ within a pair")
        let k = pairs.count
        guard k >= 2 else { return nil }
        let full = mean(pairs.map { p in
            let all = Array(0..<p.arm.tokens.count)
            return p.arm.perplexity(all) - p.baseline.perplexity(all)
        })
        var rng = SplitMix64(seed: seed)
        var values: [Double] = []
        values.reserveCapacity(resamples)
        var indices: [Int] = []
        for _ in 0..<resamples {
            var sum = 0.0
            for _ in 0..<k {
                let pair = pairs[rng.index(below: k)]
                let s = pair.arm.tokens.count
                indices.removeAll(keepingCapacity: true)
                for _ in 0..<s { indices.append(rng.index(below: s)) }
                sum += pair.arm.perplexity(indices) - pair.baseline.perplexity(indices)
            }
            values.append(sum / Double(k))
        }
        values.sort()
        return Interval(mean: full, low: percentile(values, (1 - level) / 2), high: percentile(values, (1 + level) / 2), count: resamples)
    }

    /// How many seeds an arm needs for its by-seed t interval to exclude 0, if the per-seed
    /// differences keep their current mean and sd: the smallest n ≥ 2 with
    /// t_{(1+level)/2, n−1} · sd / √n < |mean| (about (t·sd/mean)²). Nil when more than `cap`
    /// would be needed (a mean difference ≈ 0 needs arbitrarily many) or sd/mean are undefined.
    ///
    /// Example: sd 10, mean 5 → n = 18 (t₀.₉₇₅,₁₇ = 2.110, 2.110 · 10 / √18 = 4.97 < 5; at 17:
    /// 2.120 · 10 / √17 = 5.14).
    public static func seedsNeeded(mean m: Double, sd: Double, level: Double = 0.95, cap: Int = 1000) -> Int? {
        guard m.isFinite, sd.isFinite, sd >= 0 else { return nil }
        if sd == 0 { return m == 0 ? nil : 2 }
        guard m != 0 else { return nil }
        // Below the cap, n grows as (t·sd/m)²; start near the normal approximation.
        let guess = (1.96 * sd / abs(m)) * (1.96 * sd / abs(m))
        guard guess <= Double(cap) else { return nil }
        for n in max(2, Int(guess) - 2)...cap {
            let half = tQuantile((1 + level) / 2, degreesOfFreedom: Double(n - 1)) * sd / Double(n).squareRoot()
            if half < abs(m) { return n }
        }
        return nil
    }

    /// The `q`-quantile of sorted values, interpolating linearly at position q·(n−1).
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let position = q * Double(sorted.count - 1)
        let i = Int(position.rounded(.down))
        let fraction = position - Double(i)
        return i + 1 < sorted.count ? sorted[i] + fraction * (sorted[i + 1] - sorted[i]) : sorted[i]
    }
}
