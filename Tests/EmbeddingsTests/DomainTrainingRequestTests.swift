import Corpus
import Foundation
import Support
import XCTest
@testable import Embeddings

/// `DomainTrainingRequest`, pretrain-domain's setup as a library call: a new run from the
/// request's settings; resuming a finished run asks for nothing more (nil, one note) unless
/// `epochs` grows; a corpus with other domains than the run's is refused naming config.json.
final class DomainTrainingRequestTests: XCTestCase {
    func testNewRunResumeAndOtherDomains() throws {
        let dir = try TempDir()
        let corpus = try dir.write("toy.jsonl", separableCorpus())
        var request = DomainTrainingRequest(runPath: dir.path("run"), corpus: [corpus])
        request.embeddingSize = 6
        request.hiddenSize = 5
        request.epochs = 1
        request.batchSize = 8
        request.granularity = .sentence
        var lines: [String] = []
        let trainer = try XCTUnwrap(try request.prepare(log: { lines.append($0) }))
        XCTAssertEqual(trainer.config.model.embeddingSize, 6)
        XCTAssertEqual(trainer.config.model.hiddenSize, 5)
        XCTAssertEqual(trainer.config.model.classCount, 2)
        XCTAssertEqual(trainer.config.domains, ["fruit", "tools"])
        XCTAssertTrue(trainer.config.tokenization.splitSentences, "sentence granularity cuts documents into sentences")
        XCTAssertEqual(trainer.config.training.learningRate, 3e-3, "the sentence default")
        XCTAssertTrue(lines.contains { $0.hasPrefix("corpus: train ") }, "\(lines)")
        XCTAssertTrue(lines.last?.hasPrefix("model: embedding ") == true, "\(lines)")
        guard case .finished = try trainer.train(resume: false) else { return XCTFail("not finished") }

        var again = request
        again.resume = true
        lines = []
        XCTAssertNil(try again.prepare(log: { lines.append($0) }))
        XCTAssertEqual(lines, ["\(dir.path("run")): the run already finished (1 epochs); nothing to do (pass a larger --epochs to continue it)"])
        again.epochs = 2
        let more = try XCTUnwrap(try again.prepare(log: { _ in }))
        XCTAssertEqual(more.config.training.epochs, 2)
        XCTAssertFalse(more.run.isFinished, "a finished run continued is unfinished until its new summary")

        let other = try dir.write("other.jsonl", #"{"text": "a b c", "domain": "x", "split": "train"}"# + "\n"
                                   + #"{"text": "a b d", "domain": "y", "split": "train"}"# + "\n")
        again.corpus = [other]
        XCTAssertThrowsError(try again.prepare(log: { _ in })) { error in
            XCTAssertEqual("\(error)", "\(dir.path("run"))/config.json: the run was trained on domains fruit,tools, the corpus has x,y")
        }
    }
}
