/// How `sgemm` cuts a product over the threads of `WorkerPool.shared`: in blocks of rows of C
/// when C has at least as many rows as columns, else in blocks of columns (whole 16-column
/// panels); products under `ParallelOptions.gemmMinimumWork` multiply-adds, or too narrow to
/// cut, run on one thread.
///
/// Measured with `lmtool bench gemm --threads 2` (BENCHMARKS.md): the LSTM's per-step products
/// (20×2600×650, 20×800×200) gain from a column split, since each thread then packs only its half
/// of the weights, which a single OpenBLAS call would pack whole for a few rows of A.
public enum GEMMSplit: Equatable, Sendable {
    case rows
    case columns

    /// Column blocks start at multiples of this many columns (whole SIMD panels).
    public static let columnAlignment = 16

    /// The split for an `m × n × k` product, or nil to run it on one thread (too little work
    /// for `options`, or too narrow).
    public init?(m: Int, n: Int, k: Int, options: ParallelOptions) {
        guard m * n * k >= options.gemmMinimumWork else { return nil }
        if m >= n && m >= 8 {
            self = .rows
        } else if n >= 2 * GEMMSplit.columnAlignment {
            self = .columns
        } else {
            return nil
        }
    }
}
