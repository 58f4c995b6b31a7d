import Support
import XCTest
@testable import NN
import FuzzSupport

final class SafetensorsTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "nn-safetensors-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A file from a header text and data bytes; the length prefix is the header's unless given.
    func file(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> [UInt8] {
        let h = Array(header.utf8)
        return withUnsafeBytes(of: (length ?? UInt64(h.count)).littleEndian) { Array($0) } + h + data
    }

    /// Asserts that decoding `bytes` fails with a one-line error naming the file and containing `expected`.
    func assertRejects(_ bytes: [UInt8], _ expected: String, line: UInt = #line) {
        XCTAssertThrowsError(try SafetensorsFile(decoding: bytes, path: "bad.safetensors"), line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("bad.safetensors: "), "error does not name the file: \(text)", line: line)
            XCTAssertTrue(text.contains(expected), "expected '\(expected)' in: \(text)", line: line)
            XCTAssertFalse(text.contains("\n"), "error is not one line: \(text)", line: line)
        }
    }

    // MARK: Round trips

    func testRoundTripEveryDtypeAndMetadata() throws {
        var f = SafetensorsFile()
        f.tensors["f32"] = SafeTensor([1.5, -2, .infinity, 0] as [Float], shape: [2, 2])
        f.tensors["f64"] = SafeTensor([Double.pi, -1e300] as [Double], shape: [2])
        f.tensors["i32"] = SafeTensor([Int32.min, -1, Int32.max] as [Int32], shape: [3, 1])
        f.tensors["i64"] = SafeTensor([Int64.min, Int64.max] as [Int64], shape: [2])
        f.tensors["u8"] = SafeTensor([0, 1, 255] as [UInt8], shape: [3])
        f.tensors["u64"] = SafeTensor([UInt64.max, 0, 1] as [UInt64], shape: [3])
        f.tensors["scalar"] = SafeTensor([Int64(7)], shape: [])
        f.tensors["empty"] = SafeTensor([] as [Float], shape: [0, 5])
        f.metadata = ["format": "pt", "quote\"and\\slash": "line\nbreak\t€ \u{1}"]
        let path = directory + "/all.safetensors"
        try f.write(to: path)
        let back = try SafetensorsFile(contentsOf: path)
        XCTAssertEqual(back, f)
        XCTAssertEqual(try back.tensors["f32"]!.values(as: Float.self), [1.5, -2, .infinity, 0])
        XCTAssertEqual(try back.tensors["i64"]!.values(as: Int64.self), [Int64.min, Int64.max])
        XCTAssertEqual(try back.tensors["u64"]!.values(as: UInt64.self), [UInt64.max, 0, 1])
        XCTAssertEqual(try back.tensors["f64"]!.values(as: Double.self), [Double.pi, -1e300])
        XCTAssertEqual(back.metadata["quote\"and\\slash"], "line\nbreak\t€ \u{1}")
        XCTAssertThrowsError(try back.tensors["u8"]!.values(as: Float.self))
        // The header length is a multiple of 8 and tensors are aligned to their element size.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(bytes.prefix(8).withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self)) } % 8, 0)
    }

    func testTensorConversionAndEmptyFile() throws {
        let t = Tensor(shape: [2, 3], [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try SafeTensor(t).tensor(), t)
        let empty = SafetensorsFile()
        XCTAssertEqual(empty.encoded(), [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
        XCTAssertEqual(try SafetensorsFile(decoding: empty.encoded(), path: "e"), empty)
    }

    func testHandComposedFileInteroperates() throws {
        // What the reference writer produces for {"test": zeros(2, 2) F32}: compact JSON, padded
        // with spaces to a multiple of 8 (60 → 64 bytes), then 16 zero bytes.
        let header = #"{"test":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}"#
        let expected = file(header + "    ", data: [UInt8](repeating: 0, count: 16))
        let f = SafetensorsFile(tensors: ["test": SafeTensor([0, 0, 0, 0] as [Float], shape: [2, 2])])
        XCTAssertEqual(f.encoded(), expected)
        // A hand-written header with whitespace and other key order reads too.
        let loose = file(#" { "x" : { "shape" : [ 2 ] , "data_offsets" : [0, 8], "dtype" : "I32" } } "#,
                         data: [1, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF])
        XCTAssertEqual(try SafetensorsFile(decoding: loose, path: "x").tensors["x"]!.values(as: Int32.self), [1, -1])
    }

    func testFileWrittenByPythonSafetensors() throws {
        let f = try SafetensorsFile(decoding: SafetensorsFixture.bytes, path: "python.safetensors")
        XCTAssertEqual(f.metadata, ["format": "pt"])
        XCTAssertEqual(f.tensors["weight"]?.shape, [2, 3])
        XCTAssertEqual(try f.tensors["weight"]!.values(as: Float.self), [1.5, -2.25, 3.0, 0.125, 1e-3, -7.0])
        XCTAssertEqual(try f.tensors["scale"]!.values(as: Double.self), [3.141592653589793, -0.1])
        XCTAssertEqual(try f.tensors["ids"]!.values(as: Int32.self), [-5, 0, 2147483647])
        XCTAssertEqual(f.tensors["step"]?.shape, [])
        XCTAssertEqual(try f.tensors["step"]!.values(as: Int64.self), [1234567890123])
        XCTAssertEqual(try f.tensors["bytes"]!.values(as: UInt8.self), [0, 7, 255])
        XCTAssertEqual(try f.tensors["rng.state"]!.values(as: UInt64.self), [1, UInt64.max, 12345678901234567890, 42])
        XCTAssertEqual(f.tensors["empty"]?.shape, [0, 4])
        XCTAssertEqual(f.tensors["empty"]?.bytes, [])
        // Our writer produces the same bytes as the Python package.
        XCTAssertEqual(f.encoded(), SafetensorsFixture.bytes)
    }

    func testWriteIsAtomicAndReplacesTheFile() throws {
        let path = directory + "/m.safetensors"
        try SafetensorsFile(tensors: ["a": SafeTensor([1] as [Float], shape: [1])]).write(to: path)
        try SafetensorsFile(tensors: ["b": SafeTensor([2, 3] as [Float], shape: [2])]).write(to: path)
        XCTAssertEqual(try SafetensorsFile(contentsOf: path).tensors.keys.sorted(), ["b"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["m.safetensors"])
    }

    func testMalformedFilesOnDiskNameTheFile() throws {
        let empty = directory + "/empty.safetensors", truncated = directory + "/cut.safetensors"
        FileManager.default.createFile(atPath: empty, contents: Data())
        let good = SafetensorsFile(tensors: ["a": SafeTensor([1, 2, 3] as [Float], shape: [3])]).encoded()
        FileManager.default.createFile(atPath: truncated, contents: Data(good.dropLast(2)))
        XCTAssertThrowsError(try SafetensorsFile(contentsOf: empty)) {
            XCTAssertEqual("\($0)", empty + ": not a valid safetensors file: file is 0 bytes, shorter than the 8-byte header length")
        }
        XCTAssertThrowsError(try SafetensorsFile(contentsOf: truncated)) {
            XCTAssertTrue("\($0)".hasPrefix(truncated + ": not a valid safetensors file: tensor \"a\""), "\($0)")
        }
        XCTAssertThrowsError(try SafetensorsFile(contentsOf: directory)) { XCTAssertTrue("\($0)".contains("not a regular file")) }
    }

    func testMissingFileIsAnError() {
        XCTAssertThrowsError(try SafetensorsFile(contentsOf: directory + "/nope.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("nope.safetensors"))
        }
    }

    func testLargeFileLoadsQuickly() throws {
        // 4 M floats = 16 MB in one tensor plus a small one.
        var big = [Float](repeating: 0, count: 4 << 20)
        big.withUnsafeMutableBufferPointer { p in
            for i in stride(from: 0, to: p.count, by: 4099) { p[i] = Float(i) }
        }
        let f = SafetensorsFile(tensors: ["big": SafeTensor(big, shape: [4, 1 << 20]),
                                          "small": SafeTensor([1, 2] as [Float], shape: [2])])
        let path = directory + "/big.safetensors"
        try f.write(to: path)
        let start = Date()
        let back = try SafetensorsFile(contentsOf: path)
        XCTAssertLessThan(Date().timeIntervalSince(start), 1.0)
        XCTAssertEqual(back.tensors["big"]!.bytes.count, 16 << 20)
        let values = try back.tensors["big"]!.values(as: Float.self)
        XCTAssertTrue(values.withUnsafeBytes { a in big.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 } })
    }

    // MARK: Malformed files

    func testRejectsShortFile() {
        assertRejects([], "shorter than the 8-byte header length")
        assertRejects([1, 0, 0], "file is 3 bytes")
    }

    func testRejectsBadHeaderLength() {
        assertRejects(file("{}", length: 1000), "header length 1000 goes beyond the end of the file")
        // An absurd length is refused before anything is allocated.
        assertRejects(file("{}", length: UInt64.max), "larger than the limit")
        assertRejects(file("{}", length: 1 << 40), "larger than the limit")
        assertRejects(file("{}", length: 0), "too short")
    }

    func testRejectsHeaderThatIsNotJSONOrNotAnObject() {
        assertRejects(file("{\"a\": "), "not valid JSON")
        assertRejects(file("hello!!!"), "not valid JSON")
        assertRejects(file("{} {}"), "not valid JSON")
        assertRejects(file("[1, 2]  "), "not a JSON object")
        assertRejects(file("\"str\"  "), "not a JSON object")
        assertRejects(file("{\"a\": {}, \"a\": {}}"), "duplicate key")
        assertRejects(file("{\"a\": 1}"), "tensor \"a\" is not an object")
        assertRejects(file(#"{"a":"\ud800"}"#), "unpaired surrogate")
        var invalidUTF8 = file("{\"ab\":{}}")
        invalidUTF8[10] = 0xFF
        assertRejects(invalidUTF8, "not valid UTF-8")
    }

    func testRejectsUnknownDtype() {
        assertRejects(file(#"{"t":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#, data: .init(repeating: 0, count: 16)),
                      "unknown dtype \"F128\"")
    }

    func testRejectsBadShapes() {
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#), "shape entry -1 is negative")
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}"#), "overflows")
        assertRejects(file(#"{"t":{"dtype":"F64","shape":[1152921504606846976,8],"data_offsets":[0,0]}}"#), "overflows")
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,0]}}"#), "not an integer in range")
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}}"#), "not an integer")
        assertRejects(file(#"{"t":{"dtype":"F32","shape":"2","data_offsets":[0,0]}}"#), "wrong JSON type")
        assertRejects(file(#"{"t":{"dtype":"F32","data_offsets":[0,0]}}"#), "lacks dtype, shape or data_offsets")
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[],"data_offsets":[0,4],"x":1}}"#, data: [0, 0, 0, 0]), "unknown field")
    }

    func testRejectsSizeMismatch() {
        assertRejects(file(#"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: .init(repeating: 0, count: 8)),
                      "needs 12 bytes but data_offsets span 8")
    }

    func testRejectsOffsetsOutOfRange() {
        assertRejects(file(#"{"t":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}"#, data: [1, 2]), "go beyond the data region (2 bytes)")
        assertRejects(file(#"{"t":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}"#, data: [1, 2, 3, 4]), "reversed")
        assertRejects(file(#"{"t":{"dtype":"U8","shape":[1],"data_offsets":[0]}}"#, data: [1]), "two numbers")
        assertRejects(file(#"{"t":{"dtype":"U8","shape":[1],"data_offsets":[-1,0]}}"#, data: [1]), "negative")
    }

    func testRejectsOverlapsAndGaps() {
        assertRejects(file(#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}"#,
                           data: [1, 2, 3]), "overlaps")
        assertRejects(file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[2,3]}}"#,
                           data: [1, 2, 3]), "bytes [1, 2) of the data region belong to no tensor")
        assertRejects(file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}"#, data: [1, 2]),
                      "bytes [1, 2) of the data region belong to no tensor")
        assertRejects(file(#"{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}"#, data: [1, 2]),
                      "bytes [0, 1) of the data region belong to no tensor")
        assertRejects(file(#"{}"#, data: [9]), "bytes [0, 1)")
    }

    func testRejectsNonStringMetadata() {
        assertRejects(file(#"{"__metadata__":{"epoch":3}}"#), "__metadata__ value for \"epoch\" is not a string")
        assertRejects(file(#"{"__metadata__":["a"]}"#), "__metadata__ is not an object")
    }

    /// 4000 deterministic mutations of a valid file: the header text is damaged by `ByteMutator`
    /// (bit flips, JSON-significant bytes, digit runs grown past Int or replaced by edge values
    /// such as a shape whose byte count overflows, deletions, duplications, a cut end); the file
    /// is then reassembled with the right length prefix (so the parser sees the damage), or with
    /// a wrong one, cut short, or with a damaged data region. Each result decodes or is rejected with a one-line error naming the file; nothing
    /// traps, and whatever decodes is self-consistent (every tensor holds exactly shape × dtype
    /// bytes) and survives its own round trip.
    func testMutatedFilesAreRejectedOrConsistentNeverACrash() throws {
        var f = SafetensorsFile()
        f.tensors["w"] = SafeTensor([1.5, -2, 3, 4, 5, 6] as [Float], shape: [2, 3])
        f.tensors["ids"] = SafeTensor([Int64(-1), 7] as [Int64], shape: [2])
        f.tensors["b"] = SafeTensor([1, 2, 3] as [UInt8], shape: [3])
        f.tensors["s"] = SafeTensor([Double(2)], shape: [])
        f.metadata = ["format": "pt", "k": "v"]
        let valid = f.encoded()
        let headerEnd = 8 + Int(valid.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        let validHeader = Array(valid[8..<headerEnd]), validData = Array(valid[headerEnd...])
        var m = ByteMutator(seed: 2026)
        var decoded = 0, rejected = 0
        for trial in 0..<4000 {
            let header = m.mutate(validHeader, rounds: 1 + m.pick(4))
            var data = validData
            var length = UInt64(header.count)
            switch m.pick(10) {
            case 0: length = m.element([0, 1, 7, length + 1, length &- 1, UInt64.max, 1 << 63, m.next()])
            case 1: data.removeSubrange(m.pick(data.count)..<data.count)
            case 2: if !data.isEmpty { data[m.pick(data.count)] ^= 0xFF }
            default: break
            }
            var bytes = withUnsafeBytes(of: length.littleEndian) { Array($0) } + header + data
            if m.pick(10) == 0 { bytes.removeSubrange(m.pick(bytes.count)..<bytes.count) }
            do {
                let back = try SafetensorsFile(decoding: bytes, path: "fuzz.safetensors")
                decoded += 1
                for (name, t) in back.tensors {
                    XCTAssertEqual(t.bytes.count, t.shape.reduce(1, *) * t.dtype.size, "trial \(trial): tensor \(name)")
                }
                XCTAssertEqual(try SafetensorsFile(decoding: back.encoded(), path: "again"), back, "trial \(trial)")
            } catch {
                rejected += 1
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix("fuzz.safetensors: "), "trial \(trial): \(text)")
                XCTAssertFalse(text.contains("\n"), "trial \(trial): \(text)")
            }
        }
        // Both outcomes occur: a fuzzer whose every input is rejected at the prefix tests nothing.
        XCTAssertGreaterThan(decoded, 20)
        XCTAssertGreaterThan(rejected, 2000)
    }

    func testRNGStateThroughACheckpoint() throws {
        var rng = RNG(seed: 99)
        for _ in 0..<17 { _ = rng.next() }
        var f = SafetensorsFile()
        f.tensors["rng.state"] = rng.checkpointTensor
        let back = try SafetensorsFile(decoding: f.encoded(), path: "r")
        var resumed = try RNG(checkpointTensor: back.tensors["rng.state"]!)
        XCTAssertEqual((0..<8).map { _ in resumed.next() }, (0..<8).map { _ in rng.next() })
        XCTAssertThrowsError(try RNG(checkpointTensor: SafeTensor([0, 0, 0, 0] as [UInt64], shape: [4])))
        XCTAssertThrowsError(try RNG(checkpointTensor: SafeTensor([1, 2, 3, 4] as [Int64], shape: [4])))
        XCTAssertThrowsError(try RNG(checkpointTensor: SafeTensor([1, 2] as [UInt64], shape: [2])))
    }

    func testParameterStoreThroughACheckpoint() throws {
        let store = ParameterStore()
        let w = store.register("encoder.weight", shape: [3, 2])
        let b = store.register("decoder.bias", shape: [3])
        for i in 0..<store.count { store.values[i] = Float(i) * 0.5 - 1 }
        let f = SafetensorsFile(tensors: store.checkpointTensors(), metadata: ["step": "10"])
        let other = ParameterStore()
        other.register("encoder.weight", shape: [3, 2])
        other.register("decoder.bias", shape: [3])
        try other.load(from: try SafetensorsFile(decoding: f.encoded(), path: "p").tensors)
        XCTAssertEqual(other.copyOfValues(), store.copyOfValues())
        XCTAssertEqual(f.tensors["encoder.weight"]?.shape, w.shape)
        XCTAssertEqual(try f.tensors["decoder.bias"]!.values(as: Float.self), Array(store.values(b)))
        // A shape mismatch or a missing tensor throws and leaves the store untouched.
        let wrong = ParameterStore()
        wrong.register("encoder.weight", shape: [2, 3])
        wrong.values[0] = 42
        XCTAssertThrowsError(try wrong.load(from: f.tensors))
        XCTAssertEqual(wrong.values[0], 42)
        let missing = ParameterStore()
        missing.register("rnn.weight", shape: [1])
        XCTAssertThrowsError(try missing.load(from: f.tensors)) { XCTAssertTrue("\($0)".contains("rnn.weight")) }
    }
}
