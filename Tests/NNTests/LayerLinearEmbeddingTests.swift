import XCTest
@testable import NN
import TestFixtures
import NNTestSupport

final class LayerLinearEmbeddingTests: XCTestCase {
    /// Both Linear tests on two threads with every split forced (bias fill, GEMMs, bias sums).
    func testLinearOnTwoThreads() {
        onTwoThreadsSplittingEverything {
            testLinearHandComputed()
            testLinearGradients()
        }
    }

    func testLinearHandComputed() {
        // W = [[1, 2], [3, 4], [5, 6]], b = [0.5, -1, 2], x = [1, -1] → [-0.5, -2, 1].
        let fc = Linear(inputSize: 2, outputSize: 3)
        let w: [Float] = [1, 2, 3, 4, 5, 6], b: [Float] = [0.5, -1, 2], x: [Float] = [1, -1]
        var y = [Float](repeating: 9, count: 3)
        fc.forward(output: &y, input: x, weight: w, bias: b, n: 1)
        XCTAssertEqual(y, [-0.5, -2, 1])
        fc.forward(output: &y, input: x, weight: w, bias: nil, n: 1)
        XCTAssertEqual(y, [-1, -1, -1])
    }

    func testLinearGradients() {
        var rng = RNG(seed: 1)
        let n = 4, I = 3, O = 5
        let fc = Linear(inputSize: I, outputSize: O)
        let x = randomArray(n * I, &rng), w = randomArray(O * I, &rng), b = randomArray(O, &rng)
        let dy = randomArray(n * O, &rng)
        func loss(_ x: [Float], _ w: [Float], _ b: [Float]) -> Double {
            var y = [Float](repeating: 0, count: n * O)
            fc.forward(output: &y, input: x, weight: w, bias: b, n: n)
            return GradCheck.weightedSum(y, dy)
        }
        var dx = [Float](repeating: 0, count: n * I), dw = [Float](repeating: 0, count: O * I), db = [Float](repeating: 0, count: O)
        fc.backward(dinput: &dx, dweight: &dw, dbias: &db, doutput: dy, input: x, weight: w, n: n)
        assertGradient("dx", values: x, analytic: dx) { loss($0, w, b) }
        assertGradient("dw", values: w, analytic: dw) { loss(x, $0, b) }
        assertGradient("db", values: b, analytic: db) { loss(x, w, $0) }
        // Backward accumulates: a second call doubles every gradient.
        let (dx1, dw1, db1) = (dx, dw, db)
        fc.backward(dinput: &dx, dweight: &dw, dbias: &db, doutput: dy, input: x, weight: w, n: n)
        assertDoubled(dx, dx1, "dx")
        assertDoubled(dw, dw1, "dw")
        assertDoubled(db, db1, "db")
    }

    func testEmbeddingForwardAndSparseBackward() {
        let emb = Embedding(vocabularySize: 4, embeddingSize: 2)
        let w: [Float] = [0, 1, 10, 11, 20, 21, 30, 31]
        let ids: [Int32] = [2, 0, 2]
        var y = [Float](repeating: 0, count: 6)
        emb.forward(output: &y, ids: ids, weight: w, n: 3)
        XCTAssertEqual(y, [20, 21, 0, 1, 20, 21])
        var dw = [Float](repeating: 0, count: 8)
        emb.backward(dweight: &dw, doutput: [1, 2, 3, 4, 5, 6], ids: ids, n: 3)
        XCTAssertEqual(dw, [3, 4, 0, 0, 6, 8, 0, 0])  // row 2 gets rows 0 and 2 of doutput
        XCTAssertEqual(Embedding.touchedRows(ids: ids, n: 3), [0, 2])
        emb.backward(dweight: &dw, doutput: [1, 2, 3, 4, 5, 6], ids: ids, n: 3)
        XCTAssertEqual(dw, [6, 8, 0, 0, 12, 16, 0, 0])
    }

    func testEmbeddingGradient() {
        var rng = RNG(seed: 2)
        let V = 5, E = 3, n = 6
        let emb = Embedding(vocabularySize: V, embeddingSize: E)
        let w = randomArray(V * E, &rng), dy = randomArray(n * E, &rng)
        let ids: [Int32] = [1, 4, 1, 0, 3, 1]
        var dw = [Float](repeating: 0, count: V * E)
        emb.backward(dweight: &dw, doutput: dy, ids: ids, n: n)
        assertGradient("dweight", values: w, analytic: dw) { w in
            var y = [Float](repeating: 0, count: n * E)
            emb.forward(output: &y, ids: ids, weight: w, n: n)
            return GradCheck.weightedSum(y, dy)
        }
    }
}
