import XCTest
import Corpus
import Foundation
import GLoMoGraph
import NN
@testable import LM
import NNTestSupport

/// GLoMo graphs inside the LSTM LM: gradients of the whole step, causality, carried context,
/// frozen predictor, vocabulary mapping.
final class GLoMoTransferTests: XCTestCase {
    let V = 7, B = 2

    func makeModel(_ site: GLoMoSite, weighting: GraphMixWeighting = .global, dropout: Float = 0,
                   maxSteps: Int = 4, context: Int = 2, layers: Int = 2, seed: UInt64 = 5) -> LanguageModel {
        let config = ModelConfig(vocabularySize: V, embeddingSize: 3, hiddenSize: 4, layers: layers,
                                 dropout: dropout, tieWeights: false, initRange: 0.5)
        let predictor = GraphPredictorConfig(embeddingSize: 3, channels: 4, convLayers: 1, graphLayers: 2, heads: 2, headSize: 2)
        let transfer = GLoMoTransfer(config: GLoMoTransferConfig(predictor: predictor, graphVocabularySize: 5, site: site,
                                                                 weighting: weighting, context: context),
                                     vocabularySize: V, featureSize: site == .embeddings ? 3 : 4)
        var rng = RNG(seed: seed)
        let model = LanguageModel(config: config, input: TrainableEmbedding(vocabularySize: V, embeddingSize: 3),
                                  glomo: transfer, batchSize: B, maxSteps: maxSteps, rng: &rng)
        transfer.setVocabularyMap([0, 1, 2, 3, 4, 0, 2])
        // Larger random mixture logits and graph embeddings, so that every path matters.
        let store = model.store
        for v in store.views where v.name.hasPrefix("glomo.mix") || v.name == "glomo.embedding.weight" {
            let p = store.values(v)
            for i in 0..<p.count { p[i] = rng.uniform(-1, 1) }
        }
        return model
    }

    /// Indices of the trainable parameters (everything but the frozen GLoMo views).
    func trainableIndices(_ model: LanguageModel) -> [Int] {
        let frozen = Set(model.glomo!.frozenViews.map(\.name))
        return model.store.views.filter { !frozen.contains($0.name) }.flatMap { Array($0.range) }
    }

    func meanLoss(_ model: LanguageModel, inputs: [Int32], targets: [Int32], steps: Int, seed: UInt64, training: Bool) -> Double {
        model.resetState()
        var rng = RNG(seed: seed)
        let (loss, count) = model.forward(inputs: inputs, targets: targets, steps: steps, training: training, rng: &rng)
        return loss / Double(count)
    }

    func checkGradient(_ site: GLoMoSite, weighting: GraphMixWeighting = .global, dropout: Float = 0,
                       file: StaticString = #filePath, line: UInt = #line) {
        let model = makeModel(site, weighting: weighting, dropout: dropout)
        let inputs: [Int32] = [1, 4, 0, 6, 2, 2, 5, 3], targets: [Int32] = [4, 0, 6, 2, 5, 3, 1, 1]
        let training = dropout > 0
        model.store.zeroGradients()
        _ = meanLoss(model, inputs: inputs, targets: targets, steps: 4, seed: 9, training: training)
        model.backward()
        let indices = trainableIndices(model)
        let all = model.store.copyOfValues(), grads = model.store.copyOfGradients()
        // Frozen parameters never receive a gradient.
        let frozen = Set(0..<all.count).subtracting(indices)
        XCTAssertTrue(frozen.allSatisfy { grads[$0] == 0 }, "a frozen parameter has a gradient", file: file, line: line)
        for name in ["glomo.mix.", "glomo.gate.weight", "encoder.weight"] {
            let v = model.store.views.first { $0.name.hasPrefix(name) }!
            XCTAssertTrue(model.store.gradient(v).contains { $0 != 0 }, "\(name) has no gradient", file: file, line: line)
        }
        let r = GradCheck.compare(values: indices.map { all[$0] }, analytic: indices.map { grads[$0] },
                                  eps: 1e-2, rtol: 1e-2, atol: 1e-4) { x in
            var v = all
            for (k, i) in indices.enumerated() { v[i] = x[k] }
            return withStoreValues(model.store, v) {
                self.meanLoss(model, inputs: inputs, targets: targets, steps: 4, seed: 9, training: training)
            }
        }
        XCTAssertTrue(r.passed, "\(site) \(weighting): \(r)", file: file, line: line)
    }

    func testGradientOnEmbeddings() { checkGradient(.embeddings) }

    func testGradientOnHidden() { checkGradient(.hidden) }

    func testGradientPerTokenWeightsOnHidden() { checkGradient(.hidden, weighting: .perToken) }

    func testGradientWithDropoutOnEmbeddings() { checkGradient(.embeddings, dropout: 0.3) }

    /// Changing any token after t leaves every prediction up to t bit-identical (both sites,
    /// fresh state and with carried context), while later predictions change.
    func testCausality() {
        let T = 5
        let inputs: [Int32] = [1, 4, 0, 6, 2, 2, 5, 3, 3, 1], targets: [Int32] = [4, 0, 6, 2, 5, 3, 1, 1, 2, 6]
        let previous: [Int32] = [2, 5, 6, 1, 3, 4, 0, 0, 1, 2]
        for site in GLoMoSite.allCases {
            for withContext in [false, true] {
                let model = makeModel(site, maxSteps: T, context: 3)
                func logProbs(_ x: [Int32]) -> [Float] {
                    model.resetState()
                    var rng = RNG(seed: 1)
                    if withContext { model.forward(inputs: previous, targets: targets, steps: T, training: false, rng: &rng) }
                    model.forward(inputs: x, targets: targets, steps: T, training: false, rng: &rng)
                    return Array(model.targetLogProbabilities)
                }
                let base = logProbs(inputs)
                for t in 0..<(T - 1) {
                    var changed = inputs
                    for k in ((t + 1) * B)..<(T * B) { changed[k] = (changed[k] + 3) % Int32(V) }
                    let lp = logProbs(changed)
                    let upTo = (t + 1) * B
                    XCTAssertEqual(Array(lp[0..<upTo]), Array(base[0..<upTo]), "\(site), context \(withContext), t = \(t)")
                    XCTAssertNotEqual(Array(lp[upTo...]), Array(base[upTo...]), "\(site), context \(withContext), t = \(t)")
                }
            }
        }
    }

    /// The graphs matter: a different graph embedding changes the predictions (else the
    /// causality and gradient tests would say little about the graph path).
    func testGraphsChangeThePredictions() {
        for site in GLoMoSite.allCases {
            let model = makeModel(site)
            let inputs: [Int32] = [1, 4, 0, 6, 2, 2, 5, 3], targets: [Int32] = [4, 0, 6, 2, 5, 3, 1, 1]
            let before = meanLoss(model, inputs: inputs, targets: targets, steps: 4, seed: 1, training: false)
            let e = model.store.values(model.glomo!.embedding)
            for i in 0..<e.count { e[i] = -e[i] + 0.3 }
            let after = meanLoss(model, inputs: inputs, targets: targets, steps: 4, seed: 1, training: false)
            XCTAssertNotEqual(before, after, "\(site)")
        }
    }

    /// Two segments with carried context give the same predictions for the second segment as
    /// one long window over both (context ≥ the first segment's length; the LSTM state carries).
    func testCarriedContextEqualsOneLongWindow() {
        for site in GLoMoSite.allCases {
            let a: [Int32] = [1, 4, 0, 6, 2, 2], b: [Int32] = [5, 3, 3, 1, 6, 0, 4, 4]   // 3 and 4 steps
            let ta: [Int32] = [4, 0, 6, 2, 5, 3], tb: [Int32] = [1, 1, 2, 6, 0, 1, 3, 2]
            let split = makeModel(site, maxSteps: 7, context: 3)
            var rng = RNG(seed: 1)
            split.resetState()
            split.forward(inputs: a, targets: ta, steps: 3, training: false, rng: &rng)
            split.forward(inputs: b, targets: tb, steps: 4, training: false, rng: &rng)
            let second = Array(split.targetLogProbabilities)
            XCTAssertEqual(split.glomo!.contextCount, 3)
            let whole = makeModel(site, maxSteps: 7, context: 3)
            whole.resetState()
            whole.forward(inputs: a + b, targets: ta + tb, steps: 7, training: false, rng: &rng)
            let long = Array(whole.targetLogProbabilities)[6...]
            for (x, y) in zip(second, long) { XCTAssertEqual(x, y, accuracy: 1e-5, "\(site)") }
            // With the context emptied, the second segment sees no earlier tokens: different values.
            split.resetState()
            split.forward(inputs: b, targets: tb, steps: 4, training: false, rng: &rng)
            XCTAssertNotEqual(Array(split.targetLogProbabilities), second)
        }
    }

    /// Saving and restoring the carried context continues exactly as without the interruption.
    func testCarriedContextRoundTrip() {
        let a: [Int32] = [1, 4, 0, 6, 2, 2], b: [Int32] = [5, 3, 3, 1, 6, 0], t: [Int32] = [4, 0, 6, 2, 5, 3]
        let model = makeModel(.embeddings, maxSteps: 3, context: 2)
        var rng = RNG(seed: 1)
        model.resetState()
        model.forward(inputs: a, targets: t, steps: 3, training: false, rng: &rng)
        let saved = model.glomo!.carriedContext
        let lstm = model.lstms.map { ($0.hiddenState, $0.cellState) }
        XCTAssertEqual(saved.count, 2)
        model.forward(inputs: b, targets: t, steps: 3, training: false, rng: &rng)
        let expected = Array(model.targetLogProbabilities)
        model.resetState()
        model.glomo!.carriedContext = saved
        for (l, s) in zip(model.lstms, lstm) { l.hiddenState = s.0; l.cellState = s.1 }
        model.forward(inputs: b, targets: t, steps: 3, training: false, rng: &rng)
        XCTAssertEqual(Array(model.targetLogProbabilities), expected)
    }

    /// The carried context through checkpoint tensors (written and read as a safetensors file).
    func testCarriedContextCheckpointTensors() throws {
        let a: [Int32] = [1, 4, 0, 6, 2, 2], b: [Int32] = [5, 3, 3, 1, 6, 0], t: [Int32] = [4, 0, 6, 2, 5, 3]
        let model = makeModel(.hidden, maxSteps: 3, context: 2)
        var rng = RNG(seed: 1)
        model.resetState()
        model.forward(inputs: a, targets: t, steps: 3, training: false, rng: &rng)
        let path = NSTemporaryDirectory() + "glomo-context-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafetensorsFile(tensors: model.glomo!.checkpointTensors(), metadata: [:]).write(to: path)
        let lstm = model.lstms.map { ($0.hiddenState, $0.cellState) }
        model.forward(inputs: b, targets: t, steps: 3, training: false, rng: &rng)
        let expected = Array(model.targetLogProbabilities)
        model.resetState()
        try model.glomo!.restoreCheckpoint(from: SafetensorsFile(contentsOf: path).tensors)
        XCTAssertEqual(model.glomo!.contextCount, 2)
        for (l, s) in zip(model.lstms, lstm) { l.hiddenState = s.0; l.cellState = s.1 }
        model.forward(inputs: b, targets: t, steps: 3, training: false, rng: &rng)
        XCTAssertEqual(Array(model.targetLogProbabilities), expected)
        XCTAssertThrowsError(try model.glomo!.restoreCheckpoint(from: [:])) { error in
            XCTAssertEqual("\(error)", "no I64 tensor 'state.glomo_count' of shape [] (the carried GLoMo context)")
        }
    }

    /// A few optimizer steps (SGD with momentum and weight decay, Adam, Adagrad with weight decay,
    /// with clipping) leave the frozen graph model bitwise unchanged while the mixer and the LM move.
    func testFrozenPredictorIsNeverUpdated() {
        let optimizers: [any Optimizer] = [SGD(momentum: 0.9, weightDecay: 0.1), Adam(), Adagrad(weightDecay: 0.1)]
        for optimizer in optimizers {
            let model = makeModel(.hidden)
            let frozen = model.glomo!.frozenViews
            let before = frozen.map { Array(model.store.values($0)) }
            let gate = Array(model.store.values(model.glomo!.mixer.gateWeight))
            var rng = RNG(seed: 3)
            for _ in 0..<3 {
                model.store.zeroGradients()
                model.forward(inputs: [1, 4, 0, 6, 2, 2, 5, 3], targets: [4, 0, 6, 2, 5, 3, 1, 1], steps: 4, training: true, rng: &rng)
                model.backward()
                model.store.clipGradientNorm(maxNorm: 0.25)
                optimizer.step(model.store, learningRate: 0.5)
            }
            for (v, values) in zip(frozen, before) { XCTAssertEqual(Array(model.store.values(v)), values, "\(type(of: optimizer)) moved \(v.name)") }
            XCTAssertNotEqual(Array(model.store.values(model.glomo!.mixer.gateWeight)), gate)
        }
    }

    /// The same seed gives the same model (GLoMo parameters included), another seed another.
    func testDeterministicBySeed() {
        let m1 = makeModel(.hidden, seed: 4), m2 = makeModel(.hidden, seed: 4), m3 = makeModel(.hidden, seed: 6)
        XCTAssertEqual(m1.store.copyOfValues(), m2.store.copyOfValues())
        XCTAssertNotEqual(m1.store.copyOfValues(), m3.store.copyOfValues())
    }

    /// Parameter names: the LM's own first, unchanged, then the GLoMo ones.
    func testParameterLayout() {
        let model = makeModel(.embeddings)
        let names = model.store.views.map(\.name)
        XCTAssertEqual(Array(names.prefix(11)),
                       ["encoder.weight",
                        "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                        "rnn.weight_ih_l1", "rnn.weight_hh_l1", "rnn.bias_ih_l1", "rnn.bias_hh_l1",
                        "decoder.weight", "decoder.bias"])
        XCTAssertEqual(names[11], "glomo.vocabulary_map")
        XCTAssertEqual(names[12], "glomo.embedding.weight")
        XCTAssertTrue(names.contains("glomo.graph.layer1.threshold.bias"))
        XCTAssertEqual(Array(names.suffix(3)), ["glomo.mix.logits", "glomo.gate.weight", "glomo.gate.bias"])
        // Frozen: the map [7], the graph embedding [5, 3] and the predictor; trainable: the rest.
        let glomo = model.glomo!
        let predictorCount = model.store.views.filter { $0.name.hasPrefix("glomo.graph.") }.reduce(0) { $0 + $1.count }
        XCTAssertEqual(glomo.frozenParameterCount, 7 + 15 + predictorCount)
        XCTAssertEqual(model.store.trainableCount, model.store.count - glomo.frozenParameterCount)
        XCTAssertTrue(glomo.frozenViews.allSatisfy { model.store.isFrozen($0) })
    }

    func testVocabularyMapByToken() throws {
        let lm = try Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat", "zebra"], counts: [0, 5, 4, 3, 2])
        let graph = try Vocabulary(tokens: ["<unk>", "<eos>", "cat", "dog", "the"], counts: [0, 5, 4, 3, 2])
        let (map, found) = GLoMoTransfer.vocabularyMap(from: lm, to: graph)
        XCTAssertEqual(map, [0, 1, 4, 2, 0])
        XCTAssertEqual(found, 2)   // the, cat (<unk> and <eos> not counted)
    }

    func testCorruptVocabularyMapIsRejected() {
        let model = makeModel(.hidden)
        XCTAssertNoThrow(try model.glomo!.validateVocabularyMap())
        model.store.values(model.glomo!.vocabularyMap)[3] = 2.5
        XCTAssertThrowsError(try model.glomo!.validateVocabularyMap()) { error in
            XCTAssertEqual("\(error)", "glomo.vocabulary_map[3] = 2.5 is not an id of the graph model's 5-word vocabulary")
        }
    }
}

/// Runs `body` with the store's values replaced by `values`, restoring them afterwards.
func withStoreValues<R>(_ store: ParameterStore, _ values: [Float], _ body: () -> R) -> R {
    let saved = store.copyOfValues()
    for i in 0..<values.count { store.values[i] = values[i] }
    defer { for i in 0..<saved.count { store.values[i] = saved[i] } }
    return body()
}
