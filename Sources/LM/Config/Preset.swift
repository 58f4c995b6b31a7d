/// Named recipes: `small` and `medium` as Zaremba et al. 2014 / TensorFlow's ptb_word_lm
/// (published PTB test perplexities ~115 and ~82), converted to a per-token mean loss; `tiny`
/// for the demo and quick experiments.
///
/// | preset | emb/hidden | layers | BPTT | batch | lr (mean loss) | clip | init | dropout | schedule | epochs |
/// | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
/// | tiny | 64/64 | 1 | 35 | 32 | 20 | 0.25 | ±0.1 | 0 | ÷4 on plateau | 6 |
/// | small | 200/200 | 2 | 20 | 20 | 20 (= 1 × 20) | 0.25 (= 5 / 20) | ±0.1 | 0 | ×0.5 after epoch 4 | 13 |
/// | medium | 650/650 | 2 | 35 | 20 | 35 (= 1 × 35) | 0.143 (= 5 / 35) | ±0.05 | 0.5 | ×0.8 after epoch 6 | 39 |
public enum Preset: String, CaseIterable, Codable, Sendable {
    case tiny, small, medium

    /// The model shape for a vocabulary of `vocabularySize` ids.
    public func model(vocabularySize: Int) -> ModelConfig {
        switch self {
        case .tiny:
            return ModelConfig(vocabularySize: vocabularySize, embeddingSize: 64, hiddenSize: 64, layers: 1, dropout: 0, initRange: 0.1)
        case .small:
            return ModelConfig(vocabularySize: vocabularySize, embeddingSize: 200, hiddenSize: 200, layers: 2, dropout: 0, initRange: 0.1)
        case .medium:
            return ModelConfig(vocabularySize: vocabularySize, embeddingSize: 650, hiddenSize: 650, layers: 2, dropout: 0.5, initRange: 0.05)
        }
    }

    public var training: TrainingConfig {
        switch self {
        case .tiny:
            return TrainingConfig(bptt: 35, batchSize: 32, learningRate: 20, clip: 0.25, schedule: .plateau(factor: 0.25), epochs: 6)
        case .small:
            return TrainingConfig(bptt: 20, batchSize: 20, learningRate: 20, clip: 0.25, schedule: .decayAfter(epoch: 4, factor: 0.5), epochs: 13)
        case .medium:
            return TrainingConfig(bptt: 35, batchSize: 20, learningRate: 35, clip: 5.0 / 35.0, schedule: .decayAfter(epoch: 6, factor: 0.8), epochs: 39)
        }
    }
}
