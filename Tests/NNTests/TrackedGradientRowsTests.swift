import XCTest
@testable import NN
import TestFixtures

/// `ParameterStore.trackGradientRows`: zeroing, the norm, clipping and SGD skip the rows of a
/// table no backward pass noted, with results bitwise those of the dense passes.
final class TrackedGradientRowsTests: XCTestCase {
    /// "pre" [37], "table" [300, 70] (21,000 elements: two norm blocks, not aligned to a block or
    /// to the 4-way unrolling) and "post" [5]; the table tracked or not.
    func makeStore(tracked: Bool) -> ParameterStore {
        let s = ParameterStore()
        s.register("pre", shape: [37])
        let table = s.register("table", shape: [300, 70])
        s.register("post", shape: [5])
        if tracked { s.trackGradientRows(table, rowLength: 70) }
        var rng = RNG(seed: 3)
        for i in 0..<s.count { s.values[i] = rng.uniform(-1, 1) }
        return s
    }

    /// Writes the same gradients into both stores, as a backward pass would: every element of
    /// "pre" and "post", and `ids` rows of the table (repeated ids add twice), noted in `tracked`.
    func backward(_ stores: [ParameterStore], ids: [Int32], rng: inout RNG) {
        let table = stores[0]["table"]
        let dense = [stores[0]["pre"].range, stores[0]["post"].range]
        for range in dense {
            for i in range { let g: Float = rng.uniform(-2, 2); for s in stores { s.gradients[i] += g } }
        }
        for id in ids {
            for j in 0..<70 {
                let g: Float = rng.uniform(-2, 2)
                for s in stores { s.gradients[table.offset + Int(id) * 70 + j] += g }
            }
        }
        for s in stores { ids.withUnsafeBufferPointer { s.noteGradientRows(table, ids: $0.baseAddress!, count: ids.count) } }
    }

    /// "equal" or where the two arrays first differ in their bits (short, unlike the arrays).
    func compare(_ a: [Float], _ b: [Float]) -> String {
        guard a.count == b.count else { return "\(a.count) vs \(b.count) elements" }
        guard let i = a.indices.first(where: { a[$0].bitPattern != b[$0].bitPattern }) else { return "equal" }
        return "element \(i): \(a[i]) vs \(b[i])"
    }

    /// Several steps of zero → backward on changing rows → norm → clip → SGD step: the tracked
    /// store's norms, gradients and values equal the untracked one's bit for bit, also with
    /// momentum or weight decay (which take the dense path) and on two threads.
    func checkSteps(_ makeOptimizer: () -> SGD, clip: Float, file: StaticString = #filePath, line: UInt = #line) {
        let tracked = makeStore(tracked: true), plain = makeStore(tracked: false)
        let a = makeOptimizer(), b = makeOptimizer()
        var rng = RNG(seed: 11)
        let rowSets: [[Int32]] = [[0, 299, 5, 5], [233, 234, 235, 1, 299], [117], [], [3, 118, 119, 7, 3, 3, 260]]
        for ids in rowSets {
            tracked.zeroGradients()
            plain.zeroGradients()
            XCTAssertEqual(compare(tracked.copyOfGradients(), plain.copyOfGradients()), "equal", "after zeroing", file: file, line: line)
            backward([tracked, plain], ids: ids, rng: &rng)
            XCTAssertEqual(tracked.gradientNorm().bitPattern, plain.gradientNorm().bitPattern, "norm", file: file, line: line)
            XCTAssertEqual(tracked.clipGradientNorm(maxNorm: clip).bitPattern, plain.clipGradientNorm(maxNorm: clip).bitPattern,
                           file: file, line: line)
            XCTAssertEqual(compare(tracked.copyOfGradients(), plain.copyOfGradients()), "equal", "after clipping", file: file, line: line)
            a.step(tracked, learningRate: 0.7)
            b.step(plain, learningRate: 0.7)
            XCTAssertEqual(compare(tracked.copyOfValues(), plain.copyOfValues()), "equal", "after the step", file: file, line: line)
        }
        XCTAssertNotEqual(compare(tracked.copyOfValues(), makeStore(tracked: false).copyOfValues()), "equal", "nothing trained",
                          file: file, line: line)
    }

    func testTrackedRowsGiveTheDenseResultsBitwise() {
        checkSteps({ SGD() }, clip: 5)          // clipping scales
        checkSteps({ SGD() }, clip: 1e9)        // clipping leaves the gradients
        checkSteps({ SGD(momentum: 0.9) }, clip: 5)
        checkSteps({ SGD(weightDecay: 0.1) }, clip: 5)
        onTwoThreadsSplittingEverything {
            checkSteps({ SGD() }, clip: 5)
            checkSteps({ SGD(momentum: 0.9) }, clip: 5)
        }
    }

    /// The norm skips the unnoted rows: with a nonzero value planted in an unnoted row (which a
    /// correct caller never leaves), the tracked norm does not see it and the untracked one does.
    func testUnnotedRowsAreSkipped() {
        let s = makeStore(tracked: true)
        let table = s["table"]
        s.zeroGradients()
        var id: Int32 = 4
        s.noteGradientRows(table, ids: &id, count: 1)
        s.gradients[table.offset + 4 * 70] = 3
        s.gradients[table.offset + 9 * 70] = 4   // row 9 not noted
        XCTAssertEqual(s.gradientNorm(), 3)
        s.forgetGradientRows()
        XCTAssertEqual(s.gradientNorm(), 5)
        s.zeroGradients()   // clears every row once forgotten
        XCTAssertEqual(s.copyOfGradients().filter { $0 != 0 }.count, 0)
    }
}
