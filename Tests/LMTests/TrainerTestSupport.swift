import Corpus
import Foundation
import NN
import XCTest
@testable import LM

/// A temporary directory with a small learnable corpus, and helpers to train on it.
class TrainerTestCase: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "lm-trainer-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        BLASRuntime.setThreads(1)   // bitwise reproducibility
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Writes `lines` to `name` in the temporary directory and returns its path.
    @discardableResult
    func write(_ name: String, _ lines: [String]) throws -> String {
        let path = directory + "/" + name
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Sentences of 2–7 words walking through a cycle of 8 words: each word predicts the next,
    /// so a model can learn the corpus (the random start and length keep it from being trivial).
    static func cycleSentences(_ count: Int, seed: UInt64) -> [String] {
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "slept"]
        var rng = RNG(seed: seed)
        return (0..<count).map { _ in
            let start = rng.int(below: words.count), length = 2 + rng.int(below: 6)
            return (0..<length).map { words[(start + $0) % words.count] }.joined(separator: " ")
        }
    }

    /// Train, valid and test files of the cycle corpus.
    func writeCycleCorpus(train: Int = 120, valid: Int = 20, test: Int = 20) throws -> CorpusSelection {
        CorpusSelection(train: [try write("train.txt", Self.cycleSentences(train, seed: 1))],
                        valid: [try write("valid.txt", Self.cycleSentences(valid, seed: 2))],
                        test: [try write("test.txt", Self.cycleSentences(test, seed: 3))])
    }

    /// A request for a small model on `data` in `run` (inside the temporary directory).
    func request(_ data: CorpusSelection?, run: String = "run", epochs: Int = 2, batching: TrainingConfig.Batching = .discourse,
                 dropout: Float = 0, optimizer: TrainingConfig.OptimizerKind = .sgd, momentum: Float = 0,
                 learningRate: Float = 5, layers: Int = 2) -> TrainingRequest {
        var r = TrainingRequest(runPath: directory + "/" + run)
        r.data = data
        r.preset = .tiny
        r.overrides.embeddingSize = 8
        r.overrides.hiddenSize = 10
        r.overrides.layers = layers
        r.overrides.dropout = dropout
        r.overrides.batching = batching
        r.overrides.bptt = 5
        r.overrides.batchSize = 3
        r.overrides.optimizer = optimizer
        r.overrides.momentum = momentum
        r.overrides.learningRate = learningRate
        r.overrides.epochs = epochs
        r.overrides.schedule = .plateau(factor: 0.5)
        r.options.evaluationBatchSize = 2
        return r
    }

    /// Per-token log-probabilities of `ids` read from its start (after an `<eos>`), one token at
    /// a time with `nextTokenLogProbabilities` of a batch-1 copy of `model`'s parameters.
    static func tokenByToken(_ ids: ArraySlice<Int32>, config: RunConfig, parameters: ParameterStore,
                             previous: Int32 = Vocabulary.endOfSentenceID) throws -> [Double] {
        var rng = RNG(seed: 0)
        let m = try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 1, rng: &rng)
        m.store.values.baseAddress!.update(from: parameters.values.baseAddress!, count: parameters.count)
        m.resetState()
        var input = previous
        var out: [Double] = []
        for id in ids {
            let logp = m.nextTokenLogProbabilities(inputs: [input])
            out.append(Double(logp[Int(id)]))
            input = id
        }
        return out
    }
}
