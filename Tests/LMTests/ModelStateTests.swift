import XCTest
import NN
import TestFixtures
@testable import LM

/// State carried across windows, evaluation helpers, and one SGD step.
final class ModelStateTests: XCTestCase {
    let config = ModelConfig(vocabularySize: 11, embeddingSize: 5, hiddenSize: 6, layers: 2,
                             dropout: 0, tieWeights: false, initRange: 0.3)

    func randomIds(_ n: Int, _ rng: inout RNG) -> [Int32] { (0..<n).map { _ in Int32(rng.int(below: 11)) } }

    /// Two windows of T from the carried state score exactly like one window of 2T.
    func testStateCarriesAcrossWindows() {
        let T = 4, B = 3
        var rng = RNG(seed: 3)
        let x = randomIds(2 * T * B, &rng), y = randomIds(2 * T * B, &rng)
        let long = LanguageModel(config: config, batchSize: B, maxSteps: 2 * T, rng: &rng)
        var seed = RNG(seed: 3)
        let short = LanguageModel(config: config, batchSize: B, maxSteps: T, rng: &seed)
        short.store.values.baseAddress!.update(from: long.store.values.baseAddress!, count: long.store.count)

        let whole = long.forward(inputs: x, targets: y, steps: 2 * T, training: false, rng: &rng)
        let wholeLogProbs = Array(long.targetLogProbabilities)
        let half = T * B
        let first = short.forward(inputs: Array(x[..<half]), targets: Array(y[..<half]), steps: T, training: false, rng: &rng)
        let firstLogProbs = Array(short.targetLogProbabilities)
        let second = short.forward(inputs: Array(x[half...]), targets: Array(y[half...]), steps: T, training: false, rng: &rng)
        let secondLogProbs = Array(short.targetLogProbabilities)

        XCTAssertEqual(whole.count, 2 * half)
        XCTAssertEqual(first.count + second.count, whole.count)
        XCTAssertEqual(first.lossSum + second.lossSum, whole.lossSum, accuracy: 1e-4 * whole.lossSum)
        let pieces = firstLogProbs + secondLogProbs
        for i in 0..<pieces.count { XCTAssertEqual(pieces[i], wholeLogProbs[i], accuracy: 1e-5, "position \(i)") }
        // The loss is the sum of −log p(target).
        XCTAssertEqual(-wholeLogProbs.reduce(0) { $0 + Double($1) }, whole.lossSum, accuracy: 1e-4 * whole.lossSum)

        // Without the carried state, the second window scores differently; after a reset, like the first.
        short.resetState()
        let fresh = short.forward(inputs: Array(x[half...]), targets: Array(y[half...]), steps: T, training: false, rng: &rng)
        XCTAssertNotEqual(fresh.lossSum, second.lossSum, accuracy: 1e-6)
        short.resetState()
        let again = short.forward(inputs: Array(x[..<half]), targets: Array(y[..<half]), steps: T, training: false, rng: &rng)
        XCTAssertEqual(again.lossSum, first.lossSum)
    }

    /// Masked positions are not counted and have log-probability 0.
    func testMaskExcludesPositions() {
        var rng = RNG(seed: 4)
        let model = LanguageModel(config: config, batchSize: 2, maxSteps: 2, rng: &rng)
        let x: [Int32] = [1, 2, 3, 4], y: [Int32] = [5, 6, 7, 8]
        let all = model.forward(inputs: x, targets: y, steps: 2, training: false, rng: &rng)
        let allLogProbs = Array(model.targetLogProbabilities)
        model.resetState()
        let some = model.forward(inputs: x, targets: y, mask: [1, 0, 1, 0], steps: 2, training: false, rng: &rng)
        model.resetState()
        XCTAssertEqual(all.count, 4)
        XCTAssertEqual(some.count, 2)
        XCTAssertEqual(Array(model.targetLogProbabilities)[1], 0)
        XCTAssertEqual(some.lossSum, -Double(allLogProbs[0] + allLogProbs[2]), accuracy: 1e-5)
    }

    /// Generation: the next-token distribution sums to one and agrees with the scored target.
    func testNextTokenLogProbabilities() {
        var rng = RNG(seed: 6)
        let model = LanguageModel(config: config, batchSize: 1, maxSteps: 3, rng: &rng)
        model.resetState()
        _ = model.nextTokenLogProbabilities(inputs: [2])
        let logp = model.nextTokenLogProbabilities(inputs: [7])
        XCTAssertEqual(logp.count, 11)
        XCTAssertEqual(logp.reduce(0) { $0 + exp(Double($1)) }, 1, accuracy: 1e-5)
        model.resetState()
        _ = model.forward(inputs: [2, 7], targets: [7, 9], steps: 2, training: false, rng: &rng)
        XCTAssertEqual(model.targetLogProbabilities[1], logp[9], accuracy: 1e-5)
    }

    /// One SGD step on a batch lowers the loss on that batch, by about lr·|g|² for a small lr.
    func testOneSGDStepLowersTheLoss() {
        var rng = RNG(seed: 8)
        let T = 5, B = 4
        let x = randomIds(T * B, &rng), y = randomIds(T * B, &rng)
        let model = LanguageModel(config: config, batchSize: B, maxSteps: T, rng: &rng)
        model.store.zeroGradients()
        let before = model.forward(inputs: x, targets: y, steps: T, training: true, rng: &rng)
        model.backward()
        let norm = Double(model.store.gradientNorm())
        let lr: Float = 0.5
        SGD().step(model.store, learningRate: lr)
        model.resetState()
        let after = model.forward(inputs: x, targets: y, steps: T, training: true, rng: &rng)
        let b = before.lossSum / Double(before.count), a = after.lossSum / Double(after.count)
        XCTAssertLessThan(a, b)
        XCTAssertEqual(b - a, Double(lr) * norm * norm, accuracy: 0.3 * Double(lr) * norm * norm)
    }
}

/// `evaluate` (decoder fused with the loss, no logits) scores like `forward(training: false)`.
final class ModelEvaluateTests: XCTestCase {
    func checkEvaluateMatchesForward(tied: Bool, masked: Bool) {
        let config = ModelConfig(vocabularySize: 23, embeddingSize: 5, hiddenSize: tied ? 7 : 6, layers: 2,
                                 dropout: 0.3, tieWeights: tied, initRange: 0.5)
        let T = 4, B = 9, N = T * B  // N ≥ 32: two threads split the rows
        var rng = RNG(seed: 9)
        let model = LanguageModel(config: config, batchSize: B, maxSteps: T, rng: &rng)
        let x = (0..<(2 * N)).map { _ in Int32(rng.int(below: 23)) }, y = (0..<(2 * N)).map { _ in Int32(rng.int(below: 23)) }
        let mask: [Float]? = masked ? (0..<N).map { $0 % 4 == 1 ? 0 : 1 } : nil
        var scores: [(loss: Double, count: Int, logProbs: [Float])] = []
        for useEvaluate in [false, true] {
            model.resetState()
            for w in 0..<2 {  // two windows: the carried state must match too
                let xs = Array(x[(w * N)..<((w + 1) * N)]), ys = Array(y[(w * N)..<((w + 1) * N)])
                let (loss, count) = useEvaluate
                    ? model.evaluate(inputs: xs, targets: ys, mask: mask, steps: T)
                    : model.forward(inputs: xs, targets: ys, mask: mask, steps: T, training: false, rng: &rng)
                scores.append((loss, count, Array(model.targetLogProbabilities)))
            }
        }
        for w in 0..<2 {
            let (a, b) = (scores[w], scores[w + 2])
            XCTAssertEqual(b.count, a.count)
            XCTAssertEqual(b.count, masked ? 27 : 36)
            XCTAssertEqual(b.loss, a.loss, accuracy: 1e-5 * a.loss, "window \(w)")
            XCTAssertEqual(b.logProbs.count, N)
            for i in 0..<N { XCTAssertEqual(b.logProbs[i], a.logProbs[i], accuracy: 1e-5, "window \(w), position \(i)") }
        }
    }

    func testEvaluateMatchesForward() {
        checkEvaluateMatchesForward(tied: false, masked: false)
        checkEvaluateMatchesForward(tied: true, masked: true)  // with the projection to E
    }

    /// A model that only evaluates never allocates the `[N, V]` logits; a training step after
    /// an evaluation gives the gradient a fresh model gives.
    func testEvaluateNeedsNoLogitsAndTrainingFollows() {
        let config = ModelConfig(vocabularySize: 17, embeddingSize: 4, hiddenSize: 5, layers: 1,
                                 dropout: 0, tieWeights: false, initRange: 0.5)
        var rng = RNG(seed: 4)
        let x = (0..<6).map { _ in Int32(rng.int(below: 17)) }, y = (0..<6).map { _ in Int32(rng.int(below: 17)) }
        var seedA = RNG(seed: 2), seedB = RNG(seed: 2)
        let evaluated = LanguageModel(config: config, batchSize: 2, maxSteps: 3, rng: &seedA)
        let fresh = LanguageModel(config: config, batchSize: 2, maxSteps: 3, rng: &seedB)
        evaluated.evaluate(inputs: x, targets: y, steps: 3)
        XCTAssertFalse(evaluated.holdsLogits)
        evaluated.resetState()
        for model in [evaluated, fresh] {
            model.store.zeroGradients()
            model.forward(inputs: x, targets: y, steps: 3, training: true, rng: &rng)
            model.backward()
        }
        XCTAssertTrue(evaluated.holdsLogits)
        XCTAssertEqual(Array(evaluated.store.gradients), Array(fresh.store.gradients))
        XCTAssertTrue(evaluated.store.gradients.contains { $0 != 0 })
    }

    func testEvaluateMatchesForwardOnTwoThreads() {
        onTwoThreadsSplittingEverything { checkEvaluateMatchesForward(tied: false, masked: true) }
    }
}
