import Foundation
import GLoMoGraph
import XCTest
@testable import LM

/// Run-directory JSON is snake_case (`config.json` like `summary.json` and `metrics.jsonl`, and
/// like the domain classifier's runs); `config.json` files written before 2026-12-06 have
/// camelCase keys and still load. The two camelCase files in Fixtures/camel-case were written by
/// that version of `lmtool train --glomo ... --schedule decay:1:0.5` and `lmtool pretrain-glomo`.
final class ConfigKeyStyleTests: XCTestCase {
    var dir: String!
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/camel-case").path

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("config-keys-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    /// Every object key of a JSON file, at any depth.
    func keys(_ path: String) throws -> Set<String> {
        var out = Set<String>()
        func walk(_ value: Any) {
            if let d = value as? [String: Any] { for (k, v) in d { out.insert(k); walk(v) } }
            if let a = value as? [Any] { a.forEach(walk) }
        }
        walk(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))))
        return out
    }

    func testAnOldCamelCaseRunConfigLoadsAndIsRewrittenInSnakeCase() throws {
        try FileManager.default.copyItem(atPath: fixtures + "/run-config.json", toPath: dir + "/config.json")
        let run = RunDirectory(path: dir)
        let config = try run.readConfig()
        // The values of the committed file, read by eye.
        XCTAssertEqual(config.model.hiddenSize, 4)
        XCTAssertEqual(config.model.embeddingSize, 4)
        XCTAssertEqual(config.model.vocabularySize, 10)
        XCTAssertEqual(config.model.tieWeights, false)
        XCTAssertEqual(config.model.initRange, 0.1)
        XCTAssertEqual(config.training.batchSize, 2)
        XCTAssertEqual(config.training.learningRate, 20)
        XCTAssertEqual(config.training.schedule, .decayAfter(epoch: 1, factor: 0.5))
        XCTAssertEqual(config.tokenization.splitSentences, false)
        XCTAssertEqual(config.vocabularyHash, "248a1df55502ce6f")
        XCTAssertEqual(config.glomo?.contentHash, "3cc7e727963d620a28639f39fcfd3165e2a0391d6d5f73c4ee317581fb256dfe")
        XCTAssertEqual(config.glomo?.path, "/runs/glomo")

        try run.writeConfig(config)
        let written = try keys(run.configPath)
        XCTAssertTrue(written.isSuperset(of: ["hidden_size", "tie_weights", "learning_rate", "decay_after", "split_sentences",
                                               "vocabulary_hash", "input_representation", "content_hash"]), "\(written.sorted())")
        XCTAssertTrue(written.allSatisfy { $0 == $0.lowercased() }, "camelCase keys left: \(written.sorted())")
        XCTAssertEqual(try run.readConfig(), config)
    }

    func testAnOldCamelCaseGLoMoConfigLoadsAndIsRewrittenInSnakeCase() throws {
        try FileManager.default.copyItem(atPath: fixtures + "/glomo-config.json", toPath: dir + "/config.json")
        let directory = GLoMoModelDirectory(path: dir)
        let config = try directory.readConfig()
        XCTAssertEqual(config.embeddingSize, 4)
        XCTAssertEqual(config.graph.convLayers, 2)
        XCTAssertEqual(config.graph.headSize, 2)
        XCTAssertEqual(config.pretraining.sequenceLength, 8)
        XCTAssertEqual(config.pretraining.positionsPerSequence, 8)
        XCTAssertEqual(config.pretraining.learningRate, 0.002)
        XCTAssertEqual(config.pretraining.steps, 2)

        try directory.writeConfig(config)
        let written = try keys(directory.configPath)
        XCTAssertTrue(written.isSuperset(of: ["embedding_size", "conv_layers", "positions_per_sequence", "learning_rate"]), "\(written.sorted())")
        XCTAssertTrue(written.allSatisfy { $0 == $0.lowercased() }, "camelCase keys left: \(written.sorted())")
        XCTAssertEqual(try directory.readConfig(), config)
    }
}
