import Support

/// A seeded, deterministic random number generator (xoshiro256**, seeded through SplitMix64).
///
/// Its whole state is four `UInt64` words (`state`), which a checkpoint saves and restores so
/// that a resumed run draws exactly the numbers an uninterrupted one would.
///
///     var rng = RNG(seed: 42)
///     let u = rng.uniform()          // Float in [0, 1)
///     let saved = rng.state          // store in a checkpoint …
///     var again = RNG(state: saved)  // … and continue from there
public struct RNG: RandomNumberGenerator, Sendable {
    public private(set) var state: [UInt64]

    public init(seed: UInt64) {
        var s = SplitMix64(seed: seed)
        state = [s.next(), s.next(), s.next(), s.next()]
    }

    /// Restores a generator from `state` (four words, not all zero).
    public init(state: [UInt64]) {
        precondition(state.count == 4 && state.contains { $0 != 0 }, "RNG state must be four words, not all zero")
        self.state = state
    }

    @inlinable
    static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 &- k)) }

    public mutating func next() -> UInt64 {
        let result = RNG.rotl(state[1] &* 5, 7) &* 9
        let t = state[1] << 17
        state[2] ^= state[0]
        state[3] ^= state[1]
        state[1] ^= state[2]
        state[0] ^= state[3]
        state[2] ^= t
        state[3] = RNG.rotl(state[3], 45)
        return result
    }

    /// A Float uniformly distributed in [0, 1), with 24 random bits.
    public mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// A Float uniformly distributed in [lo, hi).
    public mutating func uniform(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * uniform() }

    /// A standard normal deviate (Box–Muller).
    public mutating func normal() -> Float {
        let u1 = Double(next() >> 11) * 0x1p-53 + 0x1p-54  // (0, 1)
        let u2 = Double(next() >> 11) * 0x1p-53
        return Float((-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2))
    }

    /// An integer uniformly distributed in 0..<n (n > 0), without modulo bias.
    public mutating func int(below n: Int) -> Int { Int(next(upperBound: UInt64(n))) }
}

import Glibc
@usableFromInline func _log(_ x: Double) -> Double { Glibc.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Glibc.cos(x) }
