import Corpus
import Foundation
import Support
import XCTest
@testable import GLoMoGraph

/// `GLoMoPretrainingRequest`, pretrain-glomo's setup as a library call: a new model from the
/// request's settings; `resume` applies only the settings that may change and refuses other
/// corpus files naming config.json; a softmax that does not fit is a `GLoMoConfigError`.
final class PretrainingRequestTests: XCTestCase {
    func testNewModelResumeAndRefusals() throws {
        let dir = try temporaryDirectory(self)
        let words = ["a", "b", "c", "d", "e", "f"]
        let text = (0..<400).map { words[($0 * $0 + $0 / 3) % words.count] }.joined(separator: " ")
        try text.write(toFile: dir + "/corpus.txt", atomically: true, encoding: .utf8)
        var request = GLoMoPretrainingRequest(runPath: dir + "/m", corpus: [dir + "/corpus.txt"])
        request.split = .train
        request.minCount = 1
        request.graph = GraphPredictorConfig(embeddingSize: 4, channels: 4, convLayers: 1, graphLayers: 1, heads: 2, headSize: 2)
        request.pretraining.sequenceLength = 8
        request.pretraining.batchSize = 2
        request.pretraining.positionsPerSequence = 2
        request.pretraining.steps = 3
        var lines: [String] = []
        let trainer = try request.prepare(log: { lines.append($0) })
        XCTAssertEqual(trainer.config.graph.embeddingSize, 4)
        XCTAssertEqual(trainer.config.vocabularySize, 8, "<unk>, <eos> and six words")
        XCTAssertNil(trainer.valid, "a --split trains without validation")
        XCTAssertEqual(lines.first?.hasPrefix("vocabulary 8 words"), true, "\(lines)")
        XCTAssertEqual(lines.last, "no valid split: validation loss not reported")
        guard case .stopped(nil, 2) = try trainer.train(stop: SessionStop(stepLimit: 2)) else { return XCTFail("not stopped") }

        var again = GLoMoPretrainingRequest(runPath: dir + "/m", corpus: [])
        again.split = .train
        again.resume = true
        again.steps = 5
        let resumed = try again.prepare(log: { _ in })
        XCTAssertEqual(resumed.state.step, 2)
        XCTAssertEqual(resumed.config.pretraining.steps, 5)
        XCTAssertEqual(try GLoMoModelDirectory(path: dir + "/m").readConfig().pretraining.steps, 5, "recorded in config.json")
        again.corpus = [dir + "/other.txt"]
        XCTAssertThrowsError(try again.prepare(log: { _ in })) { error in
            XCTAssertTrue("\(error)".hasPrefix(dir + "/m/config.json: --resume with other corpus files"), "\(error)")
        }

        var bad = request
        bad.runPath = dir + "/bad"
        bad.softmax = "adaptive:4,4"
        XCTAssertThrowsError(try bad.prepare(log: { _ in })) { error in
            XCTAssertTrue(error is GLoMoConfigError, "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad/config.json"), "nothing written")
    }
}
