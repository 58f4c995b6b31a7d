import Glibc
import Corpus
import NN

/// Settings of `BiLM.train` and `BiLM.contextualVectors` (`lmtool embed bilm`).
public struct BiLMOptions: Sendable, Equatable {
    /// E, the input embedding size.
    public var embeddingSize = 64
    /// H per direction; the exported vectors are 2·H wide ([forward ; backward]).
    public var hiddenSize = 32
    /// Passes over the training tokens.
    public var epochs = 1
    /// Batch columns B and BPTT window T (discourse batching, state carried between windows).
    public var batchSize = 32
    public var bptt = 35
    /// Adam's learning rate (β = 0.9, 0.999) and the global gradient-norm clip.
    public var learningRate: Float = 0.002
    public var clip: Float = 1
    /// Candidates K of the sampled softmax per window; with V ≤ K the full softmax is used.
    public var samples = 512
    /// The adaptive softmax's cutoffs instead of the sampled softmax (nil: sampled).
    public var adaptiveCutoffs: [Int]?
    /// Every parameter starts uniform in ±initRange (softmax bias 0).
    public var initRange: Float = 0.1
    public var seed: UInt64 = 1
    /// Words seen fewer times than this in the averaging pass get the fallback vector.
    public var minOccurrences = 1

    public init() {}
}

/// One progress report of `BiLM.train`.
public struct BiLMProgress: Sendable {
    public var epoch: Int
    /// Windows done in this epoch, and per epoch.
    public var window: Int
    public var windows: Int
    /// Mean training loss of the two directions over the windows since the last report (nats).
    public var loss: Double
    public var tokensPerSecond: Double
}

/// Word vectors from a bidirectional LSTM language model: train a `BiLanguageModel` on a token
/// stream, then average its `[forward ; backward]` hidden states over every occurrence of each
/// word type (the "BiLSTM LM" source of Verwimp & Bellegarda 2019).
///
/// Training: the forward LM reads the stream, the backward LM the reversed stream, each in
/// discourse batches (`DiscourseBatcher`: B columns, BPTT windows, state carried); per window
/// both directions share one draw of sampled-softmax candidates from the unigram^0.75
/// distribution of the stream, the loss is the sum of the two mean losses, gradients are
/// clipped to a global norm and Adam takes a step.
///
/// Averaging: both directions read the whole stream again (no dropout), split into B contiguous
/// columns of ⌈n/B⌉ tokens (the last one padded at its end; padding is never averaged). The
/// vector of position i is `[h_fwd(i) ; h_bwd(i)]`: the forward state after reading tokens
/// 0…i, the backward state after reading tokens n−1…i (both include the word itself). See
/// `ContextualAverager` for the fallback.
///
///     let model = BiLM.train(ids: encoded.ids, vocabulary: vocab, options: options)
///     let (table, report) = BiLM.contextualVectors(model: model, ids: encoded.ids, vocabulary: vocab,
///                                                  minOccurrences: 1)
///     try EmbeddingFile.write(table, to: "bilm.vec")
public enum BiLM {
    /// Trains a BiLM on `ids` (vocabulary ids, `<eos>` between sentences).
    public static func train(ids: [Int32], vocabulary: Vocabulary, options o: BiLMOptions,
                             progress: ((BiLMProgress) -> Void)? = nil) -> BiLanguageModel {
        precondition(ids.count >= 2, "BiLM: at least two tokens are needed")
        let V = vocabulary.count
        var rng = RNG(seed: o.seed)
        let B = max(1, min(o.batchSize, ids.count / 2))
        let model = BiLanguageModel(vocabularySize: V, embeddingSize: o.embeddingSize, hiddenSize: o.hiddenSize,
                                    batchSize: B, maxSteps: o.bptt, initRange: o.initRange, adaptiveCutoffs: o.adaptiveCutoffs, rng: &rng)
        let sampler = CandidateSampler(ids: ids, vocabularySize: V, samples: o.samples)
        model.logExpectedCount = sampler.logExpectedCount
        let batchers = [DiscourseBatcher(tokens: ids, batchSize: B, bptt: o.bptt),
                        DiscourseBatcher(tokens: Array(ids.reversed()), batchSize: B, bptt: o.bptt)]
        let adam = Adam()
        let clock = ContinuousClock()
        let windows = batchers[0].windowCount
        let reportEvery = max(1, windows / 20)
        for epoch in stride(from: 1, through: o.epochs, by: 1) {
            model.resetState()
            var lossSum: Double = 0, lossCount = 0, tokens = 0
            var t0 = clock.now
            for w in 0..<windows {
                let candidates = o.adaptiveCutoffs == nil ? sampler.draw(&rng) : []
                model.store.zeroGradients()
                var loss: Double = 0
                for d in 0..<2 {
                    let window = batchers[d].window(w)
                    loss += model.forward(direction: d, inputs: window.inputs, targets: window.targets,
                                          steps: window.length, candidates: candidates)
                    model.backward(direction: d)
                    if d == 0 { tokens += window.length * window.batchSize }
                }
                model.store.clipGradientNorm(maxNorm: o.clip)
                adam.step(model.store, learningRate: o.learningRate)
                lossSum += loss / 2
                lossCount += 1
                if let progress, (w + 1) % reportEvery == 0 || w + 1 == windows {
                    let seconds = (clock.now - t0).seconds
                    progress(BiLMProgress(epoch: epoch, window: w + 1, windows: windows, loss: lossSum / Double(lossCount),
                                          tokensPerSecond: Double(tokens) / max(seconds, 1e-9)))
                    lossSum = 0; lossCount = 0; tokens = 0; t0 = clock.now
                }
            }
        }
        return model
    }

    /// Averages `model`'s `[forward ; backward]` states over every occurrence of each word of
    /// `ids` (see the type's discussion); row i of the table is `vocabulary.token(i)`.
    public static func contextualVectors(model: BiLanguageModel, ids: [Int32], vocabulary: Vocabulary,
                                         minOccurrences: Int) -> (table: EmbeddingTable, report: ContextualReport) {
        let H = model.hiddenSize, B = model.batchSize, T = model.maxSteps, n = ids.count
        var averager = ContextualAverager(vocabularySize: vocabulary.count, dimension: 2 * H)
        for id in ids { averager.countOccurrence(of: id) }
        let rows = (n + B - 1) / B  // tokens per column
        var window = [Int32](repeating: 0, count: T * B)
        for d in 0..<2 {
            model.resetState()
            var start = 0
            while start < rows {
                let steps = min(T, rows - start)
                // window[t·B + b] = stream[b·rows + start + t] (padding 0 past the end)
                for t in 0..<steps {
                    for b in 0..<B {
                        let j = b * rows + start + t
                        window[t * B + b] = j < n ? ids[d == 0 ? j : n - 1 - j] : 0
                    }
                }
                let hd = window.withUnsafeBufferPointer { model.encode(direction: d, inputs: $0.baseAddress!, steps: steps) }
                for t in 0..<steps {
                    for b in 0..<B {
                        let j = b * rows + start + t
                        guard j < n else { continue }
                        let i = d == 0 ? j : n - 1 - j
                        averager.add(word: ids[i], values: hd + (t * B + b) * H, count: H, at: d * H)
                    }
                }
                start += steps
            }
        }
        return averager.result(words: vocabulary.tokens, vocabularyHash: vocabulary.contentHash, minOccurrences: minOccurrences)
    }
}

/// Draws the sampled softmax's candidates from the unigram^0.75 distribution of a token stream.
struct CandidateSampler {
    let vocabularySize: Int
    let samples: Int
    /// Whether every id is a candidate (V ≤ samples): the exact full softmax.
    let full: Bool
    /// Cumulative unigram^0.75 probabilities, [V].
    let cumulative: [Double]
    /// log(K·Q(id)) (0 for the full softmax; 0 for ids that never occur, which are never drawn
    /// and never targets).
    let logExpectedCount: [Float]

    init(ids: [Int32], vocabularySize V: Int, samples: Int) {
        vocabularySize = V
        full = V <= samples
        self.samples = full ? V : samples
        var counts = [Double](repeating: 0, count: V)
        for id in ids { counts[Int(id)] += 1 }
        let weights = counts.map { pow($0, 0.75) }
        let total = weights.reduce(0, +)
        var c: [Double] = []
        c.reserveCapacity(V)
        var running = 0.0
        for w in weights { running += w / total; c.append(running) }
        cumulative = c
        logExpectedCount = full ? [Float](repeating: 0, count: V)
            : weights.map { $0 > 0 ? Float(log(Double(samples) * $0 / total)) : 0 }
    }

    /// K candidate ids (all ids in order for the full softmax), with replacement.
    func draw(_ rng: inout RNG) -> [Int32] {
        if full { return (0..<vocabularySize).map { Int32($0) } }
        return (0..<samples).map { _ in
            let u = Double(rng.next() >> 11) * 0x1p-53
            var lo = 0, hi = vocabularySize - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if cumulative[mid] <= u { lo = mid + 1 } else { hi = mid }
            }
            return Int32(lo)
        }
    }
}
