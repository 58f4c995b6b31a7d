import XCTest
import NN
@testable import GLoMoGraph
import NNTestSupport

final class GraphKernelsTests: XCTestCase {
    /// Thresholding, masking (j < i only), ReLU² and row normalisation against values by hand.
    func testHandComputed() {
        let T = 3, eps: Float = 1e-6
        // Entries on and above the diagonal are large and positive: they must be masked out.
        let s: [Float] = [9, 9, 9,
                          2, 9, 9,
                          3, 2, 9]
        let tau: [Float] = [0, 1, 1]
        var g = [Float](repeating: .nan, count: 9), z = [Float](repeating: .nan, count: 3)
        GraphKernels.forward(graph: &g, rowSums: &z, scores: s, thresholds: tau, steps: T, epsilon: eps)
        // Row 1: ReLU(2-1)² = 1 → 1/(1+ε). Row 2: ReLU(3-1)² = 4, ReLU(2-1)² = 1 → 0.8, 0.2.
        let expected: [Float] = [0, 0, 0,
                                 1 / (1 + eps), 0, 0,
                                 4 / (5 + eps), 1 / (5 + eps), 0]
        for i in 0..<9 { XCTAssertEqual(g[i], expected[i], accuracy: 1e-6, "entry \(i)") }
        XCTAssertEqual(z, [0, 1, 5])
    }

    /// A row whose affinities are all below the threshold is all zeros (not NaN).
    func testRowBelowThresholdIsZero() {
        let s: [Float] = [0, 0,
                          -1, 0]  // row 1: ReLU(-1 - 0.5)² = 0
        var g = [Float](repeating: .nan, count: 4), z = [Float](repeating: .nan, count: 2)
        GraphKernels.forward(graph: &g, rowSums: &z, scores: s, thresholds: [0, 0.5], steps: 2, epsilon: 1e-6)
        XCTAssertEqual(g, [0, 0, 0, 0])
    }

    /// Finite differences for the scores (affinity → ReLU² → normalisation) and the thresholds.
    func testGradients() {
        let T = 5, eps: Float = 1e-6
        let s = randomArray(T * T, seed: 1, -1, 2)
        let tau = randomArray(T, seed: 2, -0.5, 0.5)
        let w = randomArray(T * T, seed: 3)
        func loss(_ s: [Float], _ tau: [Float]) -> Double {
            var g = [Float](repeating: 0, count: T * T), z = [Float](repeating: 0, count: T)
            GraphKernels.forward(graph: &g, rowSums: &z, scores: s, thresholds: tau, steps: T, epsilon: eps)
            return GradCheck.weightedSum(g, w)
        }
        var g = [Float](repeating: 0, count: T * T), z = [Float](repeating: 0, count: T)
        GraphKernels.forward(graph: &g, rowSums: &z, scores: s, thresholds: tau, steps: T, epsilon: eps)
        var ds = [Float](repeating: 0, count: T * T), dtau = [Float](repeating: 0, count: T)
        GraphKernels.backward(dscores: &ds, dthresholds: &dtau, dgraph: w, graph: g, scores: s, thresholds: tau,
                              rowSums: z, steps: T, epsilon: eps)
        XCTAssertGreaterThan(ds.filter { $0 != 0 }.count, 5)
        let rs = GradCheck.compare(values: s, analytic: ds, eps: 1e-3) { loss($0, tau) }
        XCTAssertTrue(rs.passed, "scores: \(rs)")
        let rt = GradCheck.compare(values: tau, analytic: dtau, eps: 1e-3) { loss(s, $0) }
        XCTAssertTrue(rt.passed, "thresholds: \(rt)")
    }
}
