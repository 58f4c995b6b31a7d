/// SplitMix64: a small, fast, seedable generator, so that shuffles are the same on every
/// machine and Swift version (the standard library's shuffle algorithm is not guaranteed).
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Array {
    /// Fisher–Yates shuffle driven by SplitMix64 with `seed`: the same seed gives the same order
    /// everywhere.
    mutating func shuffle(seed: UInt64) {
        guard count > 1 else { return }
        var rng = SplitMix64(seed: seed)
        for i in stride(from: count - 1, to: 0, by: -1) {
            // Multiply-shift gives j uniform in 0...i up to a bias below 2^-32 for these sizes.
            let j = Int((UInt128(rng.next()) * UInt128(i + 1)) >> 64)
            swapAt(i, j)
        }
    }
}
