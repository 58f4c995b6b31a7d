import NN

/// Runs `body` on two threads with every split threshold at its minimum, so that the parallel
/// paths (split GEMMs, the LSTM's time loop with packed weights, elementwise passes and the LM's
/// softmax rows) run even on tiny test sizes; restores the settings afterwards.
public func onTwoThreadsSplittingEverything<R>(_ body: () throws -> R) rethrows -> R {
    let before = (BLASRuntime.threads, GEMMSplit.minimumWork, WorkerPool.elementwiseMinimum, LSTM.packedMinimumRows)
    defer {
        BLASRuntime.setThreads(before.0)
        GEMMSplit.minimumWork = before.1
        WorkerPool.elementwiseMinimum = before.2
        LSTM.packedMinimumRows = before.3
    }
    BLASRuntime.setThreads(2)
    GEMMSplit.minimumWork = 0
    WorkerPool.elementwiseMinimum = 1
    LSTM.packedMinimumRows = 0
    return try body()
}
