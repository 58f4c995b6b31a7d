/// A fully connected layer `y = x · Wᵀ + b`, as PyTorch's `nn.Linear`.
///
/// Layout (PyTorch): `weight [out, in]`, `bias [out]` (optional). Rows of `x` are independent
/// examples, so a time-major sequence `[T, B, in]` is passed as `n = T·B` rows.
///
///     let fc = Linear(inputSize: 200, outputSize: 10_000)
///     fc.forward(output: logits, input: h, weight: w, bias: b, n: T * B)   // [T·B, 10000]
///     fc.backward(dinput: dh, dweight: dw, dbias: db, doutput: dlogits,
///                 input: h, weight: w, n: T * B)                          // adds into dh, dw, db
public struct Linear: Sendable {
    public let inputSize: Int
    public let outputSize: Int

    public init(inputSize: Int, outputSize: Int) {
        precondition(inputSize > 0 && outputSize > 0, "Linear: sizes must be positive")
        self.inputSize = inputSize
        self.outputSize = outputSize
    }

    /// Number of weight entries, `out · in`.
    public var weightCount: Int { inputSize * outputSize }

    /// Initializes as PyTorch's `nn.Linear`: weight and bias uniform in [-1/√in, 1/√in)
    /// (kaiming-uniform with a = √5 reduces to this bound).
    public func initialize(weight: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>?, rng: inout RNG) {
        let bound = 1 / Float(inputSize).squareRoot()
        for k in 0..<weightCount { weight[k] = rng.uniform(-bound, bound) }
        if let bias { for k in 0..<outputSize { bias[k] = rng.uniform(-bound, bound) } }
    }

    /// Writes `output = input · weightᵀ + bias` (bias may be nil). With `rowIndependentScratch`
    /// (`PackedGEMM.packedCount(n: out, k: in)` floats), the product goes through
    /// `PackedGEMM.rowIndependentMultiplyAdd`: each output row then depends on its input row alone,
    /// whatever `n` is (evaluation); otherwise through OpenBLAS.
    public func forward(
        output: UnsafeMutablePointer<Float>,  // [n, out]
        input: UnsafePointer<Float>,          // [n, in]
        weight: UnsafePointer<Float>,         // [out, in]
        bias: UnsafePointer<Float>?,          // [out]
        n: Int,
        rowIndependentScratch: UnsafeMutablePointer<Float>? = nil
    ) {
        let I = inputSize, O = outputSize
        if bias != nil || rowIndependentScratch != nil {
            WorkerPool.shared.forEachShare(of: n, minimumCount: WorkerPool.shared.options.elementwiseMinimum / max(O, 1)) { rows in
                for r in rows {
                    let row = output + r * O
                    if let bias { row.update(from: bias, count: O) } else { row.update(repeating: 0, count: O) }
                }
            }
        }
        if let rowIndependentScratch {
            PackedGEMM.rowIndependentMultiplyAdd(c: output, ldc: O, a: input, lda: I, weight: weight, m: n, k: I, n: O,
                                                 packed: rowIndependentScratch)
        } else {
            sgemm(.none, .transpose, m: n, n: O, k: I, a: input, lda: I, b: weight, ldb: I,
                  beta: bias == nil ? 0 : 1, c: output, ldc: O)
        }
    }

    /// Adds the gradients of the loss with respect to input (if `dinput` is non-nil), weight and
    /// bias (if `dbias` is non-nil), given `doutput`.
    public func backward(
        dinput: UnsafeMutablePointer<Float>?,  // [n, in]
        dweight: UnsafeMutablePointer<Float>,  // [out, in]
        dbias: UnsafeMutablePointer<Float>?,   // [out]
        doutput: UnsafePointer<Float>,         // [n, out]
        input: UnsafePointer<Float>,           // [n, in]
        weight: UnsafePointer<Float>,          // [out, in]
        n: Int
    ) {
        let I = inputSize, O = outputSize
        if let dinput {
            sgemm(.none, .none, m: n, n: I, k: O, a: doutput, lda: O, b: weight, ldb: I,
                  beta: 1, c: dinput, ldc: I)
        }
        sgemm(.transpose, .none, m: O, n: I, k: n, a: doutput, lda: O, b: input, ldb: I,
              beta: 1, c: dweight, ldc: I)
        if let dbias { addColumnSums(dbias, doutput, rows: n, columns: O) }
    }
}

/// `sums[j] += Σ_r matrix[r, j]` for a row-major `[rows, columns]` matrix (vectorizes along j;
/// blocks of columns on the threads of `WorkerPool.shared`, each sum in row order).
func addColumnSums(_ sums: UnsafeMutablePointer<Float>, _ matrix: UnsafePointer<Float>, rows: Int, columns: Int) {
    WorkerPool.shared.forEachShare(of: columns, minimumCount: WorkerPool.shared.options.elementwiseMinimum / max(rows, 1),
                                   alignment: 16) { cols in
        for r in 0..<rows {
            let row = matrix + r * columns
            for j in cols { sums[j] += row[j] }
        }
    }
}
