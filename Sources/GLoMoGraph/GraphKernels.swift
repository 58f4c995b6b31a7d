/// The per-block graph kernel: affinity scores to a causal, row-normalised ReLU² graph.
///
/// For one (layer, head, sequence) block with raw affinities `s [T, T]` (s_ij = q_i · k_j) and
/// per-row thresholds `τ [T]`:
///
///     a_ij = ReLU(s_ij − τ_i)²   if j < i, else 0          (strictly earlier positions only)
///     Z_i  = Σ_j a_ij
///     G_ij = a_ij / (Z_i + ε)
///
/// Row 0 has no predecessor and is all zeros; so is any row whose affinities are all at or
/// below the threshold. Every other row sums to Z_i / (Z_i + ε), i.e. 1 up to ε / Z_i.
///
///     GraphKernels.forward(graph: g, rowSums: z, scores: s, thresholds: tau, steps: T, epsilon: 1e-6)
///     GraphKernels.backward(dscores: ds, dthresholds: dtau, dgraph: dg, graph: g, scores: s,
///                           thresholds: tau, rowSums: z, steps: T, epsilon: 1e-6)
public enum GraphKernels {
    /// Writes the normalised graph `G` and the row sums `Z` of one block.
    public static func forward(
        graph g: UnsafeMutablePointer<Float>,    // [T, T]
        rowSums z: UnsafeMutablePointer<Float>,  // [T]
        scores s: UnsafePointer<Float>,          // [T, T]
        thresholds tau: UnsafePointer<Float>,    // [T]
        steps T: Int, epsilon: Float
    ) {
        for i in 0..<T {
            let srow = s + i * T, grow = g + i * T, t = tau[i]
            var sum: Float = 0
            for j in 0..<i {
                let p = max(srow[j] - t, 0)
                let a = p * p
                grow[j] = a
                sum += a
            }
            for j in i..<T { grow[j] = 0 }
            let inv = 1 / (sum + epsilon)
            for j in 0..<i { grow[j] *= inv }
            z[i] = sum
        }
    }

    /// Adds the gradients with respect to the scores and the thresholds of one block, given the
    /// gradient of its graph.
    ///
    /// With `g = dL/dG`: `dL/da_ij = (g_ij − Σ_m g_im G_im) / (Z_i + ε)`, then
    /// `dL/ds_ij = dL/da_ij · 2·ReLU(s_ij − τ_i)` for j < i and `dL/dτ_i = −Σ_j dL/ds_ij`.
    public static func backward(
        dscores ds: UnsafeMutablePointer<Float>,      // [T, T]
        dthresholds dtau: UnsafeMutablePointer<Float>, // [T]
        dgraph dg: UnsafePointer<Float>,              // [T, T]
        graph g: UnsafePointer<Float>,                // [T, T]
        scores s: UnsafePointer<Float>,               // [T, T]
        thresholds tau: UnsafePointer<Float>,         // [T]
        rowSums z: UnsafePointer<Float>,              // [T]
        steps T: Int, epsilon: Float
    ) {
        for i in 1..<max(T, 1) {
            let srow = s + i * T, grow = g + i * T, dgrow = dg + i * T, dsrow = ds + i * T, t = tau[i]
            var dot: Float = 0
            for j in 0..<i { dot += dgrow[j] * grow[j] }
            let inv = 1 / (z[i] + epsilon)
            var dt: Float = 0
            for j in 0..<i {
                let p = max(srow[j] - t, 0)
                let d = (dgrow[j] - dot) * inv * 2 * p
                dsrow[j] += d
                dt -= d
            }
            dtau[i] += dt
        }
    }
}
