import Foundation
import NN

/// Picks the next token from a model's output distribution, deterministically given an `RNG`.
///
/// With temperature T the probabilities become p_i^(1/T) / Σ_j p_j^(1/T) (a softmax of
/// log p / T); with `topK` = k only the k most probable tokens keep their mass (ties broken by
/// the lower id); with `topP` = P (nucleus sampling, Holtzman et al. 2020) only the most
/// probable tokens whose probabilities (after the temperature and top-k, renormalised) first
/// reach a sum of P keep their mass: the tokens in order of descending probability, lower id
/// first on ties, up to and including the one at which the running sum reaches P. The sums are
/// exact (Double, over the whole distribution; "reaches" allows 1e-12 for rounding).
/// T = 0 (or k = 1) is greedy: the most probable token, lowest id on ties, and no random number
/// is drawn. Otherwise exactly one `rng.uniform()` is drawn per call.
///
///     var rng = RNG(seed: 7)
///     let next = Sampler(temperature: 0.8, topK: 40, topP: 0.9).sample(logProbabilities: logits, rng: &rng)
public struct Sampler: Equatable, Sendable {
    /// 1 = the model's distribution; smaller is greedier; 0 = argmax.
    public var temperature: Float
    /// Keep only the `topK` most probable tokens (nil or 0 = all).
    public var topK: Int?
    /// Keep only the nucleus of probability `topP`, in (0, 1] (nil or 1 = all).
    public var topP: Double?

    public init(temperature: Float = 1, topK: Int? = nil, topP: Double? = nil) {
        precondition(temperature >= 0 && temperature.isFinite, "temperature must be finite and >= 0")
        precondition((topK ?? 0) >= 0, "topK must be >= 0")
        precondition(topP.map { $0 > 0 && $0 <= 1 } ?? true, "topP must be in (0, 1]")
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
    }

    /// The index of the sampled token. `logProbabilities` may be unnormalised (logits): only
    /// differences matter. Entries of −∞ are never chosen unless all are.
    public func sample(logProbabilities: [Float], rng: inout RNG) -> Int {
        logProbabilities.withUnsafeBufferPointer { sample(logProbabilities: $0, rng: &rng) }
    }

    /// `sample` over a buffer (e.g. one row of the decoder output).
    public func sample(logProbabilities x: UnsafeBufferPointer<Float>, rng: inout RNG) -> Int {
        precondition(!x.isEmpty, "cannot sample from an empty distribution")
        let k = min((topK ?? 0) > 0 ? topK! : x.count, x.count)
        if temperature == 0 || k == 1 { return Sampler.argmax(x) }

        // The candidates: all ids, or the k best (by value, then by lower id).
        let candidates = k < x.count ? Sampler.topIndices(x, k) : Array(0..<x.count)
        // Softmax of x / T in Double, shifted by the maximum for stability.
        let maximum = candidates.reduce(-Float.infinity) { max($0, x[$1]) }
        if maximum == -.infinity { return Sampler.argmax(x) }
        let t = Double(temperature)
        var weights = [Double](repeating: 0, count: candidates.count)
        var total = 0.0
        for (i, id) in candidates.enumerated() {
            let w = Foundation.exp((Double(x[id]) - Double(maximum)) / t)
            weights[i] = w
            total += w
        }
        if let topP, topP < 1 { total = Sampler.keepNucleus(&weights, total: total, ids: candidates, p: topP) }
        let u = Double(rng.uniform()) * total
        var cumulative = 0.0
        for (i, w) in weights.enumerated() {
            cumulative += w
            if u < cumulative { return candidates[i] }
        }
        // Rounding left u at the very top: the last candidate with mass.
        return candidates[weights.lastIndex { $0 > 0 }!]
    }

    /// Zeroes every weight outside the nucleus of probability `p` (the largest weights, lower
    /// id first on ties, until their share of `total` reaches `p`); returns the nucleus's total.
    static func keepNucleus(_ weights: inout [Double], total: Double, ids: [Int], p: Double) -> Double {
        let order = weights.indices.sorted { weights[$0] != weights[$1] ? weights[$0] > weights[$1] : ids[$0] < ids[$1] }
        var kept = 0.0
        var end = order.count
        for (rank, i) in order.enumerated() {
            kept += weights[i]
            if kept / total >= p - 1e-12 {
                end = rank + 1
                break
            }
        }
        for i in order[end...] { weights[i] = 0 }
        return kept
    }

    /// The ids of the `k` largest entries (0 < k < count), in id order; among equal values at
    /// the threshold the lower ids are kept. O(n) on average (quickselect on a copy).
    static func topIndices(_ x: UnsafeBufferPointer<Float>, _ k: Int) -> [Int] {
        var values = Array(x)
        // Quickselect: afterwards values[k - 1] is the k-th largest.
        var lo = 0, hi = values.count - 1
        let target = k - 1
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        while lo < hi {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            values.swapAt(lo + Int((seed >> 33) % UInt64(hi - lo + 1)), hi)
            let pivot = values[hi]
            var store = lo
            for i in lo..<hi where values[i] > pivot {
                values.swapAt(i, store)
                store += 1
            }
            values.swapAt(store, hi)
            if store == target { break }
            if store < target { lo = store + 1 } else { hi = store - 1 }
        }
        let threshold = values[target]
        var above = 0
        for v in x where v > threshold { above += 1 }
        var ties = k - above
        var out: [Int] = []
        out.reserveCapacity(k)
        for i in 0..<x.count {
            if x[i] > threshold {
                out.append(i)
            } else if x[i] == threshold && ties > 0 {
                out.append(i)
                ties -= 1
            }
        }
        return out
    }

    /// The index of the largest entry, the lowest one on ties.
    public static func argmax(_ x: UnsafeBufferPointer<Float>) -> Int {
        var best = 0
        for i in 1..<x.count where x[i] > x[best] { best = i }
        return best
    }
}
