import Corpus
import Foundation
import Support
import Glibc

/// The directory of one training run (layout in docs/run-directory.md):
///
/// | file | what | written |
/// | --- | --- | --- |
/// | `config.json` | `RunConfig`: model, training, corpus paths, tokenization, vocabulary hash, input representation | atomically, at creation |
/// | `vocab.txt` | the vocabulary (`token<TAB>count`) | atomically, at creation |
/// | `model.safetensors` | the best model (lowest validation loss) | atomically, by the trainer |
/// | `last.safetensors` | the whole training state for `--resume` (`LMResumeCheckpoint`: `NN.TrainingCheckpoint`'s layout plus the carried state) | atomically, by the trainer |
/// | `metrics.jsonl` | one `MetricsRecord` per evaluation | appended, one `write(2)` per line |
///
///     let run = try RunDirectory.create(at: "runs/tiny", config: config, vocabulary: vocab)
///     try run.appendMetrics(MetricsRecord(epoch: 1, step: 100, split: "valid", loss: 5.0, lr: 20,
///                                         tokensPerSecond: 7000, elapsedSeconds: 12))
///     let (sameRun, savedConfig, savedVocab) = try RunDirectory.open(at: "runs/tiny")
public struct RunDirectory: RunFolderOwner, Sendable {
    /// The folder and what every run kind does with it (lock, create, JSON files, metrics lines).
    public let folder: RunFolder
    /// A handle on the directory at `path`; reads and writes nothing.
    public init(path: String) {
        folder = RunFolder(path: path)
    }

    /// The files a run writes, which `create(force: true)` removes: `summary.json` first, so
    /// that an interrupted replacement never looks finished.
    public var ownedFiles: [String] { [summaryPath, testSentencesPath, modelPath, lastCheckpointPath, metricsPath] }

    /// Throws unless `config` equals the run's `config.json`, listing the fields that differ
    /// (for `--resume`): `run/config.json: --resume with a different configuration: training.learningRate 20 → 10`.
    public func checkResume(with config: RunConfig) throws {
        let saved = try readConfig()
        guard saved != config else { return }
        let a = try RunDirectory.flatten(RunDirectory.encode(saved)), b = try RunDirectory.flatten(RunDirectory.encode(config))
        let changes = Set(a.keys).union(b.keys).sorted().compactMap { key -> String? in
            a[key] == b[key] ? nil : "\(key) \(a[key] ?? "(none)") → \(b[key] ?? "(none)")"
        }
        throw FileError(path: configPath, message: "--resume with a different configuration: " + changes.joined(separator: ", "))
    }

    // MARK: - config.json

    public typealias Config = RunConfig
    public typealias VocabularyType = Vocabulary
    public static let kind = "run"
    public static func vocabularyRecord(of config: RunConfig) -> (hash: String, size: Int?) { (config.vocabularyHash, nil) }
    public static let configName = "run configuration"
    public static func check(_ config: RunConfig) throws { try config.checkSizes() }

    /// `config.json` as written: pretty JSON, sorted keys, snake_case like every other file of a
    /// run directory (`summary.json`, `metrics.jsonl`) and the other run-directory kinds.
    static func encode(_ config: RunConfig) throws -> Data {
        try RunFolder.encoder().encode(config)
    }

    /// `{"a": {"b": 1, "c": true}}` → `["a.b": "1", "a.c": "true"]`.
    static func flatten(_ data: Data) throws -> [String: String] {
        var out: [String: String] = [:]
        func text(_ value: Any) -> String {
            // JSONSerialization gives JSON's true and false as NSNumbers of type "c" (char),
            // which would print as 1 and 0.
            if let n = value as? NSNumber, String(cString: n.objCType) == "c" { return n.boolValue ? "true" : "false" }
            return "\(value)"
        }
        func walk(_ value: Any, _ prefix: String) {
            if let d = value as? [String: Any] {
                for (k, v) in d { walk(v, prefix.isEmpty ? k : prefix + "." + k) }
            } else if let a = value as? [Any] {
                out[prefix] = "[" + a.map(text).joined(separator: ", ") + "]"
            } else {
                out[prefix] = text(value)
            }
        }
        walk(try JSONSerialization.jsonObject(with: data), "")
        return out
    }

    /// A one-line description of a decoding error, with the JSON path where it applies.
    static func describe(_ error: Error) -> String { RunFolder.describe(error) }

    // MARK: - metrics.jsonl

    /// Appends `record` to `metrics.jsonl` as one line written with a single `write(2)`, then
    /// flushes it to disk, so a crash never leaves half a line from this call. If the file ends
    /// with a torn line (from a process killed mid-write), that partial line is cut off first.
    /// On a short write the file is truncated back to where it was, and the call throws.
    public func appendMetrics(_ record: MetricsRecord) throws {
        try folder.appendJSONLine(try record.jsonLine(), to: metricsPath)
    }

    /// The records of `metrics.jsonl` (empty if there is none yet).
    ///
    /// A last line without its newline is a torn write (a process killed mid-write): it is
    /// skipped and reported in `MetricsLog.tornLastLine`. Any other line that is not a record
    /// throws `FileError` naming the file and line.
    public func readMetrics() throws -> MetricsLog {
        let (records, torn) = try folder.readJSONLines(from: metricsPath) { try MetricsRecord.decode(line: $0) }
        return MetricsLog(records: records, tornLastLine: torn)
    }
}

/// What `RunDirectory.readMetrics()` found.
public struct MetricsLog: Equatable, Sendable {
    /// A last line without its newline, skipped.
    public typealias TornLine = RunFolder.TornLine

    public var records: [MetricsRecord]
    public var tornLastLine: TornLine?
}

// MARK: - summary.json and test-sentences.tsv

extension RunDirectory {
    /// `test-sentences.tsv`: `tokens<TAB>logprob` per test sentence.
    public var testSentencesPath: String { folder.file("test-sentences.tsv") }

    /// Writes `summary.json` atomically (one line of JSON with sorted keys).
    public func writeSummary(_ summary: RunSummary) throws {
        try folder.writeJSON(summary, to: summaryPath, encoder: RunSummary.encoder())
    }

    /// Reads `summary.json`, strictly: strict JSON (`StrictJSON`: a repeated key, a trailing
    /// comma), no key lmtool does not write (a damaged `test_ppl` must not read as "no test"),
    /// and no impossible value (`RunSummary.impossibleValue`); each a one-line `FileError`.
    public func readSummary() throws -> RunSummary {
        let bytes = try readTextFile(path: summaryPath, maxBytes: 1 << 24)  // a byte order mark skipped
        try StrictJSON.checkFile(bytes, path: summaryPath)
        let data = Data(bytes)
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let unknown = object.keys.sorted().first(where: { !RunSummary.keys.contains($0) }) {
            throw FileError(path: summaryPath, message: "not a run summary: unknown key '\(unknown)' (expected \(RunSummary.keys.sorted().joined(separator: ", ")))")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let summary: RunSummary
        do { summary = try decoder.decode(RunSummary.self, from: data) } catch {
            throw FileError(path: summaryPath, message: "not a run summary: \(RunFolder.describe(error))")
        }
        if let problem = summary.impossibleValue { throw FileError(path: summaryPath, message: problem) }
        return summary
    }

    /// Writes `test-sentences.tsv` atomically: one line per sentence, `tokens<TAB>logprob`, the
    /// token count including `<eos>` and the summed natural-log probability of those tokens
    /// (written with Swift's shortest round-trip digits).
    ///
    ///     12	-58.03919982910156
    public func writeTestSentences(_ sentences: [(tokens: Int, logProbability: Double)]) throws {
        try AtomicFile.write(to: testSentencesPath) { sink in
            for s in sentences { try sink.write("\(s.tokens)\t\(s.logProbability)\n") }
        }
    }
}
