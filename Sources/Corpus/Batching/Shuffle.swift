import Support

extension Array {
    /// Fisher–Yates shuffle driven by SplitMix64 with `seed` (so that shuffles are the same on
    /// every machine and Swift version, which the standard library's shuffle does not promise):
    /// the same seed gives the same order everywhere.
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
