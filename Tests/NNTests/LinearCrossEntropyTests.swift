import XCTest
import TestFixtures
@testable import NN

/// The fused decoder loss of evaluation against double-precision loops over the whole logits.
final class LinearCrossEntropyTests: XCTestCase {
    struct Case {
        var n: Int, K: Int, V: Int
        var input: [Float], weight: [Float], bias: [Float]?, targets: [Int32], mask: [Float]?
    }

    /// Random inputs whose logits grow with the column index in some rows and shrink in others,
    /// so that a row's maximum moves between blocks in both directions (the online rescaling).
    func makeCase(n: Int, K: Int, V: Int, bias: Bool, mask: Bool, seed: UInt64) -> Case {
        var rng = RNG(seed: seed)
        let input = (0..<(n * K)).map { _ in rng.uniform(-1, 1) }
        var weight = (0..<(V * K)).map { _ in rng.uniform(-1, 1) }
        for j in 0..<V {  // column j's first weight ramps from -6 to +6
            weight[j * K] = -6 + 12 * Float(j) / Float(V - 1)
        }
        return Case(n: n, K: K, V: V, input: input, weight: weight,
                    bias: bias ? (0..<V).map { _ in rng.uniform(-2, 2) } : nil,
                    targets: (0..<n).map { _ in Int32(rng.int(below: V)) },
                    mask: mask ? (0..<n).map { _ in rng.uniform(0, 1) < 0.3 ? 0 : 1 } : nil)
    }

    /// log p(target) per row, from logits computed in Double.
    func reference(_ c: Case) -> [Double] {
        (0..<c.n).map { r in
            let z = (0..<c.V).map { j in
                (0..<c.K).reduce(Double(c.bias?[j] ?? 0)) { $0 + Double(c.input[r * c.K + $1]) * Double(c.weight[j * c.K + $1]) }
            }
            let mx = z.max()!
            let lse = mx + log(z.reduce(0) { $0 + exp($1 - mx) })
            return z[Int(c.targets[r])] - lse
        }
    }

    func check(_ c: Case, blockRows: Int? = nil, blockColumns: Int? = nil, rowIndependent: Bool = false, _ label: String) {
        let fused = LinearCrossEntropy(inputSize: c.K, classCount: c.V)
        if let blockRows { fused.blockRows = blockRows }
        if let blockColumns { fused.blockColumns = blockColumns }
        var logProbs = [Float](repeating: .nan, count: c.n)
        let (loss, count) = c.input.withUnsafeBufferPointer { x in
            c.weight.withUnsafeBufferPointer { w in
                c.targets.withUnsafeBufferPointer { y in
                    logProbs.withUnsafeMutableBufferPointer { lp in
                        withOptionalPointer(c.bias) { b in
                            withOptionalPointer(c.mask) { m in
                                fused.forward(logProbs: lp.baseAddress!, input: x.baseAddress!, weight: w.baseAddress!,
                                              bias: b, targets: y.baseAddress!, mask: m, n: c.n, rowIndependent: rowIndependent)
                            }
                        }
                    }
                }
            }
        }
        let expected = reference(c)
        var expectedLoss = 0.0, expectedCount = 0.0
        for r in 0..<c.n {
            let m = Double(c.mask?[r] ?? 1)
            if m == 0 {
                XCTAssertEqual(logProbs[r], 0, "\(label): masked row \(r)")
                continue
            }
            XCTAssertEqual(Double(logProbs[r]), expected[r], accuracy: 2e-5 * max(1, abs(expected[r])), "\(label): row \(r)")
            expectedLoss -= m * expected[r]
            expectedCount += m
        }
        XCTAssertEqual(count, expectedCount, "\(label): count")
        XCTAssertEqual(loss, expectedLoss, accuracy: 1e-5 * expectedLoss, "\(label): loss")
    }

    func testMatchesDoubleLoopsAcrossBlocks() {
        // Blocks of 8 rows × 16 columns: partial blocks in both directions, the target in every block.
        check(makeCase(n: 37, K: 5, V: 45, bias: true, mask: true, seed: 1), blockRows: 8, blockColumns: 16, "bias, mask")
        check(makeCase(n: 21, K: 3, V: 70, bias: false, mask: false, seed: 2), blockRows: 5, blockColumns: 32, "no bias, no mask")
        check(makeCase(n: 9, K: 7, V: 13, bias: true, mask: false, seed: 3), blockRows: 16, blockColumns: 8, "tail columns")
        check(makeCase(n: 12, K: 4, V: 300, bias: true, mask: true, seed: 4), "default blocks")
    }

    func testMatchesDoubleLoopsOnTwoThreads() {
        onTwoThreadsSplittingEverything {
            check(makeCase(n: 70, K: 6, V: 90, bias: true, mask: true, seed: 5), blockRows: 16, blockColumns: 32, "two threads")
            check(makeCase(n: 33, K: 2, V: 17, bias: false, mask: false, seed: 6), "two threads, default blocks")
        }
    }

    /// The row-independent products (`PackedGEMM`) against the double loops, and each row's
    /// log-probability bitwise the same scored alone, among the others, or on two threads.
    func testRowIndependentProductsMatchDoubleLoopsAndDependOnTheRowAlone() {
        check(makeCase(n: 37, K: 5, V: 45, bias: true, mask: true, seed: 1), blockRows: 8, blockColumns: 16,
              rowIndependent: true, "row-independent, bias, mask")
        check(makeCase(n: 21, K: 3, V: 70, bias: false, mask: false, seed: 2), blockRows: 5, blockColumns: 32,
              rowIndependent: true, "row-independent, no bias, no mask")
        let c = makeCase(n: 29, K: 9, V: 200, bias: true, mask: false, seed: 9)
        func logProbs(rows: Range<Int>) -> [Float] {
            let fused = LinearCrossEntropy(inputSize: c.K, classCount: c.V)
            var out = [Float](repeating: .nan, count: rows.count)
            let input = Array(c.input[(rows.lowerBound * c.K)..<(rows.upperBound * c.K)])
            fused.forward(logProbs: &out, input: input, weight: c.weight, bias: c.bias!,
                          targets: Array(c.targets[rows]), mask: nil, n: rows.count, rowIndependent: true)
            return out
        }
        let all = logProbs(rows: 0..<c.n)
        for r in [0, 5, 17, 28] { XCTAssertEqual(logProbs(rows: r..<(r + 1)), [all[r]], "row \(r) alone") }
        XCTAssertEqual(Array(logProbs(rows: 3..<20)[2...]), Array(all[5..<20]), "rows 5..<20 among 3..<20")
        XCTAssertEqual(onTwoThreadsSplittingEverything { logProbs(rows: 0..<c.n) }, all, "two threads")
    }

    /// Bit for bit the same on one thread and on two with every split forced.
    func testSameResultOnAnyThreadCount() {
        let c = makeCase(n: 50, K: 6, V: 130, bias: true, mask: true, seed: 8)
        func run() -> (Double, [Float]) {
            let fused = LinearCrossEntropy(inputSize: c.K, classCount: c.V)
            fused.blockRows = 16
            fused.blockColumns = 32
            var logProbs = [Float](repeating: 0, count: c.n)
            let (loss, _) = fused.forward(logProbs: &logProbs, input: c.input, weight: c.weight, bias: c.bias!,
                                          targets: c.targets, mask: c.mask!, n: c.n)
            return (loss, logProbs)
        }
        let one = run(), two = onTwoThreadsSplittingEverything { run() }
        XCTAssertEqual(one.0, two.0)
        XCTAssertEqual(one.1, two.1)
    }

    /// A NaN in a scored row's input makes the loss NaN (a diverged model is not hidden).
    func testNaNPropagates() {
        var c = makeCase(n: 4, K: 3, V: 40, bias: true, mask: false, seed: 9)
        c.input[5] = .nan  // row 1
        let fused = LinearCrossEntropy(inputSize: c.K, classCount: c.V)
        fused.blockColumns = 16
        var logProbs = [Float](repeating: 0, count: c.n)
        let (loss, _) = fused.forward(logProbs: &logProbs, input: c.input, weight: c.weight, bias: c.bias!,
                                      targets: c.targets, mask: nil, n: c.n)
        XCTAssertTrue(loss.isNaN)
        XCTAssertTrue(logProbs[1].isNaN)
        XCTAssertFalse(logProbs[0].isNaN)
    }

    /// The loss does not depend on the thread count or the block sizes beyond rounding, and
    /// per row it equals `SoftmaxCrossEntropy` after `Linear` (the unfused path).
    func testAgreesWithUnfusedLayers() {
        let c = makeCase(n: 40, K: 8, V: 100, bias: true, mask: true, seed: 7)
        let linear = Linear(inputSize: c.K, outputSize: c.V)
        var logits = [Float](repeating: 0, count: c.n * c.V), lse = [Float](repeating: 0, count: c.n)
        linear.forward(output: &logits, input: c.input, weight: c.weight, bias: c.bias!, n: c.n)
        let (loss, count) = SoftmaxCrossEntropy(classCount: c.V).forward(logSumExp: &lse, logits: logits, targets: c.targets,
                                                                          mask: c.mask!, n: c.n)
        let fused = LinearCrossEntropy(inputSize: c.K, classCount: c.V)
        fused.blockColumns = 32
        var logProbs = [Float](repeating: 0, count: c.n)
        let (fusedLoss, fusedCount) = fused.forward(logProbs: &logProbs, input: c.input, weight: c.weight, bias: c.bias!,
                                                    targets: c.targets, mask: c.mask!, n: c.n)
        XCTAssertEqual(fusedCount, count)
        XCTAssertEqual(fusedLoss, loss, accuracy: 1e-5 * loss)
        for r in 0..<c.n where c.mask![r] != 0 {
            XCTAssertEqual(logProbs[r], logits[r * c.V + Int(c.targets[r])] - lse[r], accuracy: 1e-5, "row \(r)")
        }
    }
}

private func withOptionalPointer<R>(_ array: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let array else { return body(nil) }
    return array.withUnsafeBufferPointer { body($0.baseAddress!) }
}
