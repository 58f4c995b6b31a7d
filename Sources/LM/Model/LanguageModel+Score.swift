extension LanguageModel {
    /// Scores one window without dropout and without touching any gradient, zeroing the state
    /// first when the window says so: the summed loss (natural log) and the count of scored
    /// targets; log p of every position is then in `targetLogProbabilities`. The one scoring
    /// step of `Evaluator`, for a split in memory and for streamed text alike; `rowIndependent`
    /// as in `evaluate` (documents scored as batch columns need it).
    @discardableResult
    public func score(_ w: BatchWindow, rowIndependent: Bool = false) -> (lossSum: Double, count: Int) {
        if w.resetsState { resetState() }
        return evaluate(inputs: w.inputs, targets: w.targets, mask: w.mask, steps: w.steps, rowIndependent: rowIndependent)
    }
}
