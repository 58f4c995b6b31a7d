import Foundation
import Glibc

/// The folder of one run, whatever trains into it (an `lmtool train` run, a `pretrain-domain`
/// run, a `pretrain-glomo` model), and what every kind does with it the same way (layout in
/// docs/run-directory.md):
///
/// | file | what |
/// | --- | --- |
/// | `config.json` | what the run is: written first; its presence means "holds a run" |
/// | `vocab.txt` | the vocabulary |
/// | `model.safetensors` | the best (or last) model |
/// | `last.safetensors` | the whole training state, for `--resume` |
/// | `metrics.jsonl` | one JSON object per line |
/// | `summary.json` | written last: its presence means "finished" |
///
/// The run-directory types (`LM.RunDirectory`, `Embeddings.DomainRunDirectory`,
/// `GLoMoGraph.GLoMoModelDirectory`) hold one and keep only what is their own: their other
/// files, their configuration type and loading their model. JSON files are pretty, with sorted
/// snake_case keys, written atomically (`AtomicFile`); JSON lines are appended with one
/// `write(2)` each.
///
///     let folder = RunFolder(path: "runs/tiny")
///     try folder.prepareNew(force: false, removing: [folder.modelPath, folder.metricsPath])
///     try folder.writeJSON(config, to: folder.configPath)
///     try folder.appendJSONLine(RunFolder.jsonLine(record), to: folder.metricsPath)
public struct RunFolder: Equatable, Sendable {
    public let path: String

    /// A handle on the folder at `path` (a trailing `/` dropped); reads and writes nothing.
    public init(path: String) {
        self.path = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
    }

    /// `path/name`.
    public func file(_ name: String) -> String { path + "/" + name }

    public var configPath: String { file("config.json") }
    public var vocabularyPath: String { file("vocab.txt") }
    public var modelPath: String { file("model.safetensors") }
    public var lastCheckpointPath: String { file("last.safetensors") }
    public var metricsPath: String { file("metrics.jsonl") }
    public var summaryPath: String { file("summary.json") }

    /// Whether the folder holds a run (its `config.json` exists).
    public var holdsRun: Bool { FileManager.default.fileExists(atPath: configPath) }
    /// Whether the run finished (`summary.json` exists).
    public var isFinished: Bool { FileManager.default.fileExists(atPath: summaryPath) }

    // MARK: - Lock, create, --force

    /// Takes the folder's lock for the rest of the process (`OutputLock`: `.NAME.lock` beside
    /// it): one writer per run. `prepareNew` takes it; a command that continues a run
    /// (`--resume`) takes it before reading anything.
    ///
    /// - Throws: `FileError` naming the folder and the pid of the process that holds it.
    public func lock() throws {
        try OutputLock.acquire(path)
    }

    /// The refusal to start a run where one is: `DIR: already holds a run (config.json); use
    /// --force to replace it or --resume to continue it` (`what` names the kind: "a run", "a
    /// GLoMo model").
    public func alreadyHoldsError(_ what: String = "a run") -> FileError {
        FileError(path: path, message: "already holds \(what) (config.json); use --force to replace it or --resume to continue it")
    }

    /// Readies the folder for a new run: takes the lock; if it already holds a run
    /// (`config.json` or `summary.json`), throws `alreadyHoldsError(what)` unless `force`, and
    /// with `force` removes `owned` (the files the run's kind writes, those that exist; in the
    /// order given, so list `summary.json` first); then creates the folder and its parents.
    /// Files the run does not own are never touched.
    ///
    /// - Throws: `FileError` naming the folder or the file that cannot be removed or created.
    public func prepareNew(force: Bool, removing owned: [String], what: String = "a run") throws {
        try lock()
        if holdsRun || isFinished {
            guard force else { throw alreadyHoldsError(what) }
            for file in owned where unlink(file) != 0 && errno != ENOENT {
                throw FileError.posix(file, "cannot remove")
            }
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw FileError(path: path, message: "cannot create the run directory: \(error.localizedDescription)")
        }
    }

    /// Removes `summary.json` (a finished run being continued is unfinished until its new
    /// summary is written).
    public func removeSummary() throws {
        if unlink(summaryPath) != 0 && errno != ENOENT { throw FileError.posix(summaryPath, "cannot remove") }
    }

    // MARK: - JSON files

    /// The encoder of a run's JSON files: pretty, sorted keys, snake_case.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }

    /// The decoder of a run's JSON files: snake_case keys, and the camelCase keys of files
    /// written before 2026-12-06 (`hiddenSize` reads as `hidden_size`).
    public static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }

    /// Writes `value` as JSON (by default `RunFolder.encoder()`) plus a newline to `file`,
    /// atomically.
    public func writeJSON<T: Encodable>(_ value: T, to file: String, encoder: JSONEncoder = RunFolder.encoder()) throws {
        let data: Data
        do { data = try encoder.encode(value) } catch {
            throw FileError(path: file, message: "cannot encode: \(error)")
        }
        try AtomicFile.write(Array(data) + [10], to: file)
    }

    /// Reads a JSON file (by default with `RunFolder.decoder()`).
    ///
    /// - Throws: `FileError` naming `file`: `cannot read: …`, or `not a WHAT: …` with the
    ///   decoding error on one line (`RunFolder.describe`).
    public func readJSON<T: Decodable>(_ type: T.Type, from file: String, what: String,
                                       decoder: JSONDecoder = RunFolder.decoder()) throws -> T {
        let data = try RunFolder.read(file)
        do { return try decoder.decode(T.self, from: data) } catch {
            throw FileError(path: file, message: "not a \(what): \(RunFolder.describe(error))")
        }
    }

    /// The bytes of `file`, or `FileError` (`cannot read: …`).
    public static func read(_ file: String) throws -> Data {
        do { return try Data(contentsOf: URL(fileURLWithPath: file)) } catch {
            throw FileError(path: file, message: "cannot read: \((error as NSError).localizedDescription)")
        }
    }

    /// A one-line description of a decoding error, with the JSON path where it applies.
    public static func describe(_ error: Error) -> String {
        func at(_ path: [CodingKey]) -> String {
            path.isEmpty ? "" : " at " + path.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let c)?: return "missing field '\(key.stringValue)'" + at(c.codingPath)
        case .typeMismatch(_, let c)?, .valueNotFound(_, let c)?: return c.debugDescription + at(c.codingPath)
        case .dataCorrupted(let c)?:
            let underlying = (c.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return ((underlying ?? c.debugDescription) + at(c.codingPath)).replacingOccurrences(of: "\n", with: " ")
        default: return "\(error)".replacingOccurrences(of: "\n", with: " ")
        }
    }

    // MARK: - JSON lines (metrics.jsonl)

    /// Appends `line` (one JSON object and its newline) to `file` with a single `write(2)`,
    /// then flushes it to disk, so a crash never leaves half a line from this call. If the file
    /// ends with a torn line (from a process killed mid-write), that partial line is cut off
    /// first. On a short write the file is truncated back to where it was, and the call throws.
    public func appendJSONLine(_ line: [UInt8], to file: String) throws {
        let fd = Glibc.open(file, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        if fd < 0 { throw FileError.posix(file, "cannot open for appending") }
        defer { close(fd) }
        var size = lseek(fd, 0, SEEK_END)
        if size < 0 { throw FileError.posix(file, "cannot seek") }
        if size > 0 {
            let complete = try RunFolder.completeLength(fd: fd, size: Int(size), file: file)
            if complete != Int(size) {
                if ftruncate(fd, off_t(complete)) != 0 { throw FileError.posix(file, "cannot cut the torn last line") }
                size = off_t(complete)
            }
        }
        let n = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress!, $0.count) }
        if n != line.count {
            let code = errno
            _ = ftruncate(fd, size)
            throw n < 0 ? FileError.posix(file, "cannot append", errno: code)
                        : FileError(path: file, message: "short write (\(n) of \(line.count) bytes); line removed")
        }
        if fsync(fd) != 0 { throw FileError.posix(file, "cannot flush to disk") }
    }

    /// The length of the file up to and including its last newline.
    private static func completeLength(fd: Int32, size: Int, file: String) throws -> Int {
        var buffer = [UInt8](repeating: 0, count: 4096)
        var end = size
        while end > 0 {
            let start = max(0, end - buffer.count)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, end - start, off_t(start)) }
            if n != end - start { throw FileError.posix(file, "cannot read") }
            if let i = buffer[0..<n].lastIndex(of: 10) { return start + i + 1 }
            end = start
        }
        return 0
    }

    /// `value` as one compact JSON line (sorted keys, by default snake_case) with its newline.
    public static func jsonLine<T: Encodable>(_ value: T, encoder: JSONEncoder? = nil) throws -> [UInt8] {
        let e = encoder ?? {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            e.keyEncodingStrategy = .convertToSnakeCase
            return e
        }()
        return Array(try e.encode(value)) + [10]
    }

    /// Rewrites `file` with `lines` (each a JSON object and its newline), atomically.
    public func writeJSONLines(_ lines: [[UInt8]], to file: String) throws {
        try AtomicFile.write(to: file) { sink in
            for line in lines { try sink.write(line) }
        }
    }

    /// The records of a JSON-lines file (none if it does not exist), each line decoded by
    /// `decode`.
    ///
    /// A last line without its newline is a torn write (a process killed mid-write): it is
    /// skipped and reported in `tornLastLine`. Any other line that `decode` refuses throws
    /// `FileError` naming the file and line: `run/metrics.jsonl:2: not a metrics record: …`.
    public func readJSONLines<T>(from file: String, what: String = "metrics record",
                                 decode: (ArraySlice<UInt8>) throws -> T) throws -> (records: [T], tornLastLine: TornLine?) {
        guard FileManager.default.fileExists(atPath: file) else { return ([], nil) }
        let bytes = Array(try RunFolder.read(file))
        var records: [T] = []
        var start = 0, lineNumber = 0
        while start < bytes.count {
            lineNumber += 1
            guard let end = bytes[start...].firstIndex(of: 10) else {
                return (records, TornLine(line: lineNumber, byteCount: bytes.count - start))
            }
            do {
                records.append(try decode(bytes[start..<end]))
            } catch {
                throw FileError(path: "\(file):\(lineNumber)", message: "not a \(what): \(RunFolder.describe(error))")
            }
            start = end + 1
        }
        return (records, nil)
    }

    /// A last line without its newline, skipped by `readJSONLines`.
    public struct TornLine: Equatable, Sendable, CustomStringConvertible {
        /// 1-based line number.
        public var line: Int
        public var byteCount: Int

        public init(line: Int, byteCount: Int) {
            self.line = line
            self.byteCount = byteCount
        }

        public var description: String {
            "line \(line): torn last line (\(byteCount) bytes without a newline, from an interrupted write) ignored"
        }
    }
}

/// What `--if-needed` (and `ablate` for its steps) does with a run folder; see `RunFolder.state`.
extension RunFolder {
    /// Where a run folder stands, and so what running its command again must do:
    ///
    /// | on disk | state | action |
    /// |---|---|---|
    /// | `summary.json` | `complete` | skip |
    /// | `last.safetensors`, no summary | `interrupted` | continue with `--resume` |
    /// | `config.json` only | `partial` | start again with `--force` |
    /// | none of them | `fresh` | start |
    ///
    ///     switch RunFolder(path: "runs/a").state() { case .complete: print("done"); default: ... }
    public enum State: Equatable, Sendable {
        case complete, interrupted, partial, fresh

        /// The run-control flag its command needs now: `--resume`, `--force`, or none (start,
        /// or nothing to do for `complete`).
        public var flag: String? {
            switch self {
            case .interrupted: return "--resume"
            case .partial: return "--force"
            case .complete, .fresh: return nil
            }
        }
    }

    /// The folder's `State`; `completionMarker` is the file whose presence means finished
    /// (default `summary.json`).
    public func state(completionMarker: String? = nil) -> State {
        let fm = FileManager.default
        if fm.fileExists(atPath: completionMarker ?? summaryPath) { return .complete }
        if fm.fileExists(atPath: lastCheckpointPath) { return .interrupted }
        if fm.fileExists(atPath: configPath) { return .partial }
        return .fresh
    }

    /// The run-control flags of `train`, `pretrain-domain` and `pretrain-glomo` for the run
    /// folder `directory`, or nil when there is nothing to do. Takes the folder's lock first (one
    /// writer per run, and two copies of one scheduler line cannot both start). Without
    /// `ifNeeded`: `resume` and `force` as given. With it, as the folder's `state` requires:
    /// `--resume` for `interrupted`, `--force` for `partial`, nil for `complete`, with a one-line
    /// note naming `directory` passed to `note` for every state but `fresh`.
    ///
    /// A `complete` run is first passed to `checkFinished`, the command's check that its flags
    /// describe this run (the check `--resume` makes, which throws its refusal): a finished run
    /// is skipped only if it is the run asked for. `checkFinished` returns nil for that, or the
    /// reason the run must be resumed after all (`--epochs N` extending it), which is noted.
    ///
    ///     guard let flags = try RunFolder.decide(out, ifNeeded: ifNeeded, resume: resume, force: force,
    ///                                            checkFinished: { try request.checkFinishedRun() },
    ///                                            note: { print($0) }) else { return }
    ///
    /// - Throws: `FileError` when another process holds the lock; what `checkFinished` throws.
    public static func decide(_ directory: String, ifNeeded: Bool, resume: Bool, force: Bool,
                              checkFinished: () throws -> String? = { nil },
                              note: (String) -> Void) throws -> (resume: Bool, force: Bool)? {
        let folder = RunFolder(path: directory)
        try folder.lock()
        guard ifNeeded else { return (resume, force) }
        let state = folder.state()
        switch state {
        case .complete:
            if let reason = try checkFinished() {
                note("\(directory): finished, but \(reason) continues it: resuming (--resume)")
                return (true, false)
            }
            note(skipNote(directory))
            return nil
        case .interrupted: note("\(directory): interrupted, resuming (--resume)")
        case .partial: note("\(directory): started without a checkpoint, starting again (--force)")
        case .fresh: break
        }
        return (state == .interrupted, state == .partial)
    }

    /// The one-line note `--if-needed` prints for a finished run it skips.
    public static func skipNote(_ directory: String) -> String {
        "\(directory): finished (summary.json present), nothing to do"
    }
}

/// A run-directory type built on a `RunFolder` (`LM.RunDirectory`, `DomainRunDirectory`,
/// `GLoMoModelDirectory`): the files and checks every kind shares, forwarded to its folder.
public protocol RunFolderOwner {
    /// What `config.json` holds.
    associatedtype Config: Codable
    /// What `vocab.txt` holds (`Corpus.Vocabulary`).
    associatedtype VocabularyType: RunVocabulary
    var folder: RunFolder { get }
    /// A handle on the directory at `path`; reads and writes nothing.
    init(path: String)
    /// What a directory of this kind is called in a refusal: `DIR: not a KIND directory`.
    static var kind: String { get }
    /// What a run of this kind is called in `DIR: already holds WHAT` (default "a run").
    static var heldName: String { get }
    /// How `config.json` is named in a refusal: `run/config.json: not a CONFIGNAME: …`.
    static var configName: String { get }
    /// The checks a `config.json` must pass (sizes, consistency), when it is read and before a
    /// new one is written; throws their error.
    static func check(_ config: Config) throws
    /// The encoder of `config.json` (default `RunFolder.encoder()`).
    static func configEncoder() -> JSONEncoder
    /// The files a run of this kind writes, which `--force` removes, in that order (so
    /// `summary.json` first: an interrupted replacement never looks finished).
    var ownedFiles: [String] { get }
    /// The vocabulary `config.json` records: its content hash, and its size where the kind
    /// records one.
    static func vocabularyRecord(of config: Config) -> (hash: String, size: Int?)
}

/// What a run folder needs of its vocabulary (`Corpus.Vocabulary`): what identifies it, and its
/// file, `vocab.txt`.
public protocol RunVocabulary {
    var contentHash: String { get }
    var count: Int { get }
    func save(to path: String) throws
    static func load(from path: String) throws -> Self
}

extension RunFolderOwner {
    public var path: String { folder.path }
    public var configPath: String { folder.configPath }
    public var vocabularyPath: String { folder.vocabularyPath }
    /// The best (or last) model.
    public var modelPath: String { folder.modelPath }
    /// The whole training state of the last checkpoint, for `--resume`.
    public var lastCheckpointPath: String { folder.lastCheckpointPath }
    public var metricsPath: String { folder.metricsPath }
    /// `summary.json`: present only when the run finished.
    public var summaryPath: String { folder.summaryPath }
    /// Whether the directory holds a run (its `config.json` exists).
    public var holdsRun: Bool { folder.holdsRun }
    /// Whether the run finished (`summary.json` exists).
    public var isFinished: Bool { folder.isFinished }

    /// Takes the run's lock for the rest of the process (`OutputLock`: `.NAME.lock` beside the
    /// directory): one writer per run. `create` takes it; a command that continues a run
    /// (`--resume`) takes it before reading anything.
    ///
    /// - Throws: `FileError` naming the directory and the pid of the process that holds it.
    public func lock() throws { try folder.lock() }

    public static func check(_ config: Config) throws {}
    public static func configEncoder() -> JSONEncoder { RunFolder.encoder() }
    public static var heldName: String { "a run" }

    /// Creates the directory of a new run (and its parents) and writes `vocab.txt` and
    /// `config.json` (`startRun`).
    ///
    ///     let run = try RunDirectory.create(at: "runs/tiny", config: config, vocabulary: vocab)
    public static func create(at path: String, config: Config, vocabulary: VocabularyType, force: Bool = false) throws -> Self {
        let owner = Self(path: path)
        try owner.startRun(config: config, vocabulary: vocabulary, force: force)
        return owner
    }

    /// Opens an existing run: reads and checks `config.json`, then `vocab.txt`, which must be
    /// the vocabulary the configuration records (`openRun`).
    ///
    ///     let (run, config, vocabulary) = try RunDirectory.open(at: "runs/tiny")
    public static func open(at path: String) throws -> (folder: Self, config: Config, vocabulary: VocabularyType) {
        let owner = Self(path: path)
        let (config, vocabulary) = try owner.openRun()
        return (owner, config, vocabulary)
    }

    /// Starts a new run here: takes the lock, checks `config` (`check`) and that `vocabulary` is
    /// the one it records (a refusal writes nothing), readies the folder (`RunFolder.prepareNew`:
    /// refused where a run is, unless `force`, which removes `ownedFiles`), then writes
    /// `vocab.txt` and `config.json`.
    ///
    /// - Throws: `FileError` naming `config.json` for a configuration `check` refuses or a
    ///   vocabulary that does not fit it: `vocabulary hash mismatch: the configuration says 1f2e…,
    ///   the vocabulary has 9a8b…`; the lock's and `prepareNew`'s errors.
    public func startRun(config: Config, vocabulary: VocabularyType, force: Bool) throws {
        try lock()
        do { try Self.check(config) } catch { throw FileError(path: configPath, message: "\(error)") }
        let (hash, size) = Self.vocabularyRecord(of: config)
        if vocabulary.contentHash != hash {
            throw FileError(path: configPath, message: "vocabulary hash mismatch: the configuration says \(hash), the vocabulary has \(vocabulary.contentHash)")
        }
        if let size, vocabulary.count != size {
            throw FileError(path: configPath, message: "vocabulary size mismatch: the configuration says \(size) words, the vocabulary has \(vocabulary.count)")
        }
        try folder.prepareNew(force: force, removing: ownedFiles, what: Self.heldName)
        try vocabulary.save(to: vocabularyPath)
        try writeConfig(config)
    }

    /// Reads an existing run: its `config.json` (`readExistingConfig()`, checked), then
    /// `vocab.txt`, which must be the vocabulary the configuration records.
    ///
    /// - Throws: `FileError` naming `vocab.txt` when it is not (replaced behind the run's back):
    ///   `vocabulary hash mismatch: config.json says 1f2e…, this file has 9a8b…`.
    public func openRun() throws -> (Config, VocabularyType) {
        let config = try readExistingConfig()
        let vocabulary = try VocabularyType.load(from: vocabularyPath)
        let (hash, size) = Self.vocabularyRecord(of: config)
        if vocabulary.contentHash != hash {
            throw FileError(path: vocabularyPath, message: "vocabulary hash mismatch: config.json says \(hash), this file has \(vocabulary.contentHash)")
        }
        if let size, vocabulary.count != size {
            throw FileError(path: vocabularyPath, message: "vocabulary size mismatch: config.json says \(size) words, this file has \(vocabulary.count)")
        }
        return (config, vocabulary)
    }

    /// Writes `config.json` (pretty JSON, sorted snake_case keys), atomically.
    public func writeConfig(_ config: Config) throws {
        try folder.writeJSON(config, to: configPath, encoder: Self.configEncoder())
    }

    /// Reads the `config.json` of a directory that must hold a run: `DIR: not a KIND directory
    /// (no config.json)` when it holds none (`kind`: "run", "GLoMo model", ...).
    public func readExistingConfig() throws -> Config {
        guard holdsRun else { throw FileError(path: path, message: "not a \(Self.kind) directory (no config.json)") }
        return try readConfig()
    }

    /// Reads `config.json` (snake_case, or the camelCase keys of files written before
    /// 2026-12-06) and checks it (`check`).
    ///
    /// - Throws: `FileError` naming `config.json`: unreadable, not a `configName`, or the
    ///   check's error.
    public func readConfig() throws -> Config {
        let config = try folder.readJSON(Config.self, from: configPath, what: Self.configName)
        do { try Self.check(config) } catch { throw FileError(path: configPath, message: "\(error)") }
        return config
    }
}
