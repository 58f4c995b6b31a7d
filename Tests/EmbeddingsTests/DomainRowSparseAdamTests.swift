import XCTest
import NN
@testable import Embeddings

final class DomainRowSparseAdamTests: XCTestCase {
    /// A store with a [4, 2] table and a 3-element dense parameter.
    func makeStore() -> ParameterStore {
        let store = ParameterStore()
        _ = store.register("embedding.weight", shape: [4, 2])
        _ = store.register("decoder.bias", shape: [3])
        for i in 0..<store.count { store.values[i] = Float(i) * 0.1 - 0.3 }
        return store
    }

    func setGradients(_ store: ParameterStore, step: Int, rows: Set<Int>) {
        for i in 0..<store.count {
            let inTable = i < 8
            store.gradients[i] = (inTable && !rows.contains(i / 2)) ? 0 : Float(sin(Double(i + 3 * step + 1)))
        }
    }

    func testAllRowsGiveNNAdam() {
        let a = makeStore(), b = makeStore()
        let dense = Adam(), sparse = RowSparseAdam(tableRows: 4, tableWidth: 2)
        sparse.rows = [0, 1, 2, 3]
        for step in 0..<3 {
            setGradients(a, step: step, rows: [0, 1, 2, 3]); setGradients(b, step: step, rows: [0, 1, 2, 3])
            dense.step(a, learningRate: 0.01)
            sparse.step(b, learningRate: 0.01)
        }
        for i in 0..<a.count { XCTAssertEqual(a.values[i], b.values[i], accuracy: 1e-7, "element \(i)") }
    }

    /// Rows not given keep their value and moments; a row first given at step 2 moves by Adam's
    /// bias-corrected first step, computed here by hand.
    func testRowsNotGivenStayUnchanged() {
        let store = makeStore()
        let adam = RowSparseAdam(tableRows: 4, tableWidth: 2)
        adam.rows = [0, 2]
        setGradients(store, step: 0, rows: [0, 2])
        adam.step(store, learningRate: 0.01)
        let initial = (0..<11).map { Float($0) * 0.1 - 0.3 }
        let afterFirst = store.copyOfValues()
        XCTAssertEqual(afterFirst[2], initial[2], "row 1 had no gradient")
        XCTAssertEqual(afterFirst[7], initial[7], "row 3 had no gradient")
        XCTAssertNotEqual(afterFirst[0], initial[0])
        XCTAssertNotEqual(afterFirst[4], initial[4])

        adam.zeroGradients(store)
        XCTAssertEqual(store.copyOfGradients(), [Float](repeating: 0, count: 11))
        adam.rows = [1]
        let g: Float = 0.5
        store.gradients[2] = g
        adam.step(store, learningRate: 0.01)
        XCTAssertEqual(store.values[0], afterFirst[0], "row 0 not given: unchanged despite its momentum")
        XCTAssertEqual(store.values[4], afterFirst[4])
        // Step 2, first gradient of row 1: m = 0.1 g, v = 0.001 g².
        let m = 0.1 * Double(g), v = 0.001 * Double(g * g)
        let expected = Double(initial[2]) - 0.01 / (1 - 0.81) * m / (v.squareRoot() / (1 - 0.998001).squareRoot() + 1e-8)
        XCTAssertEqual(Double(store.values[2]), expected, accuracy: 1e-6)
        XCTAssertEqual(store.values[3], afterFirst[3], "row 1, element 1 had a zero gradient and zero moments")
    }

    func testClipUsesTheGivenRowsAndTheDensePart() {
        let store = makeStore()
        let adam = RowSparseAdam(tableRows: 4, tableWidth: 2)
        adam.rows = [3]
        setGradients(store, step: 1, rows: [3])
        let whole = store.gradientNorm()
        let norm = adam.clipGradientNorm(store, maxNorm: 0.5)
        XCTAssertEqual(norm, whole, accuracy: 1e-6)
        XCTAssertEqual(store.gradientNorm(), 0.5, accuracy: 1e-5)
    }

    func testStateRoundTrip() throws {
        let store = makeStore()
        let adam = RowSparseAdam(tableRows: 4, tableWidth: 2)
        adam.rows = [1, 3]
        setGradients(store, step: 0, rows: [1, 3])
        adam.step(store, learningRate: 0.01)
        let tensors = adam.stateTensors(for: store, prefix: "optimizer.")
        XCTAssertEqual(Set(tensors.keys), ["optimizer.step", "optimizer.exp_avg.embedding.weight", "optimizer.exp_avg.decoder.bias",
                                           "optimizer.exp_avg_sq.embedding.weight", "optimizer.exp_avg_sq.decoder.bias"])
        let copy = RowSparseAdam(tableRows: 4, tableWidth: 2)
        try copy.loadState(from: tensors, for: store, prefix: "optimizer.")
        XCTAssertEqual(copy.stepCount, 1)
        XCTAssertEqual(copy.stateTensors(for: store, prefix: "optimizer."), tensors)
        XCTAssertThrowsError(try copy.loadState(from: [:], for: store, prefix: "optimizer."))
    }
}
