import NN

/// The learned gate that merges features with their graph-mixed version:
///
///     z_r = W · [h_r ; y_r] + b,   g_r = σ(z_r),   out_r = g_r ⊙ h_r + (1 − g_r) ⊙ y_r
///
/// with `h, y, out [N, D]` (N rows, e.g. `T·B` time-major), `W [D, 2D]`, `b [D]` (PyTorch's
/// `nn.Linear(2D, D)` layout: columns 0 ..< D read h, D ..< 2D read y). A gate near 1 keeps the
/// original features, near 0 takes the mixed ones, per row and channel.
///
/// The caller owns the buffers: `concat [N, 2D]` and `gate [N, D]` are written by forward and
/// read by backward; `dconcat [N, 2D]` is scratch.
///
///     GraphGate.forward(output: o, gate: g, concat: x, features: h, mixed: y, weight: w, bias: b, rows: N, size: D)
///     GraphGate.backward(dfeatures: dh, dmixed: dy, dweight: dw, dbias: db, dconcat: dx, doutput: dout,
///                        gate: g, concat: x, weight: w, rows: N, size: D)
public enum GraphGate {
    /// Writes `out`, and keeps `concat = [h ; y]` and `gate = σ(W·concat + b)` for backward.
    public static func forward(
        output: UnsafeMutablePointer<Float>,    // [N, D]
        gate: UnsafeMutablePointer<Float>,      // [N, D]
        concat: UnsafeMutablePointer<Float>,    // [N, 2D]
        features h: UnsafePointer<Float>,       // [N, D]
        mixed y: UnsafePointer<Float>,          // [N, D]
        weight: UnsafePointer<Float>,           // [D, 2D]
        bias: UnsafePointer<Float>,             // [D]
        rows N: Int, size D: Int
    ) {
        for r in 0..<N {
            (concat + r * 2 * D).update(from: h + r * D, count: D)
            (concat + r * 2 * D + D).update(from: y + r * D, count: D)
        }
        Linear(inputSize: 2 * D, outputSize: D).forward(output: gate, input: concat, weight: weight, bias: bias, n: N)
        for k in 0..<(N * D) {
            let g = FastMath.sigmoid(gate[k])
            gate[k] = g
            output[k] = g * h[k] + (1 - g) * y[k]
        }
    }

    /// Adds the gradients with respect to h, y, W and b, given the gradient of `out`.
    ///
    /// `dh += g ⊙ dout + dconcat[:, :D]`, `dy += (1 − g) ⊙ dout + dconcat[:, D:]` with
    /// `dz = dout ⊙ (h − y) ⊙ g(1 − g)` and `dconcat = dz · W`.
    public static func backward(
        dfeatures: UnsafeMutablePointer<Float>, // [N, D] adds
        dmixed: UnsafeMutablePointer<Float>,    // [N, D] adds
        dweight: UnsafeMutablePointer<Float>,   // [D, 2D] adds
        dbias: UnsafeMutablePointer<Float>,     // [D] adds
        dconcat: UnsafeMutablePointer<Float>,   // [N, 2D] scratch
        doutput: UnsafePointer<Float>,          // [N, D]
        gate: UnsafeMutablePointer<Float>,      // [N, D] from forward; overwritten with dz
        concat: UnsafePointer<Float>,           // [N, 2D] from forward
        weight: UnsafePointer<Float>,           // [D, 2D]
        rows N: Int, size D: Int
    ) {
        for r in 0..<N {
            let x = concat + r * 2 * D, o = r * D
            for k in 0..<D {
                let g = gate[o + k], d = doutput[o + k]
                dfeatures[o + k] += g * d
                dmixed[o + k] += (1 - g) * d
                gate[o + k] = d * (x[k] - x[D + k]) * g * (1 - g)   // dz
            }
        }
        dconcat.update(repeating: 0, count: N * 2 * D)
        Linear(inputSize: 2 * D, outputSize: D).backward(dinput: dconcat, dweight: dweight, dbias: dbias,
                                                         doutput: gate, input: concat, weight: weight, n: N)
        for r in 0..<N {
            let x = dconcat + r * 2 * D, o = r * D
            for k in 0..<D {
                dfeatures[o + k] += x[k]
                dmixed[o + k] += x[D + k]
            }
        }
    }
}
