import NN

/// Fixed-length windows cut from a token stream for context prediction.
///
/// Window k starts at token k·T and spans T + D tokens: the predictors read the first T, the
/// last D are only targets (and are the first D tokens the next window reads). With n tokens
/// there are `(n − T − D) / T + 1` windows (none if n < T + D).
///
///     // tokens 0 1 2 3 4 5 6 7 8 9, T = 4, D = 2:  windows [0 ..< 6], [4 ..< 10]
///     let data = ContextPredictionData(tokens: ids, steps: 4, predictTokens: 2)
///     var rng = RNG(seed: 1)
///     let batch = data.batch(windows: [1, 0], positionsPerSequence: 2, rng: &rng)
public struct ContextPredictionData: Sendable {
    public let tokens: [Int32]
    /// T.
    public let steps: Int
    /// D.
    public let predictTokens: Int

    public init(tokens: [Int32], steps: Int, predictTokens: Int) {
        precondition(steps > 0 && predictTokens > 0, "ContextPredictionData: sizes must be positive")
        self.tokens = tokens
        self.steps = steps
        self.predictTokens = predictTokens
    }

    /// The number of windows.
    public var windowCount: Int {
        tokens.count < steps + predictTokens ? 0 : (tokens.count - steps - predictTokens) / steps + 1
    }

    /// The window indices in a random order drawn from `seed` and `epoch` only (so a resumed run
    /// sees the same order): a Fisher–Yates shuffle.
    public func order(epoch: Int, seed: UInt64) -> [Int] {
        var rng = RNG(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch) &+ 1)
        var order = Array(0..<windowCount)
        if order.count > 1 {
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.int(below: i + 1)) }
        }
        return order
    }

    /// A batch of the given windows, with `positionsPerSequence` distinct positions in `0 ..< T`
    /// drawn from `rng` per window (sorted).
    public func batch(windows: [Int], positionsPerSequence P: Int, rng: inout RNG) -> ContextPredictionBatch {
        precondition(P > 0 && P <= steps, "ContextPredictionData: \(P) positions in \(steps) steps")
        let T = steps, D = predictTokens, B = windows.count
        var ids = [Int32](repeating: 0, count: (T + D) * B)
        for (b, w) in windows.enumerated() {
            precondition(w >= 0 && w < windowCount, "ContextPredictionData: window \(w) outside 0..<\(windowCount)")
            for s in 0..<(T + D) { ids[s * B + b] = tokens[w * T + s] }
        }
        var positions: [Int32] = []
        positions.reserveCapacity(B * P)
        var pool = Array(0..<T)
        for _ in 0..<B {
            // Partial Fisher–Yates: the first P entries of pool become a uniform sample.
            for i in 0..<P { pool.swapAt(i, i + rng.int(below: T - i)) }
            positions += pool[0..<P].sorted().map { Int32($0) }
        }
        return ContextPredictionBatch(steps: T, batch: B, tokens: ids, positions: positions)
    }
}
