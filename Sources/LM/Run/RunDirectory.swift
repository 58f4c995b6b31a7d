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
public struct RunDirectory: Sendable {
    public let path: String

    /// A handle on the directory at `path`; reads and writes nothing.
    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    public var configPath: String { path + "/config.json" }
    public var vocabularyPath: String { path + "/vocab.txt" }
    /// The best model.
    public var modelPath: String { path + "/model.safetensors" }
    /// The full training state of the last completed step, for `--resume`.
    public var lastCheckpointPath: String { path + "/last.safetensors" }
    public var metricsPath: String { path + "/metrics.jsonl" }

    /// Whether the directory holds a run (its `config.json` exists).
    public var holdsRun: Bool { FileManager.default.fileExists(atPath: configPath) }

    // MARK: - Creating and opening

    /// Takes the run's lock for the rest of the process (`Support.OutputLock`: `.NAME.lock`
    /// beside the directory): one writer per run. `create` takes it; a command that continues a
    /// run (`--resume`) takes it before reading anything.
    ///
    /// - Throws: `FileError` naming the directory and the pid of the process that holds it.
    public func lock() throws {
        try OutputLock.acquire(path)
    }

    /// Creates the directory (and its parents) and writes `config.json` and `vocab.txt`.
    ///
    /// - Throws: `FileError` if another process holds the run's lock (`lock()`), if the
    ///   directory already holds a run and `force` is false (nothing is touched then), if `vocabulary` does not have `config.vocabularyHash`, or if a file
    ///   cannot be written. With `force`, the old run's files are removed first.
    public static func create(at path: String, config: RunConfig, vocabulary: Vocabulary, force: Bool = false) throws -> RunDirectory {
        let run = RunDirectory(path: path)
        try run.lock()
        if vocabulary.contentHash != config.vocabularyHash {
            throw FileError(path: run.configPath, message: "vocabulary hash mismatch: the configuration says \(config.vocabularyHash), the vocabulary has \(vocabulary.contentHash)")
        }
        if run.holdsRun {
            guard force else {
                throw FileError(path: run.path, message: "already holds a run (config.json); use --force to replace it or --resume to continue it")
            }
            for file in [run.modelPath, run.lastCheckpointPath, run.metricsPath] where unlink(file) != 0 && errno != ENOENT {
                throw FileError.posix(file, "cannot remove")
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: run.path, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: run.path, message: "cannot create the run directory: \(error.localizedDescription)")
        }
        try vocabulary.save(to: run.vocabularyPath)
        try run.writeConfig(config)
        return run
    }

    /// Opens an existing run: reads `config.json` and `vocab.txt` and checks that the
    /// vocabulary has the hash the configuration records.
    public static func open(at path: String) throws -> (run: RunDirectory, config: RunConfig, vocabulary: Vocabulary) {
        let run = RunDirectory(path: path)
        guard run.holdsRun else { throw FileError(path: run.path, message: "not a run directory (no config.json)") }
        let config = try run.readConfig()
        let vocabulary = try Vocabulary.load(from: run.vocabularyPath)
        try run.checkVocabulary(vocabulary, config: config)
        return (run, config, vocabulary)
    }

    /// Throws unless `vocabulary` is the one the run was trained with (same `contentHash`).
    ///
    /// The error names both hashes: `run/config.json: vocabulary hash mismatch: the run was
    /// trained with 1f2e…, the given vocabulary has 9a8b…`.
    public func checkVocabulary(_ vocabulary: Vocabulary, config: RunConfig) throws {
        if vocabulary.contentHash != config.vocabularyHash {
            throw FileError(path: configPath, message: "vocabulary hash mismatch: the run was trained with \(config.vocabularyHash), the given vocabulary has \(vocabulary.contentHash)")
        }
    }

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

    /// Writes `config` as pretty JSON with sorted keys, atomically.
    public func writeConfig(_ config: RunConfig) throws {
        let data = try RunDirectory.encode(config)
        try AtomicFile.write(Array(data) + [10], to: configPath)
    }

    /// Reads `config.json` and checks its sizes (`RunConfig.checkSizes()`).
    public func readConfig() throws -> RunConfig {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: configPath)) } catch {
            throw FileError(path: configPath, message: "cannot read: \(error.localizedDescription)")
        }
        let config: RunConfig
        do {
            config = try RunDirectory.decoder().decode(RunConfig.self, from: data)
        } catch {
            throw FileError(path: configPath, message: "not a run configuration: \(RunDirectory.describe(error))")
        }
        do { try config.checkSizes() } catch { throw FileError(path: configPath, message: "\(error)") }
        return config
    }

    /// `config.json` as written: pretty JSON, sorted keys, snake_case like every other file of a
    /// run directory (`summary.json`, `metrics.jsonl`) and the other run-directory kinds.
    static func encode(_ config: RunConfig) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return try encoder.encode(config)
    }

    /// The `config.json` decoder: snake_case keys, and the camelCase keys that runs written
    /// before 2026-12-06 have (`hiddenSize` reads as `hidden_size`), so existing runs keep loading.
    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    /// `{"a": {"b": 1}}` → `["a.b": "1"]`.
    static func flatten(_ data: Data) throws -> [String: String] {
        var out: [String: String] = [:]
        func walk(_ value: Any, _ prefix: String) {
            if let d = value as? [String: Any] {
                for (k, v) in d { walk(v, prefix.isEmpty ? k : prefix + "." + k) }
            } else if let a = value as? [Any] {
                out[prefix] = "[" + a.map { "\($0)" }.joined(separator: ", ") + "]"
            } else {
                out[prefix] = "\(value)"
            }
        }
        walk(try JSONSerialization.jsonObject(with: data), "")
        return out
    }

    /// A one-line description of a decoding error, with the JSON path where it applies.
    static func describe(_ error: Error) -> String {
        func at(_ path: [CodingKey]) -> String {
            path.isEmpty ? "" : " at " + path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let c)?: return "missing field '\(key.stringValue)'" + at(c.codingPath)
        case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?: return c.debugDescription + at(c.codingPath)
        case .dataCorrupted(let c)?:
            let underlying = (c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return (underlying ?? c.debugDescription) + at(c.codingPath)
        default: return "\(error)"
        }
    }

    // MARK: - metrics.jsonl

    /// Appends `record` to `metrics.jsonl` as one line written with a single `write(2)`, then
    /// flushes it to disk, so a crash never leaves half a line from this call. If the file ends
    /// with a torn line (from a process killed mid-write), that partial line is cut off first.
    /// On a short write the file is truncated back to where it was, and the call throws.
    public func appendMetrics(_ record: MetricsRecord) throws {
        let line = try record.jsonLine()
        let fd = Glibc.open(metricsPath, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw FileError.posix(metricsPath, "cannot open for appending") }
        defer { close(fd) }
        var size = lseek(fd, 0, SEEK_END)
        if size < 0 { throw FileError.posix(metricsPath, "cannot seek") }
        if size > 0 {
            let complete = try completeLength(fd: fd, size: Int(size))
            if complete != Int(size) {
                if ftruncate(fd, off_t(complete)) != 0 { throw FileError.posix(metricsPath, "cannot cut the torn last line") }
                size = off_t(complete)
            }
        }
        let n = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
        if n != line.count {
            let code = errno
            _ = ftruncate(fd, size)
            throw n < 0 ? FileError.posix(metricsPath, "cannot append", errno: code)
                        : FileError(path: metricsPath, message: "short write (\(n) of \(line.count) bytes); line removed")
        }
        if fsync(fd) != 0 { throw FileError.posix(metricsPath, "cannot flush to disk") }
    }

    /// The length of the file up to and including its last newline.
    private func completeLength(fd: Int32, size: Int) throws -> Int {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var end = size
        while end > 0 {
            let start = max(0, end - buffer.count)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, end - start, off_t(start)) }
            if n != end - start { throw FileError.posix(metricsPath, "cannot read") }
            if let i = buffer[0..<n].lastIndex(of: 10) { return start + i + 1 }
            end = start
        }
        return 0
    }

    /// The records of `metrics.jsonl` (empty if there is none yet).
    ///
    /// A last line without its newline is a torn write (a process killed mid-write): it is
    /// skipped and reported in `MetricsLog.tornLastLine`. Any other line that is not a record
    /// throws `FileError` naming the file and line.
    public func readMetrics() throws -> MetricsLog {
        guard FileManager.default.fileExists(atPath: metricsPath) else { return MetricsLog(records: [], tornLastLine: nil) }
        let bytes: [UInt8]
        do { bytes = Array(try Data(contentsOf: URL(fileURLWithPath: metricsPath))) } catch {
            throw FileError(path: metricsPath, message: "cannot read: \(error.localizedDescription)")
        }
        var records: [MetricsRecord] = []
        var start = 0, lineNumber = 0
        while start < bytes.count {
            lineNumber += 1
            guard let end = bytes[start...].firstIndex(of: 10) else {
                return MetricsLog(records: records, tornLastLine: .init(line: lineNumber, byteCount: bytes.count - start))
            }
            do {
                records.append(try MetricsRecord.decode(line: bytes[start..<end]))
            } catch {
                throw FileError(path: "\(metricsPath):\(lineNumber)", message: "not a metrics record: \(RunDirectory.describe(error))")
            }
            start = end + 1
        }
        return MetricsLog(records: records, tornLastLine: nil)
    }
}

/// What `RunDirectory.readMetrics()` found.
public struct MetricsLog: Equatable, Sendable {
    /// A last line without its newline, skipped.
    public struct TornLine: Equatable, Sendable, CustomStringConvertible {
        /// 1-based line number.
        public var line: Int
        public var byteCount: Int
        public var description: String {
            "line \(line): torn last line (\(byteCount) bytes without a newline, from an interrupted write) ignored"
        }
    }

    public var records: [MetricsRecord]
    public var tornLastLine: TornLine?
}
