import XCTest
import NN
@testable import GLoMoGraph

/// The whole context-prediction pretraining loss (`ContextPredictionModel.forward`, the value the
/// trainer reports, and `backward`) against PyTorch in float64: embedding lookup → graph predictor
/// → feature predictor → GRU decoder from f^L_t at the given positions → tied softmax
/// cross-entropy over the next D tokens, mean over (sequence, position, d). Fixture:
/// `GLoMoPretrainFixture.swift`, made by `scripts/make_glomo_pretrain_fixture.py`.
final class PretrainLossPyTorchTests: XCTestCase {
    typealias Fixture = GLoMoPretrainFixture

    /// Relative tolerance: on the loss, and on each gradient tensor relative to its largest entry
    /// (the graph predictor's gradients are ~100× smaller than the decoder's, so a per-tensor
    /// scale, not an absolute floor, is what makes the comparison mean something for them).
    let tolerance = 1e-4

    /// A model of the fixture's sizes holding the fixture's parameters.
    func makeModel() -> ContextPredictionModel {
        let graph = GraphPredictorConfig(embeddingSize: Fixture.embeddingSize, channels: Fixture.channels,
                                         convLayers: Fixture.convLayers, kernelSize: 3, graphLayers: Fixture.graphLayers,
                                         heads: Fixture.heads, headSize: Fixture.headSize, threshold: .learned)
        let model = ContextPredictionModel(vocabularySize: Fixture.vocabularySize, graph: graph, maxSteps: Fixture.steps,
                                           maxBatch: Fixture.batch, predictTokens: Fixture.predictTokens,
                                           maxPositions: Fixture.positions.count / Fixture.batch)
        let store = model.store
        XCTAssertEqual(store.views.map(\.name), Fixture.parameters.map(\.0), "parameter names and order")
        for (name, values) in Fixture.parameters {
            let v = store.values(store[name])
            XCTAssertEqual(v.count, values.count, name)
            for i in 0..<min(v.count, values.count) { v[i] = Float(values[i]) }
        }
        return model
    }

    var batch: ContextPredictionBatch {
        ContextPredictionBatch(steps: Fixture.steps, batch: Fixture.batch, tokens: Fixture.tokens, positions: Fixture.positions)
    }

    /// Runs forward + backward and returns one line per quantity outside the tolerance, and the
    /// worst relative error seen.
    func mismatches(_ model: ContextPredictionModel) -> (failures: [String], worst: Double) {
        let store = model.store
        let loss = model.forward(batch)
        store.zeroGradients()
        model.backward()
        var failures: [String] = [], worst = 0.0
        let lossError = abs(loss - Fixture.loss) / abs(Fixture.loss)
        worst = lossError
        if !(lossError < tolerance) { failures.append("loss \(loss), PyTorch \(Fixture.loss)") }
        for (name, want) in Fixture.gradients {
            let got = Array(store.gradient(store[name]))
            guard got.count == want.count else { failures.append("d \(name): \(got.count) values, fixture \(want.count)"); continue }
            let scale = want.map(abs).max() ?? 0
            var error = 0.0
            for i in 0..<got.count { error = max(error, abs(Double(got[i]) - want[i])) }
            let relative = scale > 0 ? error / scale : error
            worst = max(worst, relative)
            if !(scale > 0) { failures.append("d \(name): the fixture's gradient is zero") }
            if !(relative < tolerance) { failures.append("d \(name): relative error \(relative) (largest entry \(scale))") }
        }
        return (failures, worst)
    }

    func testLossAndEveryGradientMatchPyTorch() {
        let model = makeModel()
        XCTAssertEqual(Set(Fixture.gradients.keys), Set(model.store.views.map(\.name)), "a gradient for every parameter")
        let (failures, worst) = mismatches(model)
        XCTAssertEqual(failures, [], "worst relative error \(worst)")
        // Repeating forward + backward gives the same (backward after zeroGradients, no state kept).
        XCTAssertEqual(mismatches(model).failures, [])
    }

    /// The comparison is sharp enough to catch a small change anywhere: moving one entry of a
    /// graph-predictor tensor (whose gradients are the smallest) by 1% breaks it.
    func testPerturbedParameterFails() {
        let model = makeModel()
        let v = model.store.values(model.store["graph.layer0.key.weight"])
        v[0] *= 1.01
        let (failures, _) = mismatches(model)
        XCTAssertFalse(failures.isEmpty, "a perturbed parameter must not match the fixture")
    }
}
