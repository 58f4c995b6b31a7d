import Corpus
import Foundation
import NN
import NNTestSupport
import XCTest
@testable import LM

/// The language model with an adaptive softmax (`ModelConfig.softmax`): gradients, PyTorch's
/// parameter names, exact log-probabilities, and the configuration's checks.
final class AdaptiveSoftmaxModelTests: XCTestCase {
    let T = 3, B = 2
    let inputs: [Int32] = [1, 4, 0, 6, 2, 2]   // [T, B]
    let targets: [Int32] = [4, 0, 6, 2, 5, 3]  // head, cluster 0 and cluster 1 with cutoffs [3, 5]

    /// V = 7, cutoffs [3, 5]: head 0..<3 plus 2 cluster tokens, clusters {3, 4} and {5, 6};
    /// H = 4 with div 2 gives projections 2 and 1 wide.
    func config(H: Int = 4, layers: Int = 2, dropout: Float = 0) -> ModelConfig {
        ModelConfig(vocabularySize: 7, embeddingSize: 3, hiddenSize: H, layers: layers, dropout: dropout,
                    initRange: 0.5, softmax: .adaptive(cutoffs: [3, 5], divValue: 2))
    }

    func meanLoss(_ model: LanguageModel, _ values: [Float], mask: [Float]?, training: Bool) -> Double {
        let v = model.store.values
        for i in 0..<values.count { v[i] = values[i] }
        model.resetState()
        var rng = RNG(seed: 9)
        let (loss, count) = model.forward(inputs: inputs, targets: targets, mask: mask, steps: T, training: training, rng: &rng)
        return loss / Double(count)
    }

    /// Every parameter's gradient (the LSTM's through the adaptive softmax's input gradient)
    /// against central differences of the mean loss, with a mask and with dropout.
    func testGradientsMatchFiniteDifferences() {
        for (mask, dropout) in [(nil, Float(0)), ([1, 1, 0, 1, 1, 0] as [Float]?, Float(0)), (nil, Float(0.3))] {
            var rng = RNG(seed: 5)
            let model = LanguageModel(config: config(dropout: dropout), batchSize: B, maxSteps: T, rng: &rng)
            let values = model.store.copyOfValues()
            model.store.zeroGradients()
            _ = meanLoss(model, values, mask: mask, training: dropout > 0)
            model.backward()
            let analytic = model.store.copyOfGradients()
            for name in ["decoder.head.weight", "decoder.tail.1.1.weight", "rnn.weight_ih_l0", "encoder.weight"] {
                let view = model.store[name]
                XCTAssertTrue(analytic[view.offset..<view.offset + view.count].contains { $0 != 0 }, "\(name): zero gradient")
            }
            let r = GradCheck.compare(values: values, analytic: analytic, eps: 1e-2, rtol: 1e-2, atol: 1e-4) {
                self.meanLoss(model, $0, mask: mask, training: dropout > 0)
            }
            XCTAssertTrue(r.passed, "mask \(String(describing: mask)), dropout \(dropout): \(r)")
        }
    }

    /// PyTorch's `AdaptiveLogSoftmaxWithLoss` names under `decoder.`, in place of the full
    /// softmax's `decoder.weight` and `decoder.bias`; every value starts in ±initRange.
    func testParameterNamesAndShapes() {
        var rng = RNG(seed: 1)
        let model = LanguageModel(config: config(layers: 1), batchSize: 1, maxSteps: 1, rng: &rng)
        XCTAssertEqual(model.store.views.map(\.name),
                       ["encoder.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
                        "decoder.head.weight", "decoder.tail.0.0.weight", "decoder.tail.0.1.weight",
                        "decoder.tail.1.0.weight", "decoder.tail.1.1.weight"])
        XCTAssertEqual(model.store["decoder.head.weight"].shape, [5, 4])
        XCTAssertEqual(model.store["decoder.tail.0.0.weight"].shape, [2, 4])
        XCTAssertEqual(model.store["decoder.tail.0.1.weight"].shape, [2, 2])
        XCTAssertEqual(model.store["decoder.tail.1.0.weight"].shape, [1, 4])
        XCTAssertEqual(model.store["decoder.tail.1.1.weight"].shape, [2, 1])
        XCTAssertNil(model.decoderWeight)
        XCTAssertNil(model.decoderBias)
        XCTAssertEqual(model.pytorchTensorNames.map(\.name), model.store.views.map(\.name))
        XCTAssertTrue(model.store.copyOfValues().allSatisfy { abs($0) <= 0.5 })
        XCTAssertTrue(model.store.copyOfValues().contains { $0 != 0 })
    }

    /// One step from the zero state with zero LSTM weights: the LSTM output is
    /// h = σ(o)·tanh(σ(i)·tanh(g)) of the biases alone, and every log-probability follows from
    /// the decoder's matrices by the adaptive softmax's definition, computed here in Double.
    /// `nextTokenLogProbabilities` gives all of them (each row's exp sums to 1); `evaluate` and
    /// `forward` give the targets'.
    func testLogProbabilitiesAreTheExactNormalizedDistribution() throws {
        let H = 4, V = 7
        var rng = RNG(seed: 3)
        let model = LanguageModel(config: config(H: H, layers: 1), batchSize: B, maxSteps: T, rng: &rng)
        let s = model.store
        for name in ["rnn.weight_ih_l0", "rnn.weight_hh_l0"] {
            let w = s.values(s[name]); for i in 0..<w.count { w[i] = 0 }
        }
        let bih = s.values(s["rnn.bias_ih_l0"]), bhh = s.values(s["rnn.bias_hh_l0"])
        func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        let gate = { (k: Int, j: Int) in Double(bih[k * H + j]) + Double(bhh[k * H + j]) }  // gates i, f, g, o
        let h = (0..<H).map { j in sigmoid(gate(3, j)) * tanh(sigmoid(gate(0, j)) * tanh(gate(2, j))) }
        func matrix(_ name: String) -> [[Double]] {
            let view = s[name], v = s.values(view), cols = view.shape[1]
            return (0..<view.shape[0]).map { r in (0..<cols).map { Double(v[r * cols + $0]) } }
        }
        func times(_ m: [[Double]], _ x: [Double]) -> [Double] { m.map { row in zip(row, x).reduce(0) { $0 + $1.0 * $1.1 } } }
        func logSoftmax(_ x: [Double]) -> [Double] {
            let lse = log(x.reduce(0) { $0 + exp($1) })
            return x.map { $0 - lse }
        }
        let head = logSoftmax(times(matrix("decoder.head.weight"), h))               // [3 + 2]
        let tail0 = logSoftmax(times(matrix("decoder.tail.0.1.weight"), times(matrix("decoder.tail.0.0.weight"), h)))
        let tail1 = logSoftmax(times(matrix("decoder.tail.1.1.weight"), times(matrix("decoder.tail.1.0.weight"), h)))
        let expected = [head[0], head[1], head[2], head[3] + tail0[0], head[3] + tail0[1], head[4] + tail1[0], head[4] + tail1[1]]

        model.resetState()
        let rows = model.nextTokenLogProbabilities(inputs: [2, 5])
        XCTAssertEqual(rows.count, B * V)
        for b in 0..<B {
            let row = rows[b * V..<(b + 1) * V]
            XCTAssertEqual(row.reduce(0.0) { $0 + exp(Double($1)) }, 1, accuracy: 1e-6)
            for (mine, theirs) in zip(row, expected) { XCTAssertEqual(Double(mine), theirs, accuracy: 1e-5) }
        }

        // The first step's targets through evaluate and forward: the same numbers.
        let y: [Int32] = [6, 0]
        model.resetState()
        let (lossSum, count) = model.evaluate(inputs: [2, 5], targets: y, steps: 1)
        XCTAssertEqual(count, 2)
        XCTAssertEqual(lossSum, -(expected[6] + expected[0]), accuracy: 1e-5)
        XCTAssertEqual(Double(model.targetLogProbabilities[0]), expected[6], accuracy: 1e-5)
        model.resetState()
        var unused = RNG(seed: 0)
        let (forwardSum, _) = model.forward(inputs: [2, 5], targets: y, mask: [0, 1], steps: 1, training: false, rng: &unused)
        XCTAssertEqual(forwardSum, -expected[0], accuracy: 1e-5)
        XCTAssertEqual(model.targetLogProbabilities[0], 0)
        XCTAssertFalse(model.holdsLogits, "an adaptive softmax never needs the [N, V] logits")
    }

    /// `evaluate` and `forward(training: false)` agree over several windows with carried state.
    func testEvaluateAgreesWithForward() {
        var rng = RNG(seed: 11)
        let a = LanguageModel(config: config(), batchSize: B, maxSteps: T, rng: &rng)
        var rng2 = RNG(seed: 11)
        let b = LanguageModel(config: config(), batchSize: B, maxSteps: T, rng: &rng2)
        var unused = RNG(seed: 0)
        for _ in 0..<3 {
            let (la, ca) = a.evaluate(inputs: inputs, targets: targets, steps: T)
            let (lb, cb) = b.forward(inputs: inputs, targets: targets, steps: T, training: false, rng: &unused)
            XCTAssertEqual(ca, cb)
            XCTAssertEqual(la, lb, accuracy: 1e-5 * abs(lb))
            XCTAssertEqual(Array(a.targetLogProbabilities), Array(b.targetLogProbabilities))
        }
    }

    // MARK: - Configuration

    func testConfigJSONRecordsTheSoftmaxAndOldConfigsLoadAsFull() throws {
        let dir = NSTemporaryDirectory() + "lm-adaptive-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let run = RunDirectory(path: dir)
        var config = RunConfig(model: config(), training: Preset.tiny.training, corpus: .init(), tokenization: .init(),
                               vocabularyHash: "x")
        try run.writeConfig(config)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: run.configPath))) as! [String: Any]
        let softmax = try XCTUnwrap((json["model"] as? [String: Any])?["softmax"] as? [String: Any])
        XCTAssertEqual(softmax["kind"] as? String, "adaptive")
        XCTAssertEqual(softmax["cutoffs"] as? [Int], [3, 5])
        XCTAssertEqual(softmax["div_value"] as? Double, 2)
        XCTAssertEqual(try run.readConfig(), config)

        // A full softmax writes no key, so its config.json is what it was before the option.
        config.model.softmax = nil
        try run.writeConfig(config)
        let text = try String(contentsOfFile: run.configPath, encoding: .utf8)
        XCTAssertFalse(text.contains("softmax"))
        XCTAssertNil(try run.readConfig().model.softmax)
        // A hand-written {"kind": "adaptive", "cutoffs": [...]} takes PyTorch's div_value 4.
        try text.replacingOccurrences(of: "\"dropout\"", with: "\"softmax\" : {\"kind\": \"adaptive\", \"cutoffs\": [4]},\n\"dropout\"")
            .write(toFile: run.configPath, atomically: true, encoding: .utf8)
        XCTAssertEqual(try run.readConfig().model.softmax, .adaptive(cutoffs: [4], divValue: 4))
    }

    /// Cutoffs outside the vocabulary, unsorted or repeated, and tying, in a config.json: one
    /// line naming the file.
    func testBadSoftmaxInConfigJSONIsRefusedNamingTheFile() throws {
        let dir = NSTemporaryDirectory() + "lm-adaptive-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let run = RunDirectory(path: dir)
        let good = RunConfig(model: config(), training: Preset.tiny.training, corpus: .init(), tokenization: .init(), vocabularyHash: "x")
        try run.writeConfig(good)
        let text = try String(contentsOfFile: run.configPath, encoding: .utf8)
        let cutoffs = try XCTUnwrap(text.range(of: #""cutoffs" : \[[^\]]*\]"#, options: .regularExpression))
        let cases: [(String, String)] = [
            (text.replacingCharacters(in: cutoffs, with: "\"cutoffs\" : [3, 7]"), "cutoff 7 is not below the vocabulary size 7"),
            (text.replacingCharacters(in: cutoffs, with: "\"cutoffs\" : [5, 3]"), "not increasing (3 after 5)"),
            (text.replacingCharacters(in: cutoffs, with: "\"cutoffs\" : [3, 3]"), "cutoff 3 appears twice"),
            (text.replacingCharacters(in: cutoffs, with: "\"cutoffs\" : []"), "need at least one cutoff"),
            (text.replacingOccurrences(of: "\"tie_weights\" : false", with: "\"tie_weights\" : true"), "exclude each other"),
            (text.replacingOccurrences(of: "\"adaptive\"", with: "\"sampled\""), "kind"),
        ]
        for (bad, fragment) in cases {
            XCTAssertNotEqual(bad, text)
            try bad.write(toFile: run.configPath, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try run.readConfig()) { error in
                let message = "\(error)"
                XCTAssertTrue(message.hasPrefix(run.configPath + ": "), message)
                XCTAssertTrue(message.contains(fragment), "\(message) lacks \(fragment)")
                XCTAssertFalse(message.contains("\n"), message)
            }
        }
    }

    /// A configuration built in Swift (not read from a file) is checked by `makeModel` too: an
    /// error, not a trap.
    func testMakeModelRefusesABadAdaptiveSoftmax() throws {
        var bad = RunConfig(model: config(), training: Preset.tiny.training, corpus: .init(), tokenization: .init(), vocabularyHash: "x")
        bad.model.softmax = .adaptive(cutoffs: [3, 9])
        var rng = RNG(seed: 1)
        XCTAssertThrowsError(try RunDirectory.makeModel(config: bad, batchSize: 1, maxSteps: 1, rng: &rng)) { error in
            XCTAssertEqual("\(error)", "model.softmax: adaptive softmax cutoffs [3,9]: cutoff 9 is not below the vocabulary size 7")
        }
        bad.model.softmax = .adaptive(cutoffs: [3])
        bad.model.tieWeights = true
        XCTAssertThrowsError(try RunDirectory.makeModel(config: bad, batchSize: 1, maxSteps: 1, rng: &rng)) { error in
            XCTAssertEqual("\(error)", "an adaptive model.softmax cannot be tied")
        }
    }

    func testSoftmaxFlagParsing() throws {
        XCTAssertEqual(try SoftmaxChoice(parsing: "full"), .full)
        XCTAssertEqual(try SoftmaxChoice(parsing: "adaptive"), .adaptive(cutoffs: nil))
        XCTAssertEqual(try SoftmaxChoice(parsing: "adaptive:20,100"), .adaptive(cutoffs: [20, 100]))
        for (bad, fragment) in [("sampled", "expected full, adaptive"), ("adaptive:", "'' is not an integer"),
                                ("adaptive:20,x", "'x' is not an integer"), ("adaptive:100,20", "not increasing"),
                                ("adaptive:20,20", "appears twice"), ("adaptive:0,20", "not positive")] {
            XCTAssertThrowsError(try SoftmaxChoice(parsing: bad)) { error in
                XCTAssertTrue("\(error)".hasPrefix("--softmax '\(bad)': "), "\(error)")
                XCTAssertTrue("\(error)".contains(fragment), "\(error) lacks \(fragment)")
            }
        }
    }

    /// `adaptive` without cutoffs applies the 80%-coverage rule to the vocabulary's counts, and
    /// refuses a vocabulary whose ids are not sorted by count (naming the file and line).
    func testCutoffsChosenFromCountsNeedAFrequencySortedVocabulary() throws {
        // 22 ids: <unk>, <eos>, then 20 words by descending count.
        let tokens = ["<unk>", "<eos>"] + (0..<20).map { "w\($0)" }
        let counts = [100, 100, 400, 300, 200] + [Int](repeating: 10, count: 17)
        // Total 1270; 80% is 1016: 100 + 100 + 400 + 300 = 900, + 200 = 1100 ≥ 1016 → head 5;
        // then 5 · 4 = 20 < 22, 80 ≥ 22 stops; the last cluster (2 words) is smaller than the one
        // before (15 words), so it merges: cutoffs [5].
        let sorted = try Vocabulary(tokens: tokens, counts: counts)
        XCTAssertEqual(try SoftmaxChoice.adaptive(cutoffs: nil).resolve(vocabulary: sorted, source: "v.txt"), .adaptive(cutoffs: [5]))
        XCTAssertNil(try SoftmaxChoice.full.resolve(vocabulary: sorted, source: "v.txt"))
        XCTAssertEqual(try SoftmaxChoice.adaptive(cutoffs: [2, 9]).resolve(vocabulary: sorted, source: "v.txt"), .adaptive(cutoffs: [2, 9]))

        var unsortedCounts = counts
        unsortedCounts.swapAt(3, 4)   // line 5 (id 4) has 300 after 200
        let unsorted = try Vocabulary(tokens: tokens, counts: unsortedCounts)
        XCTAssertThrowsError(try SoftmaxChoice.adaptive(cutoffs: nil).resolve(vocabulary: unsorted, source: "v.txt")) { error in
            XCTAssertTrue("\(error)".contains("v.txt is not sorted by descending count (line 5: 300 after 200)"), "\(error)")
            XCTAssertTrue("\(error)".contains("--softmax adaptive:C1,C2,..."), "\(error)")
        }
        // Explicit cutoffs need no sorted vocabulary (the softmax is exact for any order).
        XCTAssertEqual(try SoftmaxChoice.adaptive(cutoffs: [3]).resolve(vocabulary: unsorted, source: "v.txt"), .adaptive(cutoffs: [3]))
        let zero = try Vocabulary(tokens: tokens, counts: [Int](repeating: 0, count: tokens.count))
        XCTAssertThrowsError(try SoftmaxChoice.adaptive(cutoffs: nil).resolve(vocabulary: zero, source: "v.txt")) { error in
            XCTAssertTrue("\(error)".contains("v.txt has no counts"), "\(error)")
        }
    }
}
