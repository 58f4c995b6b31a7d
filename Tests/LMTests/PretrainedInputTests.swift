import Corpus
import Embeddings
import Foundation
import NN
import Support
import XCTest
@testable import LM
import NNTestSupport

/// Pretrained embeddings in the LM: `InputFactory` prepare/make/initialize end to end, frozen
/// tables that provably never change, gradients of finetune and concat, save/load.
final class PretrainedInputTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "pretrained-input-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `<unk> <eos> the cat sat on mat`: 7 ids.
    let vocabulary = try! Vocabulary(tokens: ["<unk>", "<eos>", "the", "cat", "sat", "on", "mat"], counts: [1, 9, 8, 5, 4, 3, 2])

    /// A word2vec text file: `the`, `cat`, `</s>` (found as `<eos>`) and `dog` (not in the
    /// vocabulary); word i (from 1) has component j = i/4 + j/8.
    func writeVectors(_ name: String, dimension d: Int) throws -> String {
        let words = ["the", "cat", "</s>", "dog"]
        var text = "\(words.count) \(d)\n"
        for (i, w) in words.enumerated() {
            text += w + (0..<d).map { " \(Float(i + 1) * 0.25 + Float($0) * 0.125)" }.joined() + "\n"
        }
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The value the file above holds for word number `i` (1-based), component `j`.
    func fileValue(_ i: Int, _ j: Int) -> Float { Float(i) * 0.25 + Float(j) * 0.125 }

    func config(E: Int = 4, H: Int = 5, tie: Bool = false, path: String?, mode: EmbeddingMode?) -> RunConfig {
        RunConfig(model: ModelConfig(vocabularySize: 7, embeddingSize: E, hiddenSize: H, layers: 1, dropout: 0, tieWeights: tie, initRange: 0.1),
                  training: Preset.tiny.training, corpus: .init(train: ["t.txt"]), tokenization: TokenizationOptions(),
                  vocabularyHash: vocabulary.contentHash,
                  inputRepresentation: .init(kind: .pretrained, path: path, mode: mode))
    }

    /// prepare → makeModel → initialize, as the trainer does; returns the model and report lines.
    func build(_ config: inout RunConfig, batchSize: Int = 2, maxSteps: Int = 3) throws -> (LanguageModel, [String]) {
        try InputFactory.prepare(&config, vocabulary: vocabulary)
        var rng = RNG(seed: 3)
        let model = try RunDirectory.makeModel(config: config, batchSize: batchSize, maxSteps: maxSteps, rng: &rng)
        let lines = try InputFactory.initialize(model, config: config, vocabulary: vocabulary)
        return (model, lines)
    }

    // MARK: prepare / initialize

    func testPrepareFillsHashModeAndFrozen() throws {
        let path = try writeVectors("v.txt", dimension: 4)
        var c = config(path: path, mode: nil)
        try InputFactory.prepare(&c, vocabulary: vocabulary)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(c.inputRepresentation.contentHash, SHA256.hexDigest(of: bytes))
        XCTAssertEqual(c.inputRepresentation.contentHash?.count, 64)
        XCTAssertEqual(c.inputRepresentation.mode, .frozen)
        XCTAssertEqual(c.inputRepresentation.frozen, true)
        var f = config(path: path, mode: .finetune)
        try InputFactory.prepare(&f, vocabulary: vocabulary)
        XCTAssertEqual(f.inputRepresentation.frozen, false)
    }

    func testInitializeCopiesFoundRowsAndReportsCoverage() throws {
        let path = try writeVectors("v.txt", dimension: 4)
        var c = config(path: path, mode: .frozen)
        let (model, lines) = try build(&c)
        // the (file word 1), cat (2), <eos> as </s> (3) found; <unk>, sat, on, mat missing.
        XCTAssertEqual(lines.first, "3 of 7 vocabulary words found in \(path) (0 by lowercase), 4 missing, initialised as the model's random init (uniform in ±0.1); missing: <unk> sat on mat")
        let table = model.store.values(model.store["encoder.weight"])
        for (id, fileRow) in [(2, 1), (3, 2), (1, 3)] {
            XCTAssertEqual(Array(table[(id * 4)..<(id * 4 + 4)]), (0..<4).map { fileValue(fileRow, $0) }, "id \(id)")
        }
        // Missing rows keep the random init in ±0.1 (and are not all zero).
        let unk = Array(table[0..<4])
        XCTAssertTrue(unk.allSatisfy { abs($0) <= 0.1 } && unk.contains { $0 != 0 }, "\(unk)")
    }

    /// The same vectors in every format give the same model rows and the same coverage.
    func testEveryFormatInitialisesTheSameRows() throws {
        let text = try writeVectors("v.txt", dimension: 4)
        let table = try EmbeddingFile.read(text)
        var results: [[Float]] = []
        for (name, format) in [("v.bin", EmbeddingFormat.word2vecBinary), ("v.glove", .glove), ("v.safetensors", .safetensors), ("v2.txt", .word2vecText)] {
            let path = directory + "/" + name
            try EmbeddingFile.write(table, to: path, format: format)
            var c = config(path: path, mode: .frozen)
            let (model, lines) = try build(&c)
            XCTAssertTrue(lines[0].hasPrefix("3 of 7 vocabulary words found in \(path)"), "\(name): \(lines[0])")
            results.append(Array(model.store.values(model.store["encoder.weight"])))
        }
        XCTAssertTrue(results.allSatisfy { $0 == results[0] })
        XCTAssertEqual(Array(results[0][8..<12]), (0..<4).map { fileValue(1, $0) })
    }

    func testLowercaseFallbackIsCounted() throws {
        let v = try Vocabulary(tokens: ["<unk>", "<eos>", "The", "cat"], counts: [1, 1, 1, 1])
        let path = try writeVectors("v.txt", dimension: 4)
        var c = config(path: path, mode: .finetune)
        c.model.vocabularySize = 4
        c.vocabularyHash = v.contentHash
        try InputFactory.prepare(&c, vocabulary: v)
        var rng = RNG(seed: 1)
        let model = try RunDirectory.makeModel(config: c, batchSize: 1, maxSteps: 1, rng: &rng)
        let lines = try InputFactory.initialize(model, config: c, vocabulary: v)
        XCTAssertTrue(lines[0].hasPrefix("3 of 4 vocabulary words found in \(path) (1 by lowercase), 1 missing"), lines[0])
    }

    /// A fallback row found through the lowercase lookup is a fallback row, not a lowercase hit:
    /// `the` and `of` share one vector (fallback rows), so `The` and `Of`, found as them, are
    /// fallbacks too; only `And` counts as found by lowercase. By hand: exact `the of and`,
    /// lowercase `The Of And`, fallbacks `The the Of of` (vocabulary order): 6 - 4 = 2 found
    /// (`And`, `and`), 1 by lowercase, 2 missing (`<unk>`, `<eos>`). The old line said "(3 by lowercase)".
    func testLowercaseCountLeavesOutFallbackRows() throws {
        let v = try Vocabulary(tokens: ["<unk>", "<eos>", "The", "the", "Of", "of", "And", "and"], counts: [1, 1, 1, 1, 1, 1, 1, 1])
        let path = directory + "/v.vec"
        try "3 4\nthe 0.1 0.2 0.3 0.4\nof 0.1 0.2 0.3 0.4\nand 0.5 -0.5 0.25 1.0\n".write(toFile: path, atomically: true, encoding: .utf8)
        var c = config(path: path, mode: .frozen)
        c.model.vocabularySize = 8
        c.vocabularyHash = v.contentHash
        try InputFactory.prepare(&c, vocabulary: v)
        var rng = RNG(seed: 1)
        let model = try RunDirectory.makeModel(config: c, batchSize: 1, maxSteps: 1, rng: &rng)
        let lines = try InputFactory.initialize(model, config: c, vocabulary: v)
        XCTAssertEqual(lines[0], "2 of 8 vocabulary words found in \(path) (1 by lowercase), 2 missing, "
                       + "initialised as the model's random init (uniform in ±0.1); missing: <unk> <eos>; "
                       + "4 more are fallback rows in the file (vectors shared exactly with other rows: The the Of of), "
                       + "not counted as found, loaded as the file has them")
    }

    func testFileChangedAfterPrepareIsRefused() throws {
        let path = try writeVectors("v.txt", dimension: 4)
        var c = config(path: path, mode: .frozen)
        try InputFactory.prepare(&c, vocabulary: vocabulary)
        try "2 4\nthe 1 2 3 4\ncat 1 2 3 5\n".write(toFile: path, atomically: true, encoding: .utf8)
        var rng = RNG(seed: 1)
        let model = try RunDirectory.makeModel(config: c, batchSize: 1, maxSteps: 1, rng: &rng)
        XCTAssertThrowsError(try InputFactory.initialize(model, config: c, vocabulary: vocabulary)) { error in
            XCTAssertTrue("\(error)".hasPrefix(path + ": the file changed"), "\(error)")
        }
    }

    // MARK: frozen stays frozen

    /// A few training steps (SGD with momentum and weight decay, clipping; Adam with weight decay)
    /// leave a frozen table bitwise identical, while finetune changes it.
    func testFrozenTableIsBitwiseUnchangedByTrainingAndFinetuneChanges() throws {
        let path = try writeVectors("v.txt", dimension: 4)
        let inputs: [Int32] = [2, 3, 4, 5, 6, 1], targets: [Int32] = [3, 4, 5, 6, 1, 2]
        for mode: EmbeddingMode in [.frozen, .finetune, .concat] {
            for optimizerName in ["sgd", "adam"] {
                var c = config(path: path, mode: mode)
                let (model, _) = try build(&c)
                let tableName = mode == .concat ? "encoder.pretrained.weight" : "encoder.weight"
                let before = Array(model.store.values(model.store[tableName]))
                let others = Array(model.store.values(model.store["rnn.weight_ih_l0"]))
                let optimizer: Optimizer = optimizerName == "sgd" ? SGD(momentum: 0.9, weightDecay: 0.01) : Adam(weightDecay: 0.01)
                var rng = RNG(seed: 2)
                for _ in 0..<4 {
                    model.store.zeroGradients()
                    model.forward(inputs: inputs, targets: targets, steps: 3, training: true, rng: &rng)
                    model.backward()
                    model.store.clipGradientNorm(maxNorm: 0.25)
                    optimizer.step(model.store, learningRate: optimizerName == "sgd" ? 1 : 0.01)
                }
                let after = Array(model.store.values(model.store[tableName]))
                XCTAssertNotEqual(Array(model.store.values(model.store["rnn.weight_ih_l0"])), others, "\(mode) \(optimizerName): nothing trained")
                if mode == .finetune {
                    XCTAssertNotEqual(after, before, "\(mode) \(optimizerName)")
                } else {
                    XCTAssertEqual(after.map(\.bitPattern), before.map(\.bitPattern), "\(mode) \(optimizerName)")
                }
            }
        }
    }

    // MARK: gradients

    let T = 3, B = 2
    let gcInputs: [Int32] = [1, 4, 0, 6, 2, 2]
    let gcTargets: [Int32] = [4, 0, 6, 2, 5, 3]

    func meanLoss(_ model: LanguageModel, _ values: [Float]) -> Double {
        let v = model.store.values
        for i in 0..<values.count { v[i] = values[i] }
        model.resetState()
        var rng = RNG(seed: 1)
        let (loss, count) = model.forward(inputs: gcInputs, targets: gcTargets, steps: T, training: false, rng: &rng)
        return loss / Double(count)
    }

    /// Finite differences of the whole LM's mean loss against every trainable parameter; the
    /// frozen table's gradient must be exactly zero.
    func gradientCheck(_ input: PretrainedInput, tie: Bool = false, file: StaticString = #filePath, line: UInt = #line) {
        let model_ = ModelConfig(vocabularySize: 7, embeddingSize: input.embeddingSize, hiddenSize: 4, layers: 1,
                                 dropout: 0, tieWeights: tie, initRange: 0.5)
        var rng = RNG(seed: 5)
        let model = LanguageModel(config: model_, input: input, batchSize: B, maxSteps: T, rng: &rng)
        let values = model.store.copyOfValues()
        model.store.zeroGradients()
        _ = meanLoss(model, values)
        model.backward()
        let gradients = model.store.copyOfGradients()
        for view in model.store.views where model.store.isFrozen(view) {
            XCTAssertTrue(gradients[view.range].allSatisfy { $0 == 0 }, "\(view.name) is frozen but has a gradient", file: file, line: line)
        }
        for range in model.store.trainableRanges {
            let analytic = Array(gradients[range])
            XCTAssertTrue(analytic.contains { $0 != 0 }, "gradient is all zero", file: file, line: line)
            let r = GradCheck.compare(values: Array(values[range]), analytic: analytic, eps: 1e-2, rtol: 1e-2, atol: 1e-4) { sub in
                var all = values
                all.replaceSubrange(range, with: sub)
                return self.meanLoss(model, all)
            }
            XCTAssertTrue(r.passed, "\(input.mode): \(r)", file: file, line: line)
        }
    }

    func testGradientsOfConcatProjectionPath() {
        let input = PretrainedInput(mode: .concat, vocabularySize: 7, pretrainedSize: 2, embeddingSize: 3)
        gradientCheck(input)
    }

    func testGradientsOfFinetunePathTiedAndUntied() {
        gradientCheck(PretrainedInput(mode: .finetune, vocabularySize: 7, pretrainedSize: 3, embeddingSize: 3))
        gradientCheck(PretrainedInput(mode: .finetune, vocabularySize: 7, pretrainedSize: 4, embeddingSize: 4), tie: true)
    }

    func testGradientsWithFrozenTable() {
        gradientCheck(PretrainedInput(mode: .frozen, vocabularySize: 7, pretrainedSize: 3, embeddingSize: 3))
    }

    /// concat's output is P · [pretrained ; trainable], checked on one token by hand.
    func testConcatForwardByHand() {
        let input = PretrainedInput(mode: .concat, vocabularySize: 2, pretrainedSize: 1, embeddingSize: 2)
        let store = ParameterStore()
        input.register(in: store)
        XCTAssertEqual(store.views.map(\.name), ["encoder.pretrained.weight", "encoder.weight", "encoder.projection.weight"])
        XCTAssertEqual(store.views.map(\.shape), [[2, 1], [2, 2], [2, 3]])
        XCTAssertEqual(store.trainableCount, 4 + 6)
        store.set(store["encoder.pretrained.weight"], to: Tensor(shape: [2, 1], [5, 7]))
        store.set(store["encoder.weight"], to: Tensor(shape: [2, 2], [1, 2, 3, 4]))
        store.set(store["encoder.projection.weight"], to: Tensor(shape: [2, 3], [1, 0, 1, 0, 2, -1]))
        var out = [Float](repeating: 0, count: 2)
        let ids: [Int32] = [1]
        out.withUnsafeMutableBufferPointer { o in
            ids.withUnsafeBufferPointer { input.forward(output: o.baseAddress!, ids: $0.baseAddress!, count: 1, store: store) }
        }
        // [7 ; 3 4]: row 0 = 7 + 4 = 11, row 1 = 2·3 − 4 = 2.
        XCTAssertEqual(out, [11, 2])
    }

    // MARK: save and load

    func testSavedRunReloadsFrozenAndConcatModels() throws {
        let path = try writeVectors("v.bin", dimension: 2)
        // Convert to binary so the header-width path of make() is exercised on binary too.
        try EmbeddingFile.write(try EmbeddingFile.read(path, format: .word2vecText), to: path, format: .word2vecBinary)
        for (mode, E) in [(EmbeddingMode.frozen, 2), (.concat, 3)] {
            var c = config(E: E, path: path, mode: mode)
            let (model, _) = try build(&c)
            let run = try RunDirectory.create(at: directory + "/run-\(mode)", config: c, vocabulary: vocabulary)
            try run.saveModel(model, config: c)
            let loaded = try run.loadModel(config: c, batchSize: 1, maxSteps: 2)
            XCTAssertEqual(loaded.store.views.map(\.name), model.store.views.map(\.name), mode.rawValue)
            XCTAssertEqual(loaded.store.copyOfValues(), model.store.copyOfValues(), mode.rawValue)
            XCTAssertEqual(loaded.store.trainableCount, model.store.trainableCount, mode.rawValue)
            XCTAssertLessThan(loaded.store.trainableCount, loaded.store.count, mode.rawValue)
        }
    }

    // MARK: errors

    func assertPrepareFails(_ c: RunConfig, prefix: String, contains: String, line: UInt = #line) {
        var c = c
        XCTAssertThrowsError(try InputFactory.prepare(&c, vocabulary: vocabulary), line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix(prefix), "expected prefix \(prefix): \(text)", line: line)
            XCTAssertTrue(text.contains(contains), "expected \"\(contains)\": \(text)", line: line)
            XCTAssertFalse(text.contains("\n"), "not one line: \(text)", line: line)
        }
    }

    func testDimensionThatDoesNotFitTheModeIsAnError() throws {
        let path = try writeVectors("v.txt", dimension: 3)
        assertPrepareFails(config(E: 4, path: path, mode: .frozen), prefix: path + ": ", contains: "3-dimensional vectors do not fit --embedding-mode frozen with --embedding-size 4")
        assertPrepareFails(config(E: 4, path: path, mode: .finetune), prefix: path + ": ", contains: "do not fit --embedding-mode finetune")
        var ok = config(E: 4, path: path, mode: .concat)
        XCTAssertNoThrow(try InputFactory.prepare(&ok, vocabulary: vocabulary))
    }

    func testTyingIsRefusedWithFrozenAndConcat() throws {
        let path = try writeVectors("v.txt", dimension: 4)
        assertPrepareFails(config(E: 4, H: 4, tie: true, path: path, mode: .frozen), prefix: path + ": ", contains: "--tie-weights cannot be used with --embedding-mode frozen")
        assertPrepareFails(config(E: 4, H: 4, tie: true, path: path, mode: .concat), prefix: path + ": ", contains: "--embedding-mode concat")
        var ok = config(E: 4, H: 4, tie: true, path: path, mode: .finetune)
        XCTAssertNoThrow(try InputFactory.prepare(&ok, vocabulary: vocabulary))
        XCTAssertThrowsError(try InputFactory.make(config(E: 4, tie: true, path: path, mode: .frozen).inputRepresentation,
                                                   model: config(E: 4, tie: true, path: path, mode: .frozen).model))
    }

    func testUnknownModeAndMissingPathAreErrors() throws {
        let path = try writeVectors("v.txt", dimension: 4)
        // An unknown mode cannot be built: config.json refuses it when read (RunModelTests).
        assertPrepareFails(config(path: nil, mode: .frozen), prefix: "input representation 'pretrained' names no embeddings file", contains: "file")
        assertPrepareFails(config(path: directory + "/absent.vec", mode: .frozen), prefix: directory + "/absent.vec", contains: "no such file")
    }

    func testFileSharingNoWordWithTheVocabularyIsAnError() throws {
        let path = directory + "/other.txt"
        try "2 4\nhund 1 2 3 4\nkatze 1 2 3 5\n".write(toFile: path, atomically: true, encoding: .utf8)
        assertPrepareFails(config(path: path, mode: .frozen), prefix: path + ": ", contains: "none of the 7 vocabulary words is in the file")
    }

    /// Bad embedding files, end to end through `prepare`: one line naming the file and line/offset.
    func testBadFilesAreOneLineErrorsNamingFileAndLine() throws {
        let cases: [(String, String, String)] = [
            ("dims.txt", "2 4\nthe 1 2 3 4\ncat 1 2 3\n", ":3: 3 values, but the header says 4"),
            ("nan.txt", "2 4\nthe 1 2 3 4\ncat 1 x 3 4\n", ":3: value 2 of \"cat\" is not a number"),
            ("dup.txt", "2 4\nthe 1 2 3 4\nthe 1 2 3 4\n", ":3: duplicate word \"the\""),
            ("more.txt", "3 4\nthe 1 2 3 4\ncat 1 2 3 4\n", "the header announces 3 rows, the file has 2"),
            ("fewer.txt", "1 4\nthe 1 2 3 4\ncat 1 2 3 4\n", ":3: more rows than the 1 the header announces"),
            ("glove.txt", "the 1 2 3 4\ncat 1 2 3\n", ":2: 3 values, but the first row has 4"),
        ]
        for (name, text, expected) in cases {
            let path = directory + "/" + name
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            assertPrepareFails(config(path: path, mode: .frozen), prefix: path, contains: expected)
        }
        // A binary file cut inside the values of its second row.
        let good = try writeVectors("good.txt", dimension: 4)
        let bin = directory + "/cut.bin"
        try EmbeddingFile.write(try EmbeddingFile.read(good), to: bin, format: .word2vecBinary)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: bin))
        try bytes.prefix(bytes.count - 30).write(to: URL(fileURLWithPath: bin))
        assertPrepareFails(config(path: bin, mode: .frozen), prefix: bin + ": byte ", contains: "truncated")
    }
}
