import Support
import XCTest
@testable import NN

final class TrainingCheckpointTests: XCTestCase {
    func makeStore() -> ParameterStore {
        let s = ParameterStore()
        s.register("encoder.weight", shape: [4, 3])
        s.register("decoder.bias", shape: [4])
        return s
    }

    func testSaveAndRestoreResumesExactly() throws {
        let path = NSTemporaryDirectory() + "nn-ckpt-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var rng = RNG(seed: 11)
        let store = makeStore()
        for i in 0..<store.count { store.values[i] = rng.uniform(-1, 1) }
        let adam = Adam(weightDecay: 0.01)
        func trainStep(_ s: ParameterStore, _ o: Adam, _ r: inout RNG) {
            for i in 0..<s.count { s.gradients[i] = r.normal() + s.values[i] }
            o.step(s, learningRate: 0.01)
        }
        trainStep(store, adam, &rng)
        try TrainingCheckpoint.save(to: path, parameters: store, optimizer: adam, rngs: ["data": rng],
                                    metadata: ["epoch": "1", "vocab_hash": "abc"])
        // Continue the original for two steps.
        trainStep(store, adam, &rng)
        trainStep(store, adam, &rng)

        let resumed = makeStore()
        let adam2 = Adam(weightDecay: 0.01)
        let (rngs, metadata) = try TrainingCheckpoint.restore(from: path, parameters: resumed, optimizer: adam2)
        XCTAssertEqual(metadata, ["epoch": "1", "vocab_hash": "abc"])
        XCTAssertEqual(adam2.stepCount, 1)
        var rng2 = try XCTUnwrap(rngs["data"])
        trainStep(resumed, adam2, &rng2)
        trainStep(resumed, adam2, &rng2)
        XCTAssertEqual(resumed.copyOfValues(), store.copyOfValues())
        XCTAssertEqual(rng2.state, rng.state)

        // The file is a plain safetensors file with the documented names.
        let file = try SafetensorsFile(contentsOf: path)
        XCTAssertEqual(Set(file.tensors.keys), ["encoder.weight", "decoder.bias", "optimizer.step",
                                                "optimizer.exp_avg.encoder.weight", "optimizer.exp_avg.decoder.bias",
                                                "optimizer.exp_avg_sq.encoder.weight", "optimizer.exp_avg_sq.decoder.bias",
                                                "rng.data"])
    }

    func testMismatchedModelIsAnErrorNamingTheFile() throws {
        let path = NSTemporaryDirectory() + "nn-ckpt-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try TrainingCheckpoint.save(to: path, parameters: makeStore())
        let other = ParameterStore()
        other.register("encoder.weight", shape: [4, 5])
        other.values[0] = 3
        let sgd = SGD(momentum: 0.9)
        XCTAssertThrowsError(try TrainingCheckpoint.restore(from: path, parameters: other, optimizer: sgd)) { error in
            XCTAssertTrue(error is FileError)
            XCTAssertTrue("\(error)".hasPrefix(path + ": "), "\(error)")
            XCTAssertTrue("\(error)".contains("encoder.weight"), "\(error)")
        }
        XCTAssertEqual(other.values[0], 3)
        // The right model but no optimizer state in the file.
        XCTAssertThrowsError(try TrainingCheckpoint.restore(from: path, parameters: makeStore(), optimizer: sgd)) { error in
            XCTAssertTrue("\(error)".contains("optimizer.step"), "\(error)")
        }
    }
}
