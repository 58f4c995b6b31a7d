/// The sizes from which work is split between the threads of a `WorkerPool`: a value the pool
/// holds (`WorkerPool.options`) and every kernel reads from the pool it runs on. The defaults
/// are measured (BENCHMARKS.md, docs/nn-core.md); tests give the pool options with every
/// threshold at its minimum to run the parallel paths on tiny sizes.
public struct ParallelOptions: Sendable, Equatable {
    /// Below this many multiply-adds (m·n·k) a product runs on one thread (`GEMMSplit`).
    public var gemmMinimumWork: Int
    /// Elements below which an elementwise pass (optimizer step, bias fill, softmax rows) runs on
    /// one thread.
    public var elementwiseMinimum: Int
    /// Windows of fewer steps × batch rows multiply by the LSTM's W_hh through OpenBLAS, longer
    /// ones through `PackedGEMM` (`LSTM.usePackedWeights`).
    public var lstmPackedMinimumRows: Int
    /// With packed weights and at least this many batch rows per thread, the LSTM's time loop
    /// gives each thread its own rows for the whole window (no barrier per step); with fewer,
    /// each step's columns are split (two barriers per step; `LSTM.splitsRows`).
    public var lstmRowsPerThread: Int

    public init(gemmMinimumWork: Int = 1 << 18, elementwiseMinimum: Int = 1 << 15, lstmPackedMinimumRows: Int = 32,
                lstmRowsPerThread: Int = 4) {
        self.gemmMinimumWork = gemmMinimumWork
        self.elementwiseMinimum = elementwiseMinimum
        self.lstmPackedMinimumRows = lstmPackedMinimumRows
        self.lstmRowsPerThread = lstmRowsPerThread
    }

    /// The measured thresholds lmtool runs with.
    public static let `default` = ParallelOptions()
}
