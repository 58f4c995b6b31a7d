import NN

/// The candidate graphs of GLoMo transfer: every layer's graphs and the products of consecutive
/// layers, per head.
///
/// From the graphs `G^0 … G^{L−1}` of one head and sequence (each `[T, T]`), the candidates are
///
///     c = 0 ..< L:            Γ_c = G^c                           (one hop through layer c)
///     c = L + l − 1, l ≥ 1:   Γ_c = P^l = G^l · G^{l−1} · … · G^0  (l + 1 hops, layers 0 … l)
///
/// so `2L − 1` candidates per head. `P^l = G^l · P^{l−1}` with `P^0 = G^0`: one sgemm `[T, T] ×
/// [T, T]` per (product, head, sequence). Every G is strictly lower triangular (j < i), so every
/// product is too (row i of P^l reaches positions ≤ i − l − 1): a product never looks ahead.
///
/// Layout: `candidates [2L−1, K, B, T, T]`, candidate c of head h and sequence b at
/// `((c·K + h)·B + b)·T·T`; the first `L·K·B·T·T` floats are a copy of `graphs [L, K, B, T, T]`.
///
///     GraphProducts.forward(candidates: cand, graphs: g, layers: L, heads: K, batch: B, steps: T)
///     GraphProducts.backward(dgraphs: dg, dcandidates: dcand, candidates: cand,
///                            layers: L, heads: K, batch: B, steps: T)
public enum GraphProducts {
    /// Candidates per head: `2L − 1` (L graphs and L − 1 products).
    public static func candidatesPerHead(layers L: Int) -> Int { 2 * L - 1 }

    /// Writes the `(2L−1)·K` candidate graphs of every sequence.
    public static func forward(
        candidates: UnsafeMutablePointer<Float>,  // [2L−1, K, B, T, T]
        graphs: UnsafePointer<Float>,             // [L, K, B, T, T]
        layers L: Int, heads K: Int, batch B: Int, steps T: Int
    ) {
        let block = T * T, perLayer = K * B * block
        candidates.update(from: graphs, count: L * perLayer)
        for l in 1..<max(L, 1) {
            let previous: UnsafePointer<Float> = l == 1 ? graphs : UnsafePointer(candidates + (L + l - 2) * perLayer)
            let g = graphs + l * perLayer, p = candidates + (L + l - 1) * perLayer
            for s in 0..<(K * B) {
                // P^l = G^l · P^{l−1} for one (head, sequence).
                sgemm(.none, .none, m: T, n: T, k: T, a: g + s * block, lda: T, b: previous + s * block, ldb: T,
                      beta: 0, c: p + s * block, ldc: T)
            }
        }
    }

    /// Adds the gradient with respect to the graphs, given the gradient of the candidates.
    ///
    /// With `P^l = G^l · P^{l−1}`: `dG^l += dP^l · (P^{l−1})ᵀ` and `dP^{l−1} += (G^l)ᵀ · dP^l`,
    /// from the last product down; the direct candidates add `dG^c += dΓ_c`. `dcandidates` is
    /// used as scratch (the product slots are overwritten).
    public static func backward(
        dgraphs: UnsafeMutablePointer<Float>,        // [L, K, B, T, T]
        dcandidates: UnsafeMutablePointer<Float>,    // [2L−1, K, B, T, T], consumed
        candidates: UnsafePointer<Float>,            // [2L−1, K, B, T, T] of the forward
        layers L: Int, heads K: Int, batch B: Int, steps T: Int
    ) {
        let block = T * T, perLayer = K * B * block
        for l in stride(from: L - 1, through: 1, by: -1) {
            // Slot of P^{l−1}: candidate 0 (G^0) for l = 1, else the product slot L + l − 2.
            let prevSlot = l == 1 ? 0 : L + l - 2
            let dp = dcandidates + (L + l - 1) * perLayer
            let previous = candidates + prevSlot * perLayer, g = candidates + l * perLayer
            let dg = dcandidates + l * perLayer, dprevious = dcandidates + prevSlot * perLayer
            for s in 0..<(K * B) {
                let o = s * block
                sgemm(.none, .transpose, m: T, n: T, k: T, a: dp + o, lda: T, b: previous + o, ldb: T,
                      beta: 1, c: dg + o, ldc: T)
                sgemm(.transpose, .none, m: T, n: T, k: T, a: g + o, lda: T, b: dp + o, ldb: T,
                      beta: 1, c: dprevious + o, ldc: T)
            }
        }
        let n = L * perLayer
        for i in 0..<n { dgraphs[i] += dcandidates[i] }
    }
}
