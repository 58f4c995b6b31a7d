import XCTest
import Foundation
@testable import NN

/// Layers against reference values PyTorch wrote (scripts/make_nn_fixtures.py → Fixtures/).
final class LayerPyTorchFixtureTests: XCTestCase {
    struct Fixture {
        let json: [String: Any]
        init(_ name: String) throws {
            let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("Fixtures").appendingPathComponent(name)
            json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        }
        func int(_ key: String) -> Int { (json[key] as? NSNumber)!.intValue }
        func double(_ key: String) -> Double { (json[key] as? NSNumber)!.doubleValue }
        func floats(_ key: String) -> [Float] { (json[key] as! [NSNumber]).map { $0.floatValue } }
        func ints(_ key: String) -> [Int32] { (json[key] as! [NSNumber]).map { $0.int32Value } }
        func floats(_ key: String, _ sub: String) -> [Float] {
            ((json[key] as! [String: Any])[sub] as! [NSNumber]).map { $0.floatValue }
        }
    }

    func assertClose(_ a: [Float], _ b: [Float], _ name: String, tol: Float = 1e-5,
                     file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, "\(name): size", file: file, line: line)
        XCTAssertFalse(b.isEmpty, file: file, line: line)
        var worst: Float = 0
        for k in 0..<min(a.count, b.count) { worst = max(worst, abs(a[k] - b[k]) / max(1, abs(b[k]))) }
        XCTAssertLessThanOrEqual(worst, tol, "\(name): max error \(worst)", file: file, line: line)
    }

    /// PyTorch's `nn.LSTM(I, H, L)` (L = 2 in the fixture) against a stack of single-layer
    /// LSTMs built as the LM builds them.
    func testLSTMMatchesPyTorch() throws {
        let f = try Fixture("lstm.json")
        let I = f.int("input_size"), H = f.int("hidden_size"), L = f.int("num_layers"), T = f.int("steps"), B = f.int("batch")
        XCTAssertEqual(L, 2, "the fixture checks a stack")
        let lstm = LSTMStack(inputSize: I, hiddenSize: H, numLayers: L, batchSize: B, maxSteps: T)
        var p = [Float](repeating: .nan, count: lstm.parameterCount)
        for (name, offset, shape) in lstm.parameterTensors {
            let v = f.floats("params", name)
            XCTAssertEqual(v.count, shape.reduce(1, *), name)
            p.replaceSubrange(offset..<offset + v.count, with: v)
        }
        lstm.hiddenState = f.floats("h0"); lstm.cellState = f.floats("c0")
        let x = f.floats("input")
        var y = [Float](repeating: 0, count: T * B * H)
        lstm.forward(output: &y, input: x, parameters: p, steps: T)
        assertClose(y, f.floats("output"), "output")
        assertClose(lstm.hiddenState, f.floats("hn"), "h_n")
        assertClose(lstm.cellState, f.floats("cn"), "c_n")
        var dx = [Float](repeating: 0, count: x.count), dp = [Float](repeating: 0, count: p.count)
        lstm.backward(dinput: &dx, dparameters: &dp, doutput: f.floats("dout"), input: x, parameters: p)
        assertClose(dx, f.floats("dinput"), "dinput")
        for (name, offset, shape) in lstm.parameterTensors {
            assertClose(Array(dp[offset..<offset + shape.reduce(1, *)]), f.floats("dparams", name), "d" + name)
        }
    }

    func testGRUCellMatchesPyTorch() throws {
        let f = try Fixture("gru_cell.json")
        let I = f.int("input_size"), H = f.int("hidden_size"), B = f.int("batch")
        let cell = GRUCell(inputSize: I, hiddenSize: H, maxBatch: B)
        let names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
        let p = names.flatMap { f.floats("params", $0) }
        XCTAssertEqual(p.count, cell.parameterCount)
        let x = f.floats("input"), h = f.floats("h")
        var y = [Float](repeating: 0, count: B * H), cache = [Float](repeating: 0, count: cell.cacheSize(batch: B))
        cell.forward(hNext: &y, cache: &cache, input: x, h: h, parameters: p, batch: B)
        assertClose(y, f.floats("output"), "output")
        var dx = [Float](repeating: 0, count: x.count), dh = [Float](repeating: 0, count: h.count)
        var dp = [Float](repeating: 0, count: p.count)
        cell.backward(dinput: &dx, dh: &dh, dparameters: &dp, dhNext: f.floats("dout"), cache: cache,
                      input: x, h: h, parameters: p, batch: B)
        assertClose(dx, f.floats("dinput"), "dinput")
        assertClose(dh, f.floats("dh"), "dh")
        assertClose(dp, names.flatMap { f.floats("dparams", $0) }, "dparams")
    }

    func testConv1dMatchesPyTorch() throws {
        let f = try Fixture("conv1d.json")
        let Ci = f.int("input_channels"), Co = f.int("output_channels"), K = f.int("kernel_size")
        let T = f.int("steps"), B = f.int("batch")
        let conv = Conv1d(inputChannels: Ci, outputChannels: Co, kernelSize: K)
        let x = f.floats("input"), w = f.floats("weight"), b = f.floats("bias")
        var y = [Float](repeating: 0, count: T * B * Co)
        conv.forward(output: &y, input: x, weight: w, bias: b, steps: T, batch: B)
        assertClose(y, f.floats("output"), "output")
        var dx = [Float](repeating: 0, count: x.count), dw = [Float](repeating: 0, count: w.count), db = [Float](repeating: 0, count: Co)
        conv.backward(dinput: &dx, dweight: &dw, dbias: &db, doutput: f.floats("dout"), weight: w, steps: T, batch: B)
        assertClose(dx, f.floats("dinput"), "dinput")
        assertClose(dw, f.floats("dweight"), "dweight")
        assertClose(db, f.floats("dbias"), "dbias")
    }

    func testCrossEntropyMatchesPyTorch() throws {
        let f = try Fixture("cross_entropy.json")
        let N = f.int("n"), V = f.int("classes")
        let ce = SoftmaxCrossEntropy(classCount: V)
        let logits = f.floats("logits"), targets = f.ints("targets"), mask = f.floats("mask")
        var lse = [Float](repeating: 0, count: N)
        let (loss, count) = ce.forward(logSumExp: &lse, logits: logits, targets: targets, mask: mask, n: N)
        XCTAssertEqual(count, f.double("count"))
        XCTAssertEqual(loss, f.double("loss_sum"), accuracy: 1e-5 * max(1, abs(f.double("loss_sum"))))
        XCTAssertEqual(loss / count, f.double("mean_loss"), accuracy: 1e-5)
        var d = [Float](repeating: 0, count: N * V)
        ce.backward(dlogits: &d, logits: logits, logSumExp: lse, targets: targets, mask: mask, n: N, scale: Float(1 / count))
        assertClose(d, f.floats("dlogits_mean"), "dlogits")
        // The training path (exponentials kept in place, gradient written over them).
        var fused = logits, inverseSums = [Float](repeating: 0, count: N)
        let (fusedLoss, _) = ce.forward(exponentiating: &fused, inverseSums: &inverseSums, logSumExp: &lse,
                                        targets: targets, mask: mask, n: N)
        ce.backwardInPlace(logits: &fused, logSumExp: lse, inverseSums: inverseSums, targets: targets, mask: mask,
                           n: N, scale: Float(1 / f.double("count")))
        XCTAssertEqual(fusedLoss, f.double("loss_sum"), accuracy: 1e-5 * max(1, abs(f.double("loss_sum"))))
        assertClose(fused, f.floats("dlogits_mean"), "in-place dlogits")
    }

    func testLayerNormMatchesPyTorch() throws {
        let f = try Fixture("layer_norm.json")
        let N = f.int("n"), C = f.int("size")
        let ln = LayerNorm(size: C)
        let x = f.floats("input"), w = f.floats("weight"), b = f.floats("bias")
        var y = [Float](repeating: 0, count: N * C), mu = [Float](repeating: 0, count: N), rs = mu
        ln.forward(output: &y, mean: &mu, rstd: &rs, input: x, weight: w, bias: b, n: N)
        assertClose(y, f.floats("output"), "output")
        var dx = [Float](repeating: 0, count: N * C), dw = [Float](repeating: 0, count: C), db = dw
        ln.backward(dinput: &dx, dweight: &dw, dbias: &db, doutput: f.floats("dout"), input: x, weight: w, mean: mu, rstd: rs, n: N)
        assertClose(dx, f.floats("dinput"), "dinput")
        assertClose(dw, f.floats("dweight"), "dweight")
        assertClose(db, f.floats("dbias"), "dbias")
    }
}
