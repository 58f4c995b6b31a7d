import XCTest
import NN
@testable import GLoMoGraph

/// The graph predictor and feature predictor against PyTorch (float64) values: graphs, output
/// features, every parameter gradient and the embedding gradient (`GLoMoFixture.swift`, made by
/// the script in docs/glomo.md).
final class PyTorchReferenceTests: XCTestCase {
    func testMatchesPyTorch() {
        let T = 5, B = 2, E = 4
        let store = ParameterStore()
        let gp = GraphPredictor(GraphPredictorConfig(embeddingSize: E, channels: 5, convLayers: 2, graphLayers: 2,
                                                     heads: 2, headSize: 3, threshold: .learned),
                                store: store, maxSteps: T, maxBatch: B)
        let fp = FeaturePredictor(featureSize: E, layers: 2, heads: 2, store: store, maxSteps: T, maxBatch: B)
        XCTAssertEqual(Set(store.views.map(\.name)), Set(GLoMoFixture.parameters.map(\.0)), "parameter names")
        for (name, values) in GLoMoFixture.parameters {
            let v = store.values(store[name])
            XCTAssertEqual(v.count, values.count, name)
            for i in 0..<min(v.count, values.count) { v[i] = Float(values[i]) }
        }
        let x = GLoMoFixture.x.map(Float.init), wg = GLoMoFixture.wg.map(Float.init), wf = GLoMoFixture.wf.map(Float.init)
        var g = [Float](repeating: 0, count: gp.graphCount(steps: T, batch: B)), out = [Float](repeating: 0, count: T * B * E)
        gp.forward(graphs: &g, embeddings: x, steps: T, batch: B)
        fp.forward(output: &out, features: x, graphs: g, steps: T, batch: B)
        store.zeroGradients()
        var dg = wg, dx = [Float](repeating: 0, count: x.count)
        fp.backward(dfeatures: &dx, dgraphs: &dg, doutput: wf, graphs: g, steps: T, batch: B)
        gp.backward(dembeddings: &dx, dgraphs: dg, steps: T, batch: B)

        func check(_ got: [Float], _ want: [Double], _ what: String, tol: Double = 1e-4) {
            XCTAssertEqual(got.count, want.count, what)
            var worst = 0.0
            for i in 0..<min(got.count, want.count) { worst = max(worst, abs(Double(got[i]) - want[i]) / max(1, abs(want[i]))) }
            XCTAssertLessThan(worst, tol, "\(what): worst relative error \(worst)")
        }
        check(g, GLoMoFixture.graphs, "graphs")
        check(out, GLoMoFixture.features, "features")
        check(dx, GLoMoFixture.dx, "d embeddings")
        for (name, want) in GLoMoFixture.gradients { check(Array(store.gradient(store[name])), want, "d \(name)") }
    }
}
