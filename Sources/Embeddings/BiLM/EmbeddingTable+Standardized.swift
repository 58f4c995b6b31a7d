extension EmbeddingTable {
    /// The table with every component standardised over the rows: component j becomes
    /// `(x_j − mean_j) / std_j` (population standard deviation; a constant component becomes 0).
    ///
    /// Averaged LSTM states share a large common part (on the default corpus the mean over the
    /// vocabulary has norm 7.5 while words differ from it by 0.17 on average, components near
    /// ±0.93): as frozen LM inputs they are then almost a constant. Standardising keeps what
    /// distinguishes the words, at unit scale per component.
    ///
    ///     let z = table.standardized()   // rows [1 5], [3 5] → [-1 0], [1 0]
    public func standardized() -> EmbeddingTable {
        let D = dimension, V = count
        var mean = [Double](repeating: 0, count: D), square = [Double](repeating: 0, count: D)
        for r in 0..<V {
            for j in 0..<D {
                let x = Double(vectors[r * D + j])
                mean[j] += x
                square[j] += x * x
            }
        }
        var scale = [Double](repeating: 0, count: D)
        for j in 0..<D {
            mean[j] /= Double(max(V, 1))
            let variance = max(square[j] / Double(max(V, 1)) - mean[j] * mean[j], 0)
            scale[j] = variance > 1e-20 ? 1 / variance.squareRoot() : 0
        }
        var out = self
        for r in 0..<V {
            for j in 0..<D { out.vectors[r * D + j] = Float((Double(vectors[r * D + j]) - mean[j]) * scale[j]) }
        }
        return out
    }
}
