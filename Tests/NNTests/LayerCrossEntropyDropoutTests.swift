import XCTest
import TestFixtures
import Foundation
@testable import NN
import NNTestSupport

final class LayerCrossEntropyDropoutTests: XCTestCase {
    func testCrossEntropyHandComputed() {
        // Row 0: logits [1, 2, 3], target 2 → log(e + e² + e³) - 3; row 1 masked out; row 2:
        // logits [0, 0, 0], target 0 → log 3.
        let ce = SoftmaxCrossEntropy(classCount: 3)
        let logits: [Float] = [1, 2, 3, 5, 5, 5, 0, 0, 0]
        var lse = [Float](repeating: 0, count: 3)
        let (loss, count) = ce.forward(logSumExp: &lse, logits: logits, targets: [2, 99, 0], mask: [1, 0, 1], n: 3)
        let row0 = log(exp(1.0) + exp(2.0) + exp(3.0)) - 3
        XCTAssertEqual(loss, row0 + log(3.0), accuracy: 1e-6)
        XCTAssertEqual(count, 2)
        // Large logits stay finite (log-sum-exp subtracts the max).
        let (big, _) = ce.forward(logSumExp: &lse, logits: [1000, 0, -1000], targets: [1], mask: nil, n: 1)
        XCTAssertEqual(big, 1000, accuracy: 1e-3)
        // A NaN logit (here in the SIMD part of a 10-wide row) makes the loss NaN, not silently finite.
        let nanRow: [Float] = [0, 1, 2, .nan, 4, 5, 6, 7, 8, 9]
        var lse1: [Float] = [0]
        XCTAssertTrue(SoftmaxCrossEntropy(classCount: 10).forward(logSumExp: &lse1, logits: nanRow, targets: [0], mask: nil, n: 1).loss.isNaN)
        // Gradient of the mean loss, hand computed: softmax - onehot, scaled.
        var d = [Float](repeating: 0, count: 9)
        _ = ce.forward(logSumExp: &lse, logits: logits, targets: [2, 99, 0], mask: [1, 0, 1], n: 3)
        ce.backward(dlogits: &d, logits: logits, logSumExp: lse, targets: [2, 99, 0], mask: [1, 0, 1], n: 3, scale: 0.5)
        let z = exp(1.0) + exp(2.0) + exp(3.0)
        let expected = [exp(1.0) / z, exp(2.0) / z, exp(3.0) / z - 1, 0, 0, 0, 1.0 / 3 - 1, 1.0 / 3, 1.0 / 3].map { 0.5 * $0 }
        for k in 0..<9 { XCTAssertEqual(Double(d[k]), expected[k], accuracy: 1e-6) }
    }

    func testCrossEntropyGradientAndAccumulation() {
        var rng = RNG(seed: 5)
        let N = 5, V = 13  // V not a multiple of 8 exercises the tail of the sum
        let ce = SoftmaxCrossEntropy(classCount: V)
        let logits = randomArray(N * V, &rng, scale: 3)
        let targets: [Int32] = [0, 12, 5, 5, 7], mask: [Float] = [1, 1, 0, 1, 1]
        var lse = [Float](repeating: 0, count: N), d = [Float](repeating: 0, count: N * V)
        ce.forward(logSumExp: &lse, logits: logits, targets: targets, mask: mask, n: N)
        ce.backward(dlogits: &d, logits: logits, logSumExp: lse, targets: targets, mask: mask, n: N, scale: 1)
        assertGradient("dlogits", values: logits, analytic: d) { l in
            var lse = [Float](repeating: 0, count: N)
            return ce.forward(logSumExp: &lse, logits: l, targets: targets, mask: mask, n: N).loss
        }
        let d1 = d
        ce.backward(dlogits: &d, logits: logits, logSumExp: lse, targets: targets, mask: mask, n: N, scale: 1)
        assertDoubled(d, d1, "dlogits")
    }

    /// The training path (`forward(exponentiating:)` then `backwardInPlace` with the kept
    /// inverse sums, what the LM runs) gives the same loss, count, log-sum-exps and log p(target)
    /// as `forward`, to the bit, and the same gradient as `backward` up to rounding; the in-place
    /// backward from the logits equals `backward` into zeros to the bit; masked rows become 0.
    func testExponentiatingForwardAndInPlaceBackwardMatchSeparatePasses() {
        var rng = RNG(seed: 17)
        let N = 4, V = 29
        let ce = SoftmaxCrossEntropy(classCount: V)
        let logits = randomArray(N * V, &rng, scale: 4)
        let targets: [Int32] = [28, 0, 3, 17], mask: [Float] = [1, 0, 1, 1]
        var lse = [Float](repeating: 0, count: N), logp = lse, d1 = [Float](repeating: 0, count: N * V)
        let (l1, c1) = ce.forward(logSumExp: &lse, logProbs: &logp, logits: logits, targets: targets, mask: mask, n: N)
        ce.backward(dlogits: &d1, logits: logits, logSumExp: lse, targets: targets, mask: mask, n: N, scale: 0.25)
        for r in 0..<N where mask[r] != 0 {
            XCTAssertEqual(Double(logp[r]), Double(logits[r * V + Int(targets[r])]) - Double(lse[r]), accuracy: 1e-6)
        }
        XCTAssertEqual(logp[1], 0, "masked row")

        var exps = logits, inverseSums = [Float](repeating: -1, count: N)
        var lse2 = [Float](repeating: 0, count: N), logp2 = lse2
        let (l2, c2) = ce.forward(exponentiating: &exps, inverseSums: &inverseSums, logSumExp: &lse2, logProbs: &logp2,
                                  targets: targets, mask: mask, n: N)
        XCTAssertEqual(l2, l1)
        XCTAssertEqual(c2, c1)
        XCTAssertEqual(lse2, lse)
        XCTAssertEqual(logp2, logp)
        XCTAssertEqual(inverseSums[1], 0, "masked row")
        ce.backwardInPlace(logits: &exps, logSumExp: lse2, inverseSums: inverseSums, targets: targets, mask: mask, n: N, scale: 0.25)
        for k in 0..<N * V { XCTAssertEqual(exps[k], d1[k], accuracy: 1e-6) }
        XCTAssertTrue(exps[V..<2 * V].allSatisfy { $0 == 0 }, "masked row zeroed")

        var inPlace = logits
        ce.backwardInPlace(logits: &inPlace, logSumExp: lse, inverseSums: nil, targets: targets, mask: mask, n: N, scale: 0.25)
        XCTAssertEqual(inPlace, d1)
        ce.backwardInPlace(logits: &inPlace, logSumExp: lse, inverseSums: nil, targets: targets, mask: mask, n: N, scale: 0)
        XCTAssertTrue(inPlace.allSatisfy { $0 == 0 }, "scale 0 zeroes every row")
    }

    /// Rows split over two threads give the same loss and log-probabilities, to the bit, as
    /// one thread (the loss is summed in row order).
    func testForwardDoesNotDependOnThreadCount() {
        var rng = RNG(seed: 3)
        let N = 64, V = 300
        let ce = SoftmaxCrossEntropy(classCount: V)
        let logits = randomArray(N * V, &rng, scale: 5)
        let targets = (0..<N).map { Int32(($0 * 37) % V) }
        XCTAssertLessThan(N * V, WorkerPool.shared.options.elementwiseMinimum, "the first run must be on one thread")
        func run() -> (Double, [Float], [Float]) {
            var exps = logits, inverseSums = [Float](repeating: 0, count: N), lse = inverseSums, logp = inverseSums
            let (loss, _) = ce.forward(exponentiating: &exps, inverseSums: &inverseSums, logSumExp: &lse, logProbs: &logp,
                                       targets: targets, mask: nil, n: N)
            return (loss, logp, exps)
        }
        let one = run(), three = onTwoThreadsSplittingEverything(run)
        XCTAssertEqual(one.0, three.0)
        XCTAssertEqual(one.1, three.1)
        XCTAssertEqual(one.2, three.2)
    }

    func testDropoutZeroIsIdentityAndEvalIsIdentity() {
        var rng = RNG(seed: 6)
        let x = randomArray(50, &rng)
        var y = [Float](repeating: 0, count: 50), m = [Float](repeating: 0, count: 50)
        Dropout(probability: 0).forward(output: &y, mask: &m, input: x, count: 50, rng: &rng, training: true)
        XCTAssertEqual(y, x)
        Dropout(probability: 0.5).forward(output: &y, mask: &m, input: x, count: 50, rng: &rng, training: false)
        XCTAssertEqual(y, x)
        var dx = [Float](repeating: 0, count: 50)
        Dropout(probability: 0.5).backward(dinput: &dx, doutput: x, mask: m, count: 50)
        XCTAssertEqual(dx, x)
    }

    func testDropoutScalingRateAndDeterminism() {
        let drop = Dropout(probability: 0.25)
        let n = 20_000
        let x = [Float](repeating: 1, count: n)
        var y = [Float](repeating: 0, count: n), m = [Float](repeating: 0, count: n)
        var rng = RNG(seed: 7)
        drop.forward(output: &y, mask: &m, input: x, count: n, rng: &rng, training: true)
        let zeros = y.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / Double(n), 0.25, accuracy: 0.015)
        XCTAssertTrue(y.allSatisfy { $0 == 0 || abs($0 - 4.0 / 3) < 1e-6 })  // kept units scaled by 1/(1-p)
        var rng2 = RNG(seed: 7), y2 = y
        drop.forward(output: &y2, mask: &m, input: x, count: n, rng: &rng2, training: true)
        XCTAssertEqual(y, y2)
        // Backward routes the gradient through the same mask.
        var dx = [Float](repeating: 0, count: n)
        drop.backward(dinput: &dx, doutput: x, mask: m, count: n)
        XCTAssertEqual(dx, y)
        // In place: the same gradient in the same buffer (x is all ones, so it becomes the mask).
        var g = [Float](repeating: 3, count: n)
        drop.backwardInPlace(&g, mask: m, count: n)
        XCTAssertEqual(g, m.map { 3 * $0 })
    }

    /// The counter-based mask: SplitMix64's published outputs, independence of neighbours, and
    /// the same mask whatever the thread count.
    func testDropoutMaskIsCounterBased() {
        // SplitMix64 from state 0 gives 0xE220A8397B1DCDAF, then 0x6E789E6AA1B965F4 (its
        // reference implementation); the uniform takes the top 24 bits.
        XCTAssertEqual(Dropout.uniform(key: 0, index: 0), Float(0xE220A8) * 0x1p-24)
        XCTAssertEqual(Dropout.uniform(key: 0, index: 1), Float(0x6E789E) * 0x1p-24)

        let drop = Dropout(probability: 0.25), n = 40_000
        func mask(seed: UInt64) -> [Float] {
            var m = [Float](repeating: -1, count: n), rng = RNG(seed: seed)
            drop.sampleMask(&m, count: n, rng: &rng, training: true)
            return m
        }
        let m = mask(seed: 3)
        // Neighbours are independent: both dropped with probability p².
        let bothDropped = (0..<(n - 1)).filter { m[$0] == 0 && m[$0 + 1] == 0 }.count
        XCTAssertEqual(Double(bothDropped) / Double(n - 1), 0.0625, accuracy: 0.006)
        XCTAssertNotEqual(m, mask(seed: 4))
        // One key per mask: the generator moves on by one draw.
        var rng = RNG(seed: 3), reference = RNG(seed: 3)
        var scratch = [Float](repeating: 0, count: 10)
        drop.sampleMask(&scratch, count: 10, rng: &rng, training: true)
        _ = reference.next()
        XCTAssertEqual(rng.next(), reference.next())
        // Two threads, every share split: the same mask.
        let split = onTwoThreadsSplittingEverything { mask(seed: 3) }
        XCTAssertEqual(split, m)
    }

    /// Finite differences through both dropout kinds, the mask fixed by reseeding the RNG.
    func testDropoutGradients() {
        var rng = RNG(seed: 16)
        let T = 3, B = 2, C = 4, n = T * B * C
        let drop = Dropout(probability: 0.3)
        let x = randomArray(n, &rng), dy = randomArray(n, &rng)
        for locked in [false, true] {
            func loss(_ x: [Float]) -> Double {
                var y = [Float](repeating: 0, count: n), m = [Float](repeating: 0, count: n), r = RNG(seed: 5)
                if locked {
                    drop.forwardLocked(output: &y, mask: &m, input: x, steps: T, batch: B, channels: C, rng: &r, training: true)
                } else {
                    drop.forward(output: &y, mask: &m, input: x, count: n, rng: &r, training: true)
                }
                return GradCheck.weightedSum(y, dy)
            }
            var y = [Float](repeating: 0, count: n), m = [Float](repeating: 0, count: n), r = RNG(seed: 5)
            var dx = [Float](repeating: 0, count: n)
            if locked {
                drop.forwardLocked(output: &y, mask: &m, input: x, steps: T, batch: B, channels: C, rng: &r, training: true)
                drop.backwardLocked(dinput: &dx, doutput: dy, mask: m, steps: T, batch: B, channels: C)
            } else {
                drop.forward(output: &y, mask: &m, input: x, count: n, rng: &r, training: true)
                drop.backward(dinput: &dx, doutput: dy, mask: m, count: n)
            }
            XCTAssertTrue(dx.contains(0), "some units dropped")
            assertGradient(locked ? "locked" : "standard", values: x, analytic: dx) { loss($0) }
            let dx1 = dx
            if locked {
                drop.backwardLocked(dinput: &dx, doutput: dy, mask: m, steps: T, batch: B, channels: C)
            } else {
                drop.backward(dinput: &dx, doutput: dy, mask: m, count: n)
            }
            assertDoubled(dx, dx1, locked ? "locked" : "standard")
        }
    }

    func testLockedDropoutSharesMaskAcrossTime() {
        let drop = Dropout(probability: 0.5)
        let T = 4, B = 3, C = 5
        var rng = RNG(seed: 8)
        let x = randomArray(T * B * C, &rng)
        var y = [Float](repeating: 0, count: T * B * C), m = [Float](repeating: 0, count: B * C)
        drop.forwardLocked(output: &y, mask: &m, input: x, steps: T, batch: B, channels: C, rng: &rng, training: true)
        XCTAssertTrue(m.contains(0) && m.contains(2))
        for t in 0..<T {
            for i in 0..<B * C { XCTAssertEqual(y[t * B * C + i], x[t * B * C + i] * m[i]) }
        }
        var dx = [Float](repeating: 0, count: T * B * C)
        drop.backwardLocked(dinput: &dx, doutput: x, mask: m, steps: T, batch: B, channels: C)
        XCTAssertEqual(dx, y)
        drop.forwardLocked(output: &y, mask: &m, input: x, steps: T, batch: B, channels: C, rng: &rng, training: false)
        XCTAssertEqual(y, x)
    }
}
