import NN

extension ParallelOptions {
    /// Every threshold at its minimum: every product, elementwise pass and LSTM window splits.
    public static let splittingEverything = ParallelOptions(gemmMinimumWork: 0, elementwiseMinimum: 1,
                                                             lstmPackedMinimumRows: 0)
}

/// Runs `body` with `WorkerPool.shared` on two threads and `ParallelOptions.splittingEverything`,
/// so that the parallel paths (split GEMMs, the LSTM's time loop with packed weights, elementwise
/// passes and the LM's softmax rows) run even on tiny test sizes; restores the pool afterwards.
public func onTwoThreadsSplittingEverything<R>(_ body: () throws -> R) rethrows -> R {
    let pool = WorkerPool.shared
    let before = (BLASRuntime.threads, pool.options)
    defer {
        BLASRuntime.setThreads(before.0)
        pool.options = before.1
    }
    BLASRuntime.setThreads(2)
    pool.options = .splittingEverything
    return try body()
}
