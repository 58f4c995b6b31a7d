import Foundation
import FuzzSupport
import XCTest
@testable import LM

/// What a spec may say, and what the report may read: unknown fields, `pretraining.extra`, the
/// baseline, `file:` sources of the same name, a results path that is a file, impossible values
/// in a run's files. Every refusal is one line naming the file it comes from.
final class AblationSpecTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ablation-spec-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try write("c.jsonl", "{\"text\": \"a b\", \"split\": \"train\"}\n")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// `train` holds the values `lmtool train` takes, checked when the spec is read: a value of
    /// the wrong type is one line naming the spec file and the field; a good one renders as given.
    func testTrainOptionsAreCheckedWhenReadAndRenderedAsGiven() throws {
        let corpus = "\"corpus\": [\"\(dir!)/c.jsonl\"]"
        func refused(_ train: String) throws -> String {
            let path = try write("bad.json", "{\(corpus), \"train\": {\(train)}}")
            var message = ""
            XCTAssertThrowsError(try AblationSpec.load(from: path), train) { message = "\($0)" }
            XCTAssertTrue(message.hasPrefix(path + ": "), message)
            XCTAssertFalse(message.contains("\n"), message)
            return String(message.dropFirst(path.count + 2))
        }
        XCTAssertEqual(try refused(#""bptt": "long""#), "train.bptt: 'long' is not an integer")
        XCTAssertEqual(try refused(#""bptt": 3.5"#), "train.bptt: '3.5' is not an integer")
        XCTAssertEqual(try refused(#""lr": "fast""#), "train.lr: 'fast' is not a number")
        XCTAssertEqual(try refused(#""optimizer": "rmsprop""#), "train.optimizer: 'rmsprop' is not one of sgd, adam, adagrad")
        XCTAssertEqual(try refused(#""preset": "huge""#), "train.preset: 'huge' is not one of tiny, small, medium")
        XCTAssertEqual(try refused(#""glomo-weights": "local""#), "train.glomo-weights: 'local' is not one of global, per-token")
        XCTAssertEqual(try refused(#""tie-weights": "yes""#), "train.tie-weights: a flag without a value: true or false, not 'yes'")
        XCTAssertEqual(try refused(#""batching": "dia\ngonal""#), #"train.batching: 'dia\ngonal' is not one of discourse, sentence"#)
        XCTAssertTrue(try refused(#""schedule": "decay:4""#).hasPrefix("train.schedule: --schedule 'decay:4': expected constant"))
        XCTAssertTrue(try refused(#""softmax": "sampled""#).hasPrefix("train.softmax: --softmax 'sampled'"))
        XCTAssertTrue(try refused(#""epochz": 2"#).hasPrefix("train.epochz: not an lmtool train option a spec may set (known: "))
        XCTAssertEqual(try refused(#""seed": 2"#), "train option --seed is set by ablate itself")

        let path = try write("good.json", "{\(corpus), \"train\": {\"preset\": \"tiny\", \"lr\": 0.002, \"bptt\": \"35\", \"epochs\": 3, "
                                 + "\"tie-weights\": false, \"no-tie-weights\": true, \"schedule\": \"decay:4:0.5\", \"dropout\": \"2e-1\"}}")
        let spec = try AblationSpec.load(from: path)
        XCTAssertEqual(spec.train.arguments, ["--bptt", "35", "--dropout", "2e-1", "--epochs", "3", "--lr", "0.002", "--no-tie-weights",
                                              "--preset", "tiny", "--schedule", "decay:4:0.5"])
        XCTAssertEqual(spec.train.preset, .tiny)
        XCTAssertEqual(spec.train.integer("epochs"), 3)
        // Written (ablation.json) as strings, as before, and read back equal.
        let written = try XCTUnwrap(JSONSerialization.jsonObject(with: spec.jsonData()) as? [String: Any])
        XCTAssertEqual(written["train"] as? [String: String], ["preset": "tiny", "lr": "0.002", "bptt": "35", "epochs": "3", "no-tie-weights": "true",
                                                               "schedule": "decay:4:0.5", "dropout": "2e-1"])
        XCTAssertEqual(try JSONDecoder().decode(AblationSpec.self, from: spec.jsonData()).train, spec.train)
        // Without a preset, runs get small's; set() checks as reading does.
        var overrides: TrainOverrides = [:]
        XCTAssertEqual(overrides.arguments, ["--preset", "small"])
        XCTAssertThrowsError(try overrides.set("layers", "two")) { XCTAssertEqual("\($0)", "train.layers: 'two' is not an integer") }
        XCTAssertTrue(overrides.isEmpty)
        // A spec built in code is checked by validate().
        XCTAssertThrowsError(try AblationSpec(corpus: [dir + "/c.jsonl"], train: ["batch-size": "many"]).validate()) {
            XCTAssertEqual("\($0)", "train.batch-size: 'many' is not an integer")
        }
    }

    /// A spec read through a real pipe (`lmtool ablate --spec <(...)`), plain or with a UTF-8
    /// byte order mark, is the spec read from the file.
    func testSpecThroughAPipeReadsLikeTheFile() throws {
        let text = "{\"corpus\": [\"\(dir!)/c.jsonl\"], \"sources\": [\"random\"], \"seeds\": 2}\n"
        let onDisk = try AblationSpec.load(from: try write("spec.json", text))
        XCTAssertEqual(onDisk.seeds, 2)
        for bytes in [Array(text.utf8), [0xEF, 0xBB, 0xBF] + Array(text.utf8)] {
            var piped = try PipeFeeder.withPipe(bytes) { try AblationSpec.load(from: $0) }
            piped.origin = onDisk.origin
            XCTAssertEqual(piped, onDisk)
        }
    }

    /// The one-line error of `body`, or a failure if it throws none.
    func error(_ body: () throws -> Any, file: StaticString = #filePath, line: UInt = #line) -> String {
        do { _ = try body() } catch {
            let text = "\(error)"
            XCTAssertFalse(text.contains("\n"), text, file: file, line: line)
            return text
        }
        XCTFail("no error", file: file, line: line)
        return ""
    }

    func testUnknownFieldsAreRefusedAtEveryLevelNamingFileAndField() throws {
        let cases: [(String, String)] = [
            ("{\"sedes\": 2}", "unknown field 'sedes'"),
            ("{\"corpusOptions\": {\"lowercas\": true}}", "unknown field 'corpusOptions.lowercas'"),
            ("{\"vocabulary\": {\"maxsize\": 10}}", "unknown field 'vocabulary.maxsize'"),
            ("{\"pretraining\": {\"epochz\": 2}}", "unknown field 'pretraining.epochz'"),
        ]
        for (i, (json, message)) in cases.enumerated() {
            let path = try write("spec\(i).json", json)
            XCTAssertTrue(error { try AblationSpec.load(from: path) }.hasPrefix("\(path): \(message) (known: "), json)
        }
        // Known fields, null ones included, still load.
        let good = try write("good.json", "{\"seeds\": 2, \"corpusOptions\": {\"lowercase\": true}, \"vocabulary\": null, \"pretraining\": {\"epochs\": 1}}")
        let spec = try AblationSpec.load(from: good)
        XCTAssertEqual(spec.seeds, 2)
        XCTAssertEqual(spec.corpusOptions.lowercase, true)
        XCTAssertEqual(spec.origin, good)
    }

    /// A repeated key is an error naming the file, the line, the byte of the line and the key,
    /// at any level (Python's json reads the last value, Foundation's decoder the first: old code
    /// planned 2 seeds with --epochs 1 from this spec, Python reads 5 and 7). A trailing comma,
    /// which Foundation on Linux accepts, is refused too.
    func testRepeatedKeysAndTrailingCommasInASpecAreRefused() throws {
        let brief = try write("dup.json", #"{"sources":["random"],"seeds":2,"seeds":5,"train":{"epochs":1,"epochs":7}}"#)
        XCTAssertEqual(error { try AblationSpec.load(from: brief) }, "\(brief):1: not valid JSON: repeated key \"seeds\" (byte 33 of the line)")
        let nested = try write("nested.json", #"{"train":{"epochs":1,"epochs":7}}"#)
        XCTAssertEqual(error { try AblationSpec.load(from: nested) }, "\(nested):1: not valid JSON: repeated key \"epochs\" (byte 22 of the line)")
        let lines = try write("lines.json", "{\n  \"seeds\": 2,\n  \"seeds\": 5\n}\n")
        XCTAssertEqual(error { try AblationSpec.load(from: lines) }, "\(lines):3: not valid JSON: repeated key \"seeds\" (byte 3 of the line)")
        // An escape does not hide the repeat: Python reads "se\u0065ds" as seeds.
        let escaped = try write("escaped.json", #"{"seeds":2,"se\u0065ds":5}"#)
        XCTAssertEqual(error { try AblationSpec.load(from: escaped) }, #"\#(escaped):1: not valid JSON: repeated key "se\u0065ds" (byte 12 of the line)"#)
        let comma = try write("comma.json", "{\"seeds\": 2,}")
        XCTAssertEqual(error { try AblationSpec.load(from: comma) }, "\(comma):1: not valid JSON: trailing comma before } (byte 13 of the line)")
        // The same keys once each, and a byte order mark, still load.
        let good = try write("good.json", "\u{FEFF}{\"sources\":[\"random\"],\"seeds\":5,\"train\":{\"epochs\":7}}")
        let spec = try AblationSpec.load(from: good)
        XCTAssertEqual(spec.seeds, 5)
        XCTAssertEqual(spec.train.integer("epochs"), 7)
    }

    /// summary.json is read as strictly: `test_ppl` twice (100, then 500) is an error naming the
    /// file and the key; old code read 100. A byte order mark is skipped.
    func testRepeatedKeyInASummaryIsRefusedNamingFileAndKey() throws {
        let run = dir + "/r/runs/random-seed1"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let fields = #""epochs":1,"parameters":100,"seconds":1.0,"stop_reason":"finished 1 epochs","test_ppl":100,"#
        try Data(("{" + fields + #""test_ppl":500,"trainable_parameters":100,"valid_ppl":100}"# + "\n").utf8).write(to: URL(fileURLWithPath: run + "/summary.json"))
        XCTAssertEqual(error { try AblationReport.make(results: self.dir + "/r") },
                       "\(run)/summary.json:1: not valid JSON: repeated key \"test_ppl\" (byte 93 of the line)")
        try Data(([0xEF, 0xBB, 0xBF] + Array(("{" + fields + #""trainable_parameters":100,"valid_ppl":100}"# + "\n").utf8))).write(to: URL(fileURLWithPath: run + "/summary.json"))
        XCTAssertEqual(try AblationReport.make(results: dir + "/r").rows.first?.testPPLMean, 100)
    }

    /// A number no integer field holds (a fraction, or beyond Int) names the field and what it
    /// must be; old code said "The given data was not valid JSON" (it is valid JSON) and named none.
    func testNonIntegerNumbersNameTheFieldAndWhatItMustBe() throws {
        let cases: [(String, String)] = [
            (#"{"seeds": 2.5}"#, "seeds must be an integer from 1 to 1000, got 2.5"),
            (#"{"seeds": 1e30}"#, "seeds must be an integer from 1 to 1000, got 1e+30"),
            (#"{"grids": [{"sources": ["random"], "seeds": 2.5}]}"#, "grids[].seeds must be an integer from 1 to 1000, got 2.5"),
            (#"{"vocabulary": {"maxSize": 1e30}}"#, "vocabulary.maxSize must be an integer, got 1e+30"),
            (#"{"pretraining": {"epochs": 0.5}}"#, "pretraining.epochs must be an integer, got 0.5"),
        ]
        for (i, (json, message)) in cases.enumerated() {
            let path = try write("n\(i).json", json)
            XCTAssertEqual(error { try AblationSpec.load(from: path) }, "\(path): \(message)", json)
        }
        // Integers, written as such, still load.
        XCTAssertEqual(try AblationSpec.load(from: try write("ok.json", #"{"seeds": 7, "vocabulary": {"maxSize": 100}}"#)).seeds, 7)
    }

    func testSpecErrorsNameTheSpecFile() throws {
        let path = try write("s.json", "{\"corpus\": [\"\(dir!)/c.jsonl\"], \"sources\": [\"random\", \"glove\"]}")
        XCTAssertTrue(error { try AblationPlan(spec: try AblationSpec.load(from: path), results: self.dir + "/r") }
            .hasPrefix("\(path): unknown embedding source 'glove'"))
        let seeds = try write("t.json", "{\"corpus\": [\"\(dir!)/c.jsonl\"], \"seeds\": 0}")
        XCTAssertEqual(error { try AblationSpec.load(from: seeds).validate() }, "\(seeds): --seeds must be at least 1")
        // A spec built in Swift has no file to name.
        XCTAssertEqual(error { try AblationSpec(corpus: ["c"], seeds: 0).validate() }, "--seeds must be at least 1")
    }

    func testBaselineMustBeAnArmOfTheGrid() throws {
        var spec = AblationSpec(corpus: [dir + "/c.jsonl"], sources: ["random", "domain-paragraph"], baseline: "word2vec-frozen")
        XCTAssertEqual(error { try spec.validate() }, "baseline 'word2vec-frozen' is not an arm of the grid (arms: random, domain-paragraph-frozen)")
        spec.baseline = "domain-paragraph-frozen"
        XCTAssertEqual(try spec.validate().map(\.name), ["random", "domain-paragraph-frozen"])
    }

    func testPretrainingExtraTakesOnlySettingsOfKnownCommands() throws {
        func check(_ extra: [String: [String]]) -> String? {
            do { try AblationSpec(corpus: [dir + "/c.jsonl"], pretraining: .init(extra: extra)).validate(); return nil } catch { return "\(error)" }
        }
        XCTAssertNil(check(["pretrain-domain": ["--batch-size", "32", "--dropout=0.1"], "embed word2vec": ["--window", "3"],
                            "embed bilm": ["--no-standardize", "--lr", "0.001"], "pretrain-glomo": ["--heads", "2"]]))
        XCTAssertEqual(check(["pretrain-domian": ["--batch-size", "32"]]),
                       "pretraining.extra: unknown command 'pretrain-domian' (known: embed bilm, embed word2vec, pretrain-domain, pretrain-glomo)")
        // Nothing that writes elsewhere, reads an input the cache key does not cover, or
        // overrides what ablate sets (the thread count that makes the cache reproducible).
        for words in [["--out", "/elsewhere"], ["--out=/elsewhere"], ["--glomo", "/g"], ["--threads", "2"], ["--seed", "5"], ["--resume"], ["-o", "x"]] {
            XCTAssertTrue(check(["pretrain-domain": words])?.hasPrefix("pretraining.extra[\"pretrain-domain\"]: '\(words[0])' is not allowed") == true, "\(words)")
        }
        // A stray word would be a positional argument (embed word2vec: another corpus file).
        XCTAssertTrue(check(["embed bilm": ["--no-standardize", "/other/corpus"]])?.contains("'/other/corpus' is not allowed") == true)
        XCTAssertEqual(check(["embed word2vec": ["--window"]]), "pretraining.extra[\"embed word2vec\"]: --window needs a value")
        XCTAssertEqual(check(["embed bilm": ["--standardize=1"]]), "pretraining.extra[\"embed bilm\"]: --standardize takes no value")
    }

    /// Early stopping and the adaptive softmax of the pretraining commands pass through
    /// `pretraining.extra` into their steps' arguments (and so into the cache key).
    func testPretrainingExtraPassesPatienceAndSoftmax() throws {
        let extra = ["pretrain-glomo": ["--patience", "3", "--softmax", "adaptive"], "pretrain-domain": ["--patience", "2"]]
        let spec = AblationSpec(corpus: [dir + "/c.jsonl"], sources: ["random", "domain-sentence"], glomo: ["off", "hidden"],
                                seeds: 1, train: ["preset": "tiny"], pretraining: .init(extra: extra))
        let steps = try AblationPlan(spec: spec, results: dir + "/r").steps.filter { $0.stage == .pretraining }
        let glomo = try XCTUnwrap(steps.first { $0.name == "glomo" }).arguments.joined(separator: " ")
        let domain = try XCTUnwrap(steps.first { $0.name == "domain-sentence" }).arguments.joined(separator: " ")
        XCTAssertTrue(glomo.hasPrefix("pretrain-glomo ") && glomo.contains(" --patience 3 --softmax adaptive"), glomo)
        XCTAssertTrue(domain.hasPrefix("pretrain-domain ") && domain.contains(" --patience 2"), domain)
    }

    func testEveryPretrainingStepRunsOnOneThread() throws {
        let spec = AblationSpec(corpus: [dir + "/c.jsonl"], sources: ["random", "word2vec", "bilm", "domain-sentence"], glomo: ["off", "hidden"],
                                seeds: 1, train: ["preset": "tiny"], pretraining: .init(extra: ["pretrain-glomo": ["--heads", "2"]]))
        let steps = try AblationPlan(spec: spec, results: dir + "/r").steps.filter { $0.stage == .pretraining }
        XCTAssertEqual(steps.map(\.name), ["glomo", "word2vec", "bilm", "domain-sentence"])
        for step in steps {
            let i = try XCTUnwrap(step.arguments.lastIndex(of: "--threads"), step.name)
            XCTAssertEqual(step.arguments[i + 1], "1", step.name)
            XCTAssertEqual(step.arguments.filter { $0 == "--threads" }.count, 1, step.name)
        }
    }

    func testFileSourcesOfTheSameNameAreDistinctArmsNamedByContent() throws {
        let a = try write("a/emb.txt", "x 1 2\n"), b = try write("b/emb.txt", "x 3 4\n"), copy = try write("c/emb.txt", "x 1 2\n")
        // SHA-256 of "x 1 2\n" and "x 3 4\n" (coreutils sha256sum): eb9bff3d…, 22ab7fc1….
        let spec = AblationSpec(corpus: [dir + "/c.jsonl"], sources: ["file:" + a, "file:" + b, "file:" + copy], seeds: 1,
                                train: ["preset": "tiny"])
        XCTAssertEqual(try spec.arms().map(\.name), ["file-emb-eb9bff3d-frozen", "file-emb-22ab7fc1-frozen"])
        let runs = try AblationPlan(spec: spec, results: dir + "/r").steps.filter { $0.stage == .training }
        XCTAssertEqual(runs.map(\.name), ["file-emb-eb9bff3d-frozen-seed1", "file-emb-22ab7fc1-frozen-seed1"])
        XCTAssertTrue(runs[0].arguments.contains(a) && runs[1].arguments.contains(b))
        // A changed file is another arm: the runs of the old content are not "already done".
        try write("b/emb.txt", "x 1 2\n")
        XCTAssertEqual(try spec.arms().map(\.name), ["file-emb-eb9bff3d-frozen"])
        // A missing file is refused before anything runs.
        XCTAssertEqual(error { try AblationSpec(corpus: [self.dir + "/c.jsonl"], sources: ["file:" + self.dir + "/none.vec"]).arms() },
                       "\(dir!)/none.vec: cannot read (embedding source file:\(dir!)/none.vec)")
    }

    func testResultsPathThatIsAFileIsOneLine() throws {
        let file = try write("results.txt", "not a directory\n")
        XCTAssertEqual(error { try AblationPlan(spec: AblationSpec(corpus: [self.dir + "/c.jsonl"], sources: ["random"]), results: file) },
                       "\(file): exists and is not a directory: give a results directory to --out")
    }

    func testImpossibleValuesInRunFilesAreRefusedNamingTheFile() throws {
        let run = dir + "/r/runs/random-seed1"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        func summary(_ fields: String) throws -> String {
            try Data("{\(fields)}".utf8).write(to: URL(fileURLWithPath: run + "/summary.json"))
            return error { try AblationReport.make(results: self.dir + "/r") }
        }
        let good = "\"epochs\":2,\"parameters\":100,\"seconds\":1.5,\"trainable_parameters\":80"
        XCTAssertEqual(try summary(good + ",\"valid_ppl\":-5,\"test_ppl\":90"),
                       "\(run)/summary.json: valid_ppl -5.0 is not a perplexity (a finite number of at least 1)")
        XCTAssertEqual(try summary(good + ",\"valid_ppl\":0,\"test_ppl\":90"),
                       "\(run)/summary.json: valid_ppl 0.0 is not a perplexity (a finite number of at least 1)")
        XCTAssertEqual(try summary(good + ",\"valid_ppl\":95,\"test_ppl\":\"inf\""),
                       "\(run)/summary.json: test_ppl inf is not a perplexity (a finite number of at least 1)")
        XCTAssertEqual(try summary("\"epochs\":2,\"parameters\":-3,\"seconds\":1.5,\"trainable_parameters\":0,\"valid_ppl\":95,\"test_ppl\":90"),
                       "\(run)/summary.json: parameters -3 is not a positive count")
        XCTAssertEqual(try summary("\"epochs\":2,\"parameters\":100,\"seconds\":1.5,\"trainable_parameters\":101,\"valid_ppl\":95,\"test_ppl\":90"),
                       "\(run)/summary.json: trainable_parameters 101 is not between 0 and parameters (100)")
        XCTAssertEqual(try summary("\"epochs\":2,\"parameters\":100,\"seconds\":-1,\"trainable_parameters\":80,\"valid_ppl\":95,\"test_ppl\":90"),
                       "\(run)/summary.json: seconds -1.0 is not a finite number of at least 0")
        XCTAssertEqual(try summary("\"epochs\":-2,\"parameters\":100,\"seconds\":1,\"trainable_parameters\":80,\"valid_ppl\":95,\"test_ppl\":90"),
                       "\(run)/summary.json: epochs -2 is negative")
        // A good summary is read; a positive log-probability (a probability above 1) is not.
        try Data("{\(good),\"valid_ppl\":95,\"test_ppl\":90}".utf8).write(to: URL(fileURLWithPath: run + "/summary.json"))
        XCTAssertEqual(try AblationReport.make(results: dir + "/r").rows.first?.arm, "random")
        try Data("3\t-4.5\n2\t0.5\n".utf8).write(to: URL(fileURLWithPath: run + "/test-sentences.tsv"))
        XCTAssertEqual(error { try AblationReport.make(results: self.dir + "/r") },
                       "\(run)/test-sentences.tsv:2: log-probability 0.5 is positive (a probability above 1)")
        // A sentence of no tokens, or so improbable that its perplexity overflows a double: every
        // resample holding it would have an infinite perplexity (intervals of inf and NaN).
        for (line, problem) in [("0\t-0.25", "0 tokens (a scored sentence has at least one, its end)"),
                                ("-2\t-0.25", "-2 tokens (a scored sentence has at least one, its end)"),
                                ("3\t-16e5", "log-probability -16e5 over 3 tokens is a perplexity beyond what a double holds")] {
            try Data("3\t-4.5\n\(line)\n".utf8).write(to: URL(fileURLWithPath: run + "/test-sentences.tsv"))
            XCTAssertEqual(error { try AblationReport.make(results: self.dir + "/r") }, "\(run)/test-sentences.tsv:2: \(problem)")
        }
        try Data("3\t-4.5\n1\t-700\n".utf8).write(to: URL(fileURLWithPath: run + "/test-sentences.tsv"))
        XCTAssertEqual(try AblationReport.make(results: dir + "/r").rows.first?.arm, "random")
    }
}
