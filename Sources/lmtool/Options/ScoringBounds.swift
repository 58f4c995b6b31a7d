import ArgumentParser

/// The upper bounds of the scoring commands' size options (`perplexity`, `rescore`,
/// `generate`), stated in their help and in docs/scoring.md. The model's buffers are sized by
/// them before any text is read, so without a bound a mistyped value asks for terabytes and the
/// process dies (an allocation failure or the OOM killer) instead of printing one line.
enum ScoringBounds {
    /// `--batch-size` (sentences, documents or hypotheses side by side): at most this many.
    static let maxBatchSize = 1024
    /// `perplexity --window` (positions per forward pass): at most this many.
    static let maxWindow = 1024
    /// `generate --words` (tokens per sample): at most this many.
    static let maxWords = 1_000_000
    /// `generate --num-samples` (texts): at most this many.
    static let maxSamples = 100_000
}

extension OptionBounds {
    /// Throws unless `value` is a finite number.
    static func checkFinite(_ value: Double, _ flag: String) throws {
        if !value.isFinite { throw ValidationError("\(flag) must be a finite number, got \(value)") }
    }
}
