import Glibc
import NN
import Corpus
import Support

/// The embedding file formats lmtool reads and writes.
///
/// - `word2vecText`: a `count dim` header line, then `word v1 ... vd` per line (fastText's
///   `.vec` is the same format). Values are separated by spaces or tabs; trailing whitespace
///   is allowed (the original C tool leaves one).
/// - `word2vecBinary`: the header line, then per word: the word, a space, `d` little-endian
///   float32, and an optional newline, as the original C tool writes with `-binary 1`. As the C
///   tool reads words (`fscanf("%s")`), whitespace before a word (space, tab, `\r`, `\n`) is
///   skipped; whitespace inside a word is an error.
/// - `glove`: `word v1 ... vd` lines with no header; D is taken from the first line.
/// - `safetensors`: tensor `embeddings` (f32, `[V, D]`) and metadata `words` (the words joined
///   by "\n", in row order), `vocabulary_hash` (if known) and `format` = `lmtool-embeddings`.
public enum EmbeddingFormat: String, Sendable, CaseIterable {
    case word2vecText = "word2vec"
    case word2vecBinary = "word2vec-binary"
    case glove
    case safetensors

    /// The format a path's extension suggests for writing: `.bin` binary, `.safetensors`,
    /// `.glove` or `.glove.txt` GloVe, anything else (`.txt`, `.vec`) word2vec text.
    public static func forWriting(path: String) -> EmbeddingFormat {
        let lower = path.lowercased()
        if lower.hasSuffix(".bin") { return .word2vecBinary }
        if lower.hasSuffix(".safetensors") { return .safetensors }
        if lower.hasSuffix(".glove") || lower.hasSuffix(".glove.txt") { return .glove }
        return .word2vecText
    }
}

/// Reading, writing and detecting embedding files (see `EmbeddingFormat`).
///
/// Text formats may be zstd- or gzip-compressed (detected by magic bytes) and are read line by
/// line; binary word2vec may be compressed too. Every problem in a file is a `CorpusError`
/// naming the file and line (text) or byte offset (binary): inconsistent dimensions, a value
/// that is not a number, NaN or infinite values (rejected), duplicate words, a header whose
/// counts do not match the rows, a truncated file, an empty file. Blank lines are skipped.
/// Writes are atomic: on error the destination is untouched.
///
///     let table = try EmbeddingFile.read("glove.6B.100d.txt.zst")   // format detected
///     try EmbeddingFile.write(table, to: "vectors.bin")             // binary, by extension
public enum EmbeddingFile {
    // MARK: Detection

    /// Detects the format of `path` by content: safetensors by its header; otherwise a first
    /// line of two integers means word2vec (text if the next line is a word followed by decimal
    /// numbers, binary otherwise); any other first line means GloVe. (This reads the start of
    /// the file; `read` detects on the same bytes it then reads, so it also works on a pipe.)
    public static func detectFormat(path: String) throws -> EmbeddingFormat {
        try EmbeddingInput(path: path).detectFormat()
    }

    /// The format of a (decompressed) stream whose first bytes are `head`, up to 64 KiB.
    static func detectFormat(head: [UInt8], path: String) throws -> EmbeddingFormat {
        if head.allSatisfy({ isSpace($0) || $0 == UInt8(ascii: "\n") || $0 == UInt8(ascii: "\r") }) {
            throw CorpusError(file: path, "empty embedding file")
        }
        guard let firstEnd = head.firstIndex(of: UInt8(ascii: "\n")) else { return .glove }
        guard parseHeader(head[..<firstEnd]) != nil else { return .glove }
        // A text row is "word v1 ... vd" on one line of printable text.
        let rest = head[(firstEnd + 1)...]
        guard let rowEnd = rest.firstIndex(of: UInt8(ascii: "\n")) else {
            // Either one row longer than the probe or binary data without a newline.
            return rest.contains(where: { $0 < 9 }) ? .word2vecBinary : .word2vecText
        }
        let fields = splitFields(rest[..<rowEnd])
        // Any count of numbers means text (a wrong count is then reported by line); raw float
        // bytes almost never form decimal numbers separated by spaces up to a newline.
        if fields.count > 1 && fields.dropFirst().allSatisfy({ parseFloat($0) != nil }) {
            return .word2vecText
        }
        return .word2vecBinary
    }

    /// Whether a file's first 9 stored bytes start a safetensors file: a little-endian header
    /// length of plausible size, then `{`.
    static func looksLikeSafetensors(_ head: [UInt8]) -> Bool {
        guard head.count >= 9 else { return false }
        var length: UInt64 = 0
        for i in (0..<8).reversed() { length = length << 8 | UInt64(head[i]) }
        return head[8] == UInt8(ascii: "{") && length > 1 && length < UInt64(SafetensorsFile.maxHeaderLength)
    }

    // MARK: Reading

    /// Reads an embedding file, detecting its format unless `format` is given.
    ///
    /// The path is opened once (`-` is standard input; a pipe or FIFO works, compressed or not),
    /// and the format is detected on the bytes then read. Text is UTF-8: a byte order mark is
    /// skipped, UTF-16/32 refused, and a word that is not valid UTF-8 is an error naming the
    /// line (text) or byte offset (binary), unless `replaceInvalidUTF8` (then U+FFFD, as for
    /// corpora with `--replace-invalid`).
    public static func read(_ path: String, format: EmbeddingFormat? = nil, replaceInvalidUTF8: Bool = false) throws -> EmbeddingTable {
        let input = try EmbeddingInput(path: path)
        switch try format ?? input.detectFormat() {
        case .word2vecText: return try readText(input, header: true, replaceInvalidUTF8: replaceInvalidUTF8)
        case .glove: return try readText(input, header: false, replaceInvalidUTF8: replaceInvalidUTF8)
        case .word2vecBinary: return try readBinary(input, replaceInvalidUTF8: replaceInvalidUTF8)
        case .safetensors: return try readSafetensors(input)
        }
    }

    /// A word's bytes as a string: invalid UTF-8 is an error from `fail`, or U+FFFD if allowed.
    static func decodeWord<C: Collection>(_ bytes: C, replaceInvalidUTF8: Bool, fail: () -> CorpusError) throws -> String where C.Element == UInt8 {
        if let word = String(validating: bytes, as: UTF8.self) { return word }
        if replaceInvalidUTF8 { return String(decoding: bytes, as: UTF8.self) }
        throw fail()
    }

    static func readText(_ input: EmbeddingInput, header expectHeader: Bool, replaceInvalidUTF8: Bool) throws -> EmbeddingTable {
        let path = input.path
        let source = try input.text()
        var words: [String] = []
        var vectors: [Float] = []
        var seen: [String: Int] = [:]
        var announced: (count: Int, dimension: Int)?
        var dimension = 0
        var lastLine = 0
        try LineReader(source: source, path: path).forEachLine { line, number in
            lastLine = number
            let fields = splitFields(line)
            if fields.isEmpty { return }
            if expectHeader && announced == nil {
                guard let h = parseHeader(line[...]) else {
                    throw CorpusError(file: path, position: .line(number), "expected a word2vec header \"count dim\" (two integers); use the glove format for files without one")
                }
                announced = h
                dimension = h.dimension
                // The header is a claim, not a size to allocate: reserve at most ~1 GiB.
                words.reserveCapacity(min(h.count, 1 << 22))
                vectors.reserveCapacity(min(h.count, (1 << 28) / h.dimension) * h.dimension)
                return
            }
            if let announced, words.count == announced.count {
                throw CorpusError(file: path, position: .line(number), "more rows than the \(announced.count) the header announces")
            }
            let values = fields.count - 1
            if dimension == 0 {
                if values == 0 { throw CorpusError(file: path, position: .line(number), "a word with no values") }
                dimension = values
            } else if values != dimension {
                let origin = announced != nil ? "the header says" : "the first row has"
                throw CorpusError(file: path, position: .line(number), "\(values) values, but \(origin) \(dimension)")
            }
            let word = try decodeWord(fields[0], replaceInvalidUTF8: replaceInvalidUTF8) {
                CorpusError(file: path, position: .line(number), "the word is not valid UTF-8: \(String(decoding: fields[0], as: UTF8.self).debugDescription)")
            }
            if let previous = seen.updateValue(words.count, forKey: word) {
                let previousLine = previous + 1 + (announced != nil ? 1 : 0)
                throw CorpusError(file: path, position: .line(number), "duplicate word \(word.debugDescription) (first seen near line \(previousLine))")
            }
            for (j, field) in fields.dropFirst().enumerated() {
                guard let v = parseFloat(field) else {
                    throw CorpusError(file: path, position: .line(number), "value \(j + 1) of \(word.debugDescription) is not a number: \(String(decoding: field, as: UTF8.self).debugDescription)")
                }
                guard v.isFinite else {
                    throw CorpusError(file: path, position: .line(number), "value \(j + 1) of \(word.debugDescription) is \(v) (NaN and infinite values are rejected)")
                }
                vectors.append(v)
            }
            words.append(word)
        }
        if words.isEmpty && announced == nil { throw CorpusError(file: path, "empty embedding file") }
        if let announced, words.count != announced.count {
            throw CorpusError(file: path, position: .line(lastLine), "the header announces \(announced.count) rows, the file has \(words.count)")
        }
        if words.isEmpty { throw CorpusError(file: path, "no rows after the header") }
        return try EmbeddingTable(words: words, vectors: vectors, dimension: dimension)
    }

    static func readBinary(_ input: EmbeddingInput, replaceInvalidUTF8: Bool) throws -> EmbeddingTable {
        let path = input.path
        let source = try input.text()
        var reader = BinaryReader(source: source, path: path, offset: input.skippedBOM)
        defer { reader.close() }
        var headerBytes: [UInt8] = []
        while let b = try reader.byte(), b != UInt8(ascii: "\n") {
            headerBytes.append(b)
            if headerBytes.count > 100 { break }
        }
        if headerBytes.isEmpty && reader.offset == input.skippedBOM { throw CorpusError(file: path, "empty embedding file") }
        guard let header = parseHeader(headerBytes[...]) else {
            throw CorpusError(file: path, position: .byte(0), "expected a word2vec header \"count dim\" (two integers) on the first line")
        }
        let (count, d) = header
        if count == 0 { throw CorpusError(file: path, "no rows after the header") }
        // Rows are appended as they are read: the header's count is a claim (a damaged or hostile
        // header must end in "truncated", not in an allocation of its size); reserve at most ~1 GiB.
        var words: [String] = []
        words.reserveCapacity(min(count, 1 << 22))
        var vectors: [Float] = []
        vectors.reserveCapacity(min(count, (1 << 28) / d) * d)
        var rowValues = [Float](repeating: 0, count: d)
        var seen: [String: Int] = [:]
        var wordBytes: [UInt8] = []
        for row in 0..<count {
            wordBytes.removeAll(keepingCapacity: true)
            // As the C tool's fscanf("%s"): whitespace before the word is skipped (the newline
            // ending the previous row, CRLF's \r); the word ends at a space and holds no whitespace.
            var rowStart = reader.offset
            while true {
                guard let b = try reader.byte() else {
                    throw CorpusError(file: path, position: .byte(reader.offset), "truncated: the file ends inside row \(row + 1) of the \(count) the header announces")
                }
                let whitespace = isSpace(b) || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r")
                if whitespace && wordBytes.isEmpty { continue }
                if b == UInt8(ascii: " ") { break }
                if whitespace {
                    let before = String(decoding: wordBytes, as: UTF8.self).debugDescription
                    throw CorpusError(file: path, position: .byte(reader.offset - 1),
                                      "the word of row \(row + 1) contains whitespace (\(String(UnicodeScalar(b)).debugDescription) after \(before)); a word ends at a space")
                }
                if wordBytes.isEmpty { rowStart = reader.offset - 1 }
                wordBytes.append(b)
                if wordBytes.count > 10_000 {
                    throw CorpusError(file: path, position: .byte(rowStart), "row \(row + 1): no space after the word within 10000 bytes (wrong dimension in the header, or not a binary word2vec file)")
                }
            }
            let word = try decodeWord(wordBytes, replaceInvalidUTF8: replaceInvalidUTF8) {
                CorpusError(file: path, position: .byte(rowStart), "the word of row \(row + 1) is not valid UTF-8: \(String(decoding: wordBytes, as: UTF8.self).debugDescription)")
            }
            if let previous = seen.updateValue(row, forKey: word) {
                throw CorpusError(file: path, position: .byte(rowStart), "duplicate word \(word.debugDescription) (rows \(previous + 1) and \(row + 1))")
            }
            let valuesStart = reader.offset
            let complete = try rowValues.withUnsafeMutableBytes { try reader.read(into: $0) }
            if !complete {
                throw CorpusError(file: path, position: .byte(reader.offset), "truncated: the file ends inside the values of row \(row + 1) (\(word.debugDescription)) of the \(count) the header announces")
            }
            for j in 0..<d {
                let v = Float(bitPattern: UInt32(littleEndian: rowValues[j].bitPattern))
                guard v.isFinite else {
                    throw CorpusError(file: path, position: .byte(valuesStart + 4 * j), "value \(j + 1) of \(word.debugDescription) is \(v) (NaN and infinite values are rejected)")
                }
                rowValues[j] = v
            }
            vectors.append(contentsOf: rowValues)
            words.append(word)
        }
        while let b = try reader.byte() {
            if !(isSpace(b) || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r")) {
                throw CorpusError(file: path, position: .byte(reader.offset - 1), "more data after the \(count) rows the header announces (or a wrong dimension in the header)")
            }
        }
        return try EmbeddingTable(words: words, vectors: vectors, dimension: d)
    }

    static func readSafetensors(_ input: EmbeddingInput) throws -> EmbeddingTable {
        let path = input.path
        let file = try input.safetensors()
        guard let tensor = file.tensors["embeddings"] else {
            throw CorpusError(file: path, "no tensor named \"embeddings\" (found: \(file.tensors.keys.sorted().joined(separator: ", ")))")
        }
        guard tensor.shape.count == 2, tensor.dtype == .f32 else {
            throw CorpusError(file: path, "tensor \"embeddings\" must be f32 [V, D], found \(tensor.dtype.rawValue) \(tensor.shape)")
        }
        guard let joined = file.metadata["words"] else { throw CorpusError(file: path, "no \"words\" in the metadata") }
        let words = joined.isEmpty ? [] : joined.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard words.count == tensor.shape[0] else {
            throw CorpusError(file: path, "the metadata lists \(words.count) words for \(tensor.shape[0]) rows")
        }
        let values = try tensor.values(as: Float.self)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw CorpusError(file: path, "row \(bad / tensor.shape[1] + 1) has a \(values[bad]) value (NaN and infinite values are rejected)")
        }
        do {
            return try EmbeddingTable(words: words, vectors: values, dimension: tensor.shape[1], vocabularyHash: file.metadata["vocabulary_hash"])
        } catch let error as EmbeddingError {
            throw CorpusError(file: path, error.message)
        }
    }

    // MARK: Writing

    /// Writes `table` atomically in `format` (by default, the one `path`'s extension suggests).
    ///
    /// Words must be non-empty and, for the text and binary formats, free of whitespace; a
    /// word that cannot be written is an error and nothing is written.
    public static func write(_ table: EmbeddingTable, to path: String, format: EmbeddingFormat? = nil) throws {
        let format = format ?? EmbeddingFormat.forWriting(path: path)
        for word in table.words {
            let bad = word.isEmpty || word.utf8.contains(where: { format == .safetensors ? $0 == UInt8(ascii: "\n") : (isSpace($0) || $0 == 10 || $0 == 13) })
            if bad { throw CorpusError(file: path, "cannot write the word \(word.debugDescription) in the \(format.rawValue) format (empty or containing whitespace)") }
        }
        switch format {
        case .safetensors:
            var metadata = ["words": table.words.joined(separator: "\n"), "format": "lmtool-embeddings"]
            if let hash = table.vocabularyHash { metadata["vocabulary_hash"] = hash }
            let file = SafetensorsFile(tensors: ["embeddings": SafeTensor(table.vectors, shape: [table.count, table.dimension])], metadata: metadata)
            try file.write(to: path)
        case .word2vecText, .glove, .word2vecBinary:
            try AtomicFile.write(to: path) { sink in
                if format != .glove { try sink.write("\(table.count) \(table.dimension)\n") }
                var line: [UInt8] = []
                let d = table.dimension
                for (r, word) in table.words.enumerated() {
                    line.removeAll(keepingCapacity: true)
                    line.append(contentsOf: word.utf8)
                    if format == .word2vecBinary {
                        line.append(UInt8(ascii: " "))
                        for j in 0..<d {
                            let bits = table.vectors[r * d + j].bitPattern.littleEndian
                            withUnsafeBytes(of: bits) { line.append(contentsOf: $0) }
                        }
                    } else {
                        for j in 0..<d {
                            line.append(UInt8(ascii: " "))
                            line.append(contentsOf: "\(table.vectors[r * d + j])".utf8)
                        }
                    }
                    line.append(UInt8(ascii: "\n"))
                    try sink.write(line)
                }
            }
        }
    }

    // MARK: Parsing helpers

    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 }

    static func splitFields<C: Collection>(_ line: C) -> [C.SubSequence] where C.Element == UInt8 {
        line.split(whereSeparator: { isSpace($0) || $0 == 13 })
    }

    /// "count dim" with both positive (count may be 0 only if nothing follows, which we reject later).
    static func parseHeader<C: Collection>(_ line: C) -> (count: Int, dimension: Int)? where C.Element == UInt8 {
        let fields = splitFields(line)
        guard fields.count == 2,
              let count = Int(String(decoding: fields[0], as: UTF8.self)),
              let dimension = Int(String(decoding: fields[1], as: UTF8.self)),
              count >= 0, dimension > 0, dimension <= 1 << 20 else { return nil }
        return (count, dimension)
    }

    /// A decimal number, the whole field, or nil: an optional sign, digits with an optional point
    /// (at least one digit), an optional exponent (`e` or `E`, an optional sign, digits); also
    /// `nan`, `inf` and `infinity` in any case, returned so that the reader refuses them by name.
    /// What else `strtof` reads (hexadecimal `0x10`, `nan(7)`) is nil.
    static func parseFloat<C: Collection>(_ field: C) -> Float? where C.Element == UInt8 {
        let n = field.count
        guard n > 0 && n < 64 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: 64) { buf -> Float? in
            var i = 0
            for b in field {
                buf[i] = CChar(bitPattern: b)
                i += 1
            }
            buf[n] = 0
            guard isDecimal(UnsafeBufferPointer(rebasing: buf[0..<n])) else { return nil }
            var end: UnsafeMutablePointer<CChar>?
            let value = strtof(buf.baseAddress!, &end)
            return end == buf.baseAddress! + n ? value : nil
        }
    }

    /// Whether `text` is spelled as `parseFloat` accepts (see there).
    static func isDecimal(_ text: UnsafeBufferPointer<CChar>) -> Bool {
        func byte(_ i: Int) -> UInt8 { i < text.count ? UInt8(bitPattern: text[i]) : 0 }
        func isDigit(_ i: Int) -> Bool { byte(i) >= UInt8(ascii: "0") && byte(i) <= UInt8(ascii: "9") }
        var i = byte(0) == UInt8(ascii: "+") || byte(0) == UInt8(ascii: "-") ? 1 : 0
        if byte(i) | 0x20 == UInt8(ascii: "n") || byte(i) | 0x20 == UInt8(ascii: "i") {
            let word = String(decoding: text[i...].map { UInt8(bitPattern: $0) }, as: UTF8.self).lowercased()
            return word == "nan" || word == "inf" || word == "infinity"
        }
        var digits = 0
        while isDigit(i) { i += 1; digits += 1 }
        if byte(i) == UInt8(ascii: ".") {
            i += 1
            while isDigit(i) { i += 1; digits += 1 }
        }
        guard digits > 0 else { return false }
        if byte(i) == UInt8(ascii: "e") || byte(i) == UInt8(ascii: "E") {
            i += 1
            if byte(i) == UInt8(ascii: "+") || byte(i) == UInt8(ascii: "-") { i += 1 }
            guard isDigit(i) else { return false }
            while isDigit(i) { i += 1 }
        }
        return i == text.count
    }
}

/// An embedding file opened once: its stored bytes, sniffed for safetensors, then (for the
/// other formats) decompressed and checked for encoding, with the first 64 KiB kept for format
/// detection and read again by the reader.
final class EmbeddingInput {
    let path: String
    private let file: FileByteSource
    private let stored: PeekableByteSource
    private let storedHead: [UInt8]
    private var decoded: PeekableByteSource?
    /// The length of the UTF-8 byte order mark skipped at the start (0 or 3).
    private(set) var skippedBOM = 0

    init(path: String) throws {
        self.path = path
        file = try FileByteSource(path: path)
        stored = PeekableByteSource(file)
        storedHead = try stored.peek(9)
    }

    /// The format, from the same bytes the reader will read.
    func detectFormat() throws -> EmbeddingFormat {
        if EmbeddingFile.looksLikeSafetensors(storedHead) { return .safetensors }
        return try EmbeddingFile.detectFormat(head: try text().peek(1 << 16), path: path)
    }

    /// The decompressed bytes, after a UTF-8 byte order mark; UTF-16/32 is an error.
    func text() throws -> PeekableByteSource {
        if let decoded { return decoded }
        let text = PeekableByteSource(try decompressing(stored, path: path).source)
        skippedBOM = try checkTextEncoding(text, path: path)
        decoded = text
        return text
    }

    /// The whole file as safetensors: mapped from disk when it is a regular file, else read
    /// from the stream.
    func safetensors() throws -> SafetensorsFile {
        if file.isRegularFile { return try SafetensorsFile(contentsOf: path) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = try chunk.withUnsafeMutableBytes { try stored.read(into: $0) }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return try SafetensorsFile(decoding: bytes, path: path)
    }
}

/// Buffered bytes from a `ByteSource`, with the absolute offset for error messages.
struct BinaryReader {
    let source: ByteSource
    let path: String
    private var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 16, alignment: 16)
    private var start = 0, end = 0
    private(set) var offset: Int

    /// `offset` is where the source starts in the stream (after a byte order mark).
    init(source: ByteSource, path: String, offset: Int = 0) {
        self.source = source
        self.path = path
        self.offset = offset
    }

    func close() { buffer.deallocate() }

    private mutating func refill() throws -> Bool {
        start = 0
        end = try source.read(into: buffer)
        return end > 0
    }

    mutating func byte() throws -> UInt8? {
        if start == end, try !refill() { return nil }
        let b = buffer[start]
        start += 1
        offset += 1
        return b
    }

    /// Fills `destination`; false if the stream ended first.
    mutating func read(into destination: UnsafeMutableRawBufferPointer) throws -> Bool {
        var filled = 0
        while filled < destination.count {
            if start == end, try !refill() { return false }
            let n = min(end - start, destination.count - filled)
            destination.baseAddress!.advanced(by: filled).copyMemory(from: buffer.baseAddress!.advanced(by: start), byteCount: n)
            start += n
            filled += n
            offset += n
        }
        return true
    }
}
