import Corpus

/// The windows of one training epoch (one optimizer step each), in order. Window `i` is a pure function of the data, the
/// configuration and the epoch number, so a resumed run can start at any window.
public protocol TrainingEpoch {
    var windowCount: Int { get }
    /// The real targets of the whole epoch.
    var targetCount: Int { get }
    func window(_ index: Int) -> BatchWindow
}

/// Discourse mode: the training stream cut into B columns and BPTT windows exactly as
/// `DiscourseBatcher` (pytorch/examples `batchify`/`get_batch`; the last partial window kept);
/// the state is zeroed at the start of the epoch and carried across windows. The order is the
/// same every epoch.
public struct DiscourseTrainingEpoch: TrainingEpoch {
    public let batcher: DiscourseBatcher

    public init(tokens: [Int32], batchSize: Int, bptt: Int) {
        batcher = DiscourseBatcher(tokens: tokens, batchSize: batchSize, bptt: bptt)
    }

    public var windowCount: Int { batcher.windowCount }
    public var targetCount: Int { batcher.targetCount }

    public func window(_ index: Int) -> BatchWindow {
        let w = batcher.window(index)
        return BatchWindow(steps: w.length, inputs: w.inputs, targets: w.targets, mask: nil,
                              resetsState: index == 0, targetCount: w.length * w.batchSize)
    }
}

/// Sentence mode: sentences grouped B at a time by `SentenceBatcher` (sorted by length so that a
/// batch holds similar lengths, the batch order shuffled with a seed derived from the run's
/// seed and the epoch), each batch padded to the longest sentence (mask 0 at padding) and to B
/// columns. A batch longer than the BPTT length is trained in consecutive windows of at most
/// `bptt` steps with the state carried between them (truncated BPTT within a sentence); the
/// state is zeroed at the start of every batch.
///
///     batch (B = 2): "a b c d <eos>", "e <eos>"; bptt 3
///     window 0 (resets): inputs <eos> a b / <eos> e <eos>·   targets a b c / e <eos> pad
///     window 1 (carries): inputs c d / pad pad              targets d <eos> / pad pad
public final class SentenceTrainingEpoch: TrainingEpoch {
    public let batcher: SentenceBatcher
    public let batchSize: Int
    public let bptt: Int
    /// (batch, first row) of every window.
    private let starts: [(batch: Int, row: Int)]
    private var cached: (index: Int, batch: SentenceBatcher.Batch)?

    /// - Parameter seed: the batch order's shuffle seed (see `shuffleSeed(runSeed:epoch:)`).
    public init(sentences: [[Int32]], batchSize: Int, bptt: Int, seed: UInt64) {
        batcher = SentenceBatcher(sentences: sentences, batchSize: batchSize, sortByLength: true, shuffleSeed: seed)
        self.batchSize = batchSize
        self.bptt = bptt
        var starts: [(Int, Int)] = []
        for b in 0..<batcher.batchCount {
            let length = batcher.batch(b).length
            var row = 0
            while row < length { starts.append((b, row)); row += bptt }
        }
        self.starts = starts
    }

    /// The shuffle seed of 1-based `epoch` for a run seeded `runSeed`.
    public static func shuffleSeed(runSeed: UInt64, epoch: Int) -> UInt64 {
        runSeed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch)
    }

    public var windowCount: Int { starts.count }
    public var targetCount: Int { batcher.targetCount }

    public func window(_ index: Int) -> BatchWindow {
        let (b, row) = starts[index]
        let batch: SentenceBatcher.Batch
        if let cached, cached.index == b { batch = cached.batch } else {
            batch = batcher.batch(b)
            cached = (b, batch)
        }
        let steps = min(bptt, batch.length - row)
        let B = batchSize, n = batch.count
        var inputs = [Int32](repeating: batcher.paddingID, count: steps * B)
        var targets = inputs
        var mask = [Float](repeating: 0, count: steps * B)
        var count = 0
        for t in 0..<steps {
            for c in 0..<n {
                let from = (row + t) * n + c
                inputs[t * B + c] = batch.inputs[from]
                targets[t * B + c] = batch.targets[from]
                mask[t * B + c] = batch.mask[from]
                if batch.mask[from] != 0 { count += 1 }
            }
        }
        return BatchWindow(steps: steps, inputs: inputs, targets: targets, mask: mask,
                              resetsState: row == 0, targetCount: count)
    }
}
