import Support
import Glibc

/// Named tensors and string metadata, read from or written to a safetensors file.
///
/// The format: an 8-byte little-endian header length `N`, `N` bytes of JSON
/// `{"__metadata__": {"k": "v"}, "name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, …}`
/// padded with spaces to a multiple of 8, then the tensors' raw little-endian bytes, packed.
/// Offsets count from the first byte after the header. The writer orders tensors as the
/// reference implementation does (larger element types first, then by name), so every tensor
/// is aligned to its element size and a file matches the Python `safetensors` package's byte
/// for byte (with at most one metadata entry, whose order that package does not fix).
///
/// The reader maps the file (or reads it once), copies each tensor out once, and checks everything against its length: a malformed file
/// is rejected with a `FileError` whose one-line description names the file and the problem.
///
///     var file = SafetensorsFile()
///     file.tensors["decoder.weight"] = SafeTensor(weights)
///     file.metadata["format"] = "pt"
///     try file.write(to: "run/model.safetensors")        // atomic
///     let back = try SafetensorsFile(contentsOf: "run/model.safetensors")
public struct SafetensorsFile: Equatable, Sendable {
    /// The tensors by name.
    public var tensors: [String: SafeTensor]
    /// The `__metadata__` strings.
    public var metadata: [String: String]

    /// The largest header accepted (as the reference implementation: 100 MB).
    public static let maxHeaderLength = 100_000_000

    public init(tensors: [String: SafeTensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    // MARK: Writing

    /// The names in file order, as the reference writer: by element type (8-byte types first,
    /// in its order U64, I64, F64, F32, …), then by name.
    var orderedNames: [String] {
        tensors.keys.sorted { a, b in
            let ra = tensors[a]!.dtype.writeRank, rb = tensors[b]!.dtype.writeRank
            return ra != rb ? ra > rb : a < b
        }
    }

    /// The whole file as bytes.
    public func encoded() -> [UInt8] {
        let (header, names) = encodedHeader()
        var out = header
        for name in names { out.append(contentsOf: tensors[name]!.bytes) }
        return out
    }

    /// The 8-byte length, the padded JSON header, and the tensor order.
    private func encodedHeader() -> ([UInt8], [String]) {
        precondition(tensors["__metadata__"] == nil, "SafetensorsFile: '__metadata__' cannot name a tensor")
        var parts: [String] = []
        if !metadata.isEmpty {
            let entries = metadata.keys.sorted().map { "\(HeaderJSON.quote($0)):\(HeaderJSON.quote(metadata[$0]!))" }
            parts.append("\"__metadata__\":{\(entries.joined(separator: ","))}")
        }
        let names = orderedNames
        var offset = 0
        for name in names {
            let t = tensors[name]!
            let shape = t.shape.map(String.init).joined(separator: ",")
            parts.append("\(HeaderJSON.quote(name)):{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[\(shape)],"
                         + "\"data_offsets\":[\(offset),\(offset + t.bytes.count)]}")
            offset += t.bytes.count
        }
        var json = Array("{\(parts.joined(separator: ","))}".utf8)
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) }
        out.append(contentsOf: json)
        return (out, names)
    }

    /// Writes the file atomically (a temporary file renamed into place).
    public func write(to path: String) throws {
        let (header, names) = encodedHeader()
        try AtomicFile.write(to: path) { sink in
            try sink.write(header)
            for name in names {
                try tensors[name]!.bytes.withUnsafeBytes { try sink.write($0) }
            }
        }
    }

    // MARK: Reading

    /// Reads and validates the safetensors file at `path`.
    public init(contentsOf path: String) throws {
        let fd = open(path, O_RDONLY)
        if fd < 0 { throw FileError.posix(path, "cannot open") }
        defer { close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw FileError.posix(path, "cannot stat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileError(path: path, message: "not a regular file") }
        let size = Int(st.st_size)
        // Map the file (tensors are copied out once); fall back to reading it if mapping fails.
        if size > 0, let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED {
            defer { munmap(map, size) }
            try self.init(decoding: UnsafeRawBufferPointer(start: map, count: size), path: path)
        } else {
            let bytes = try SafetensorsFile.readAll(fd, size: size, path: path)
            try self.init(decoding: bytes, path: path)
        }
    }

    /// Decodes a whole safetensors file held in memory; `path` names it in errors.
    public init(decoding bytes: [UInt8], path: String) throws {
        try self = bytes.withUnsafeBytes { try SafetensorsFile(decoding: $0, path: path) }
    }

    /// Decodes a whole safetensors file held in memory; `path` names it in errors.
    public init(decoding bytes: UnsafeRawBufferPointer, path: String) throws {
        func fail(_ message: String) -> FileError { FileError(path: path, message: "not a valid safetensors file: \(message)") }
        let size = bytes.count
        guard size >= 8 else { throw fail("file is \(size) bytes, shorter than the 8-byte header length") }
        let n64 = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard n64 <= UInt64(SafetensorsFile.maxHeaderLength) else {
            throw fail("header length \(n64) is larger than the limit of \(SafetensorsFile.maxHeaderLength) bytes")
        }
        let n = Int(n64)
        guard n <= size - 8 else { throw fail("header length \(n) goes beyond the end of the file (\(size) bytes)") }
        guard n >= 2 else { throw fail("header length \(n) is too short for a JSON object") }
        let dataStart = 8 + n
        let dataLength = size - dataStart

        let json: HeaderJSON
        do {
            json = try HeaderJSON.parse(UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart]))
        } catch let e as HeaderJSON.ParseError {
            throw fail("header is not valid JSON: \(e.message) at byte \(8 + e.offset)")
        }
        guard case .object(let members) = json else { throw fail("header is not a JSON object") }

        struct Entry { let name: String; let dtype: DType; let shape: [Int]; let begin: Int; let end: Int }
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        for (name, value) in members {
            if name == "__metadata__" {
                guard case .object(let kv) = value else { throw fail("__metadata__ is not an object") }
                for (k, v) in kv {
                    guard case .string(let s) = v else { throw fail("__metadata__ value for \"\(k)\" is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard case .object(let fields) = value else { throw fail("tensor \"\(name)\" is not an object") }
            var dtypeName: String?, shapeJSON: [HeaderJSON]?, offsetsJSON: [HeaderJSON]?
            for (key, field) in fields {
                switch (key, field) {
                case ("dtype", .string(let s)): dtypeName = s
                case ("shape", .array(let a)): shapeJSON = a
                case ("data_offsets", .array(let a)): offsetsJSON = a
                case ("dtype", _), ("shape", _), ("data_offsets", _):
                    throw fail("tensor \"\(name)\": \(key) has the wrong JSON type")
                default:
                    throw fail("tensor \"\(name)\": unknown field \"\(key)\"")
                }
            }
            guard let dtypeName, let shapeJSON, let offsetsJSON else {
                throw fail("tensor \"\(name)\" lacks dtype, shape or data_offsets")
            }
            guard let dtype = DType(rawValue: dtypeName) else { throw fail("tensor \"\(name)\": unknown dtype \"\(dtypeName)\"") }
            func integer(_ v: HeaderJSON, _ what: String) throws -> Int {
                guard case .number(let text) = v else { throw fail("tensor \"\(name)\": \(what) is not a number") }
                if text.hasPrefix("-") { throw fail("tensor \"\(name)\": \(what) \(text) is negative") }
                guard let i = Int(text) else { throw fail("tensor \"\(name)\": \(what) \(text) is not an integer in range") }
                return i
            }
            let shape = try shapeJSON.map { try integer($0, "shape entry") }
            var elements = 1
            for d in shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw fail("tensor \"\(name)\": shape \(shape) overflows") }
                elements = p
            }
            let (nbytes, overflow) = elements.multipliedReportingOverflow(by: dtype.size)
            guard !overflow else { throw fail("tensor \"\(name)\": shape \(shape) overflows") }
            guard offsetsJSON.count == 2 else { throw fail("tensor \"\(name)\": data_offsets must be two numbers") }
            let begin = try integer(offsetsJSON[0], "data offset"), end = try integer(offsetsJSON[1], "data offset")
            guard begin <= end else { throw fail("tensor \"\(name)\": data_offsets [\(begin), \(end)] are reversed") }
            guard end <= dataLength else {
                throw fail("tensor \"\(name)\": data_offsets [\(begin), \(end)] go beyond the data region (\(dataLength) bytes)")
            }
            guard end - begin == nbytes else {
                throw fail("tensor \"\(name)\": \(dtype.rawValue) \(shape) needs \(nbytes) bytes but data_offsets span \(end - begin)")
            }
            entries.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }

        // The tensors must tile the data region exactly: no gap, no overlap, nothing left over.
        entries.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var covered = 0
        var previous: String?
        for e in entries {
            if e.begin < covered {
                throw fail("tensor \"\(e.name)\" at [\(e.begin), \(e.end)] overlaps tensor \"\(previous!)\"")
            }
            if e.begin > covered {
                throw fail("bytes [\(covered), \(e.begin)) of the data region belong to no tensor")
            }
            covered = e.end
            previous = e.name
        }
        guard covered == dataLength else {
            throw fail("bytes [\(covered), \(dataLength)) of the data region belong to no tensor")
        }

        var tensors: [String: SafeTensor] = [:]
        for e in entries {
            tensors[e.name] = SafeTensor(dtype: e.dtype, shape: e.shape,
                                         bytes: Array(UnsafeRawBufferPointer(rebasing: bytes[(dataStart + e.begin)..<(dataStart + e.end)])))
        }
        self.init(tensors: tensors, metadata: metadata)
    }

    /// The whole file behind `fd`, `size` bytes, read with one allocation of that size.
    static func readAll(_ fd: Int32, size: Int, path: String) throws -> [UInt8] {
        var failure: FileError?
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
            var done = 0
            while done < size {
                let r = pread(fd, buffer.baseAddress! + done, size - done, off_t(done))
                if r < 0 {
                    if errno == EINTR { continue }
                    failure = FileError.posix(path, "cannot read")
                    break
                }
                if r == 0 {
                    failure = FileError(path: path, message: "file shrank while being read")
                    break
                }
                done += r
            }
            initialized = failure == nil ? size : 0
        }
        if let failure { throw failure }
        return bytes
    }
}

/// A whole training state in one safetensors file: parameters, optimizer state, random
/// generators and string metadata.
///
/// Tensor names (see docs/nn-core.md):
/// - parameters under their own names (`encoder.weight`, `rnn.weight_ih_l0`, …), F32, PyTorch
///   layouts, so `safetensors.torch.load_file` gives a state dict;
/// - optimizer state under `optimizer.`: `optimizer.step` (I64 scalar) and
///   `optimizer.<buffer>.<parameter>` (F32), e.g. `optimizer.exp_avg.decoder.weight`;
/// - each random generator as `rng.<name>` (U64 `[4]`, the xoshiro256** state words);
/// - everything else (epoch, vocabulary hash, configuration) as `__metadata__` strings.
///
///     try TrainingCheckpoint.save(to: "run/last.safetensors", parameters: store, optimizer: adam,
///                                 rngs: ["dropout": rng], metadata: ["epoch": "3"])
///     let (rngs, metadata) = try TrainingCheckpoint.restore(from: "run/last.safetensors",
///                                                           parameters: store, optimizer: adam)
public enum TrainingCheckpoint {
    /// Writes the training state to `path` atomically.
    public static func save(to path: String, parameters: ParameterStore, optimizer: (any Optimizer)? = nil,
                            rngs: [String: RNG] = [:], metadata: [String: String] = [:]) throws {
        var file = SafetensorsFile(tensors: parameters.checkpointTensors(), metadata: metadata)
        if let optimizer {
            for (k, v) in optimizer.stateTensors(for: parameters, prefix: "optimizer.") {
                precondition(file.tensors[k] == nil, "TrainingCheckpoint: name clash on '\(k)'")
                file.tensors[k] = v
            }
        }
        for (name, rng) in rngs {
            precondition(file.tensors["rng." + name] == nil, "TrainingCheckpoint: name clash on 'rng.\(name)'")
            file.tensors["rng." + name] = rng.checkpointTensor
        }
        try file.write(to: path)
    }

    /// Reads `path` into `parameters` (and `optimizer`, if given) and returns the random
    /// generators and metadata. Throws a `FileError` naming the file if it is malformed or does
    /// not match the model (a missing parameter, another shape or dtype, or a tensor that is not
    /// a parameter, optimizer state or `rng.` generator); then `parameters` and `optimizer` are
    /// left as they were.
    public static func restore(from path: String, parameters: ParameterStore, optimizer: (any Optimizer)? = nil)
        throws -> (rngs: [String: RNG], metadata: [String: String])
    {
        let file = try SafetensorsFile(contentsOf: path)
        do {
            var rngs: [String: RNG] = [:]
            for (name, t) in file.tensors where name.hasPrefix("rng.") {
                rngs[String(name.dropFirst(4))] = try RNG(checkpointTensor: t)
            }
            // Parameters are checked first and the optimizer loads all or nothing, so a failure changes nothing.
            try parameters.validate(file.tensors)
            // Nothing else: a tensor that is neither a parameter, the optimizer's state nor a
            // random generator means the file belongs to another model.
            var known = Set(parameters.views.map(\.name))
            if let optimizer { known.formUnion(optimizer.stateTensors(for: parameters, prefix: "optimizer.").keys) }
            if let extra = file.tensors.keys.sorted().first(where: { !known.contains($0) && !$0.hasPrefix("rng.") }) {
                throw CheckpointError("unexpected tensor '\(extra)' (not a parameter\(optimizer == nil ? "" : " or optimizer state") of this model)")
            }
            try optimizer?.loadState(from: file.tensors, for: parameters, prefix: "optimizer.")
            try parameters.load(from: file.tensors)
            return (rngs, file.metadata)
        } catch let e as CheckpointError {
            throw FileError(path: path, message: e.message)
        }
    }
}

extension ParameterStore {
    /// Throws unless `tensors` hold every parameter as F32 with its shape.
    func validate(_ tensors: [String: SafeTensor], prefix: String = "") throws {
        for v in views {
            guard let t = tensors[prefix + v.name] else { throw CheckpointError("checkpoint lacks parameter '\(prefix + v.name)'") }
            guard t.dtype == .f32, t.shape == v.shape else {
                throw CheckpointError("parameter '\(prefix + v.name)' is \(v.shape) F32, checkpoint has \(t.shape) \(t.dtype.rawValue)")
            }
        }
    }
}
