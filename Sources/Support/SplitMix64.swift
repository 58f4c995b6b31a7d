/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seedable generator that is easy to reproduce in
/// any language, so that what it drives is the same on every machine and Swift version: corpus
/// shuffles, the ablation bootstrap's resampling, seeding `RNG`, dropout masks, the readers' fuzz
/// tests. `@inlinable`, so that per-element callers in other modules pay no call.
///
///     var rng = SplitMix64(seed: 1)
///     rng.next()              // 0x910a2dec89025cc1, as Vigna's splitmix64.c
///     rng.index(below: 10)    // 0..<10
public struct SplitMix64: RandomNumberGenerator, Sendable {
    @usableFromInline var current: UInt64

    /// The generator's state: the seed plus the number of draws times the golden-ratio step.
    public var state: UInt64 { current }

    @inlinable
    public init(seed: UInt64) { current = seed }

    @inlinable
    public mutating func next() -> UInt64 {
        current &+= 0x9E37_79B9_7F4A_7C15
        var z = current
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// ⌊next() · n / 2⁶⁴⌋: an index in 0..<n (n > 0), with a bias below n / 2⁶⁴.
    @inlinable
    public mutating func index(below n: Int) -> Int {
        Int(next().multipliedFullWidth(by: UInt64(n)).high)
    }
}
