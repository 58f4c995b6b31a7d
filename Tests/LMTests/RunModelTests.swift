import Corpus
import Foundation
import NN
import XCTest
@testable import LM

final class RunModelTests: XCTestCase {
    var directory = ""

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func makeRun() throws -> (RunDirectory, RunConfig) {
        directory = NSTemporaryDirectory() + "lm-run-model-\(UUID().uuidString)"
        let vocabulary = try Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat"], counts: [1, 2, 5, 3])
        let config = RunConfig(model: ModelConfig(vocabularySize: 4, embeddingSize: 3, hiddenSize: 5, layers: 2, dropout: 0, initRange: 0.1),
                               training: Preset.tiny.training, corpus: .init(train: ["t.txt"]),
                               tokenization: TokenizationOptions(), vocabularyHash: vocabulary.contentHash)
        return (try RunDirectory.create(at: directory, config: config, vocabulary: vocabulary), config)
    }

    func testSavedModelLoadsBackWithIdenticalParametersAndScores() throws {
        let (run, config) = try makeRun()
        var rng = RNG(seed: 7)
        let model = try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 4, rng: &rng)
        try run.saveModel(model, config: config)
        let loaded = try run.loadModel(config: config, batchSize: 1, maxSteps: 4)
        XCTAssertEqual(loaded.store.copyOfValues(), model.store.copyOfValues())
        XCTAssertEqual(loaded.store.views.map(\.name), model.store.views.map(\.name))
        // A fresh model from another seed differs, so the comparison above can fail.
        var other = RNG(seed: 8)
        XCTAssertNotEqual(try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 4, rng: &other).store.copyOfValues(),
                          model.store.copyOfValues())
    }

    func testLoadingWithoutAModelOrWithAnotherVocabularyIsAClearError() throws {
        let (run, config) = try makeRun()
        XCTAssertThrowsError(try run.loadModel(config: config, batchSize: 1, maxSteps: 4)) { error in
            XCTAssertTrue("\(error)".hasPrefix(run.modelPath + ": no trained model"), "\(error)")
        }
        var rng = RNG(seed: 7)
        let model = try RunDirectory.makeModel(config: config, batchSize: 1, maxSteps: 4, rng: &rng)
        var otherConfig = config
        otherConfig.vocabularyHash = "0123456789abcdef"
        try run.saveModel(model, config: otherConfig)
        XCTAssertThrowsError(try run.loadModel(config: config, batchSize: 1, maxSteps: 4)) { error in
            XCTAssertEqual("\(error)", "\(run.modelPath): vocabulary hash mismatch: the model was saved with 0123456789abcdef, config.json says \(config.vocabularyHash)")
        }
    }

    /// An unknown choice in config.json (input kind, embedding mode, GLoMo site or weights) is
    /// refused when the run is opened, with one line naming the file, the value and the field
    /// (by its Swift path, as `RunConfig.checkSizes()` names sizes).
    func testUnknownChoicesInConfigAreRefusedNamingTheField() throws {
        let (run, _) = try makeRun()
        let text = try String(contentsOfFile: run.configPath, encoding: .utf8)
        let input = #""input_representation" : {"#
        XCTAssertTrue(text.contains(input + "\n    \"kind\" : \"random\""), text)
        let glomo = #""glomo" : {"path": "/g", "content_hash": "h", "on": "hidden", "weights": "global"}, "#
        let cases: [(from: String, to: String, expected: String)] = [
            (#""kind" : "random""#, #""kind" : "telepathy""#,
             #"unknown value "telepathy" (expected one of random, pretrained) at inputRepresentation.kind"#),
            // A damaged config.json's string is quoted with escapes: the error stays one line.
            (#""kind" : "random""#, #""kind" : "tele\npathy""#,
             #"unknown value "tele\npathy" (expected one of random, pretrained) at inputRepresentation.kind"#),
            (input, input + #""mode": "melted", "#,
             #"unknown value "melted" (expected one of frozen, finetune, concat) at inputRepresentation.mode"#),
            (input, glomo.replacingOccurrences(of: #""hidden""#, with: #""attention""#) + input,
             #"unknown value "attention" (expected one of embeddings, hidden) at glomo.on"#),
            (input, glomo.replacingOccurrences(of: #""global""#, with: #""local""#) + input,
             #"unknown value "local" (expected one of global, per-token) at glomo.weights"#),
            (input, #""reading": {"format": "xml", "replace_invalid": false, "max_line_bytes": 100}, "# + input,
             #"unknown value "xml" (expected one of auto, lines, jsonl) at reading.format"#),
        ]
        for (from, to, expected) in cases {
            try text.replacingOccurrences(of: from, with: to).write(toFile: run.configPath, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try RunDirectory.open(at: directory), expected) { error in
                XCTAssertEqual("\(error)", "\(run.configPath): not a run configuration: " + expected)
            }
        }
        // The same file with the right values loads (so the edits above are what is refused).
        try text.replacingOccurrences(of: input, with: glomo + input).write(toFile: run.configPath, atomically: true, encoding: .utf8)
        XCTAssertEqual(try RunDirectory.open(at: directory).config.glomo, .init(path: "/g", contentHash: "h", on: .hidden, weights: .global))
        // The recorded reading options: a line length below 1 is refused, good ones load.
        try text.replacingOccurrences(of: input, with: #""reading": {"format": "lines", "replace_invalid": false, "max_line_bytes": 0}, "# + input)
            .write(toFile: run.configPath, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RunDirectory.open(at: directory)) { error in
            XCTAssertEqual("\(error)", "\(run.configPath): reading.maxLineBytes must be at least 1, got 0")
        }
        try text.replacingOccurrences(of: input, with: #""reading": {"format": "jsonl", "replace_invalid": true, "max_line_bytes": 100}, "# + input)
            .write(toFile: run.configPath, atomically: true, encoding: .utf8)
        let reading = try RunDirectory.open(at: directory).config.reading
        XCTAssertEqual(reading?.format, .jsonl)
        XCTAssertEqual(reading?.replaceInvalidUTF8, true)
        XCTAssertEqual(reading?.maxLineBytes, 100)
    }
}
