import Glibc
import Support

/// The mapping between tokens and integer ids, with the count of each token.
///
/// Ids 0 and 1 are reserved for `<unk>` (unknown tokens) and `<eos>` (end of sentence or
/// line); then come the kept tokens by descending count, ties broken by byte-wise ascending
/// token, so the same counts always give the same ids.
///
/// Built from a `TokenCounter` with `minCount` (tokens seen fewer times are cut) and `maxSize`
/// (the total number of ids **including** `<unk>` and `<eos>`, so `maxSize: 10_000` keeps the
/// 9,998 most frequent tokens). The count of `<unk>` is its own occurrences in the text (e.g.
/// WikiText's literal `<unk>`) plus the counts of every token cut; the count of `<eos>` is the
/// number of sentence or line ends (plus any literal `<eos>` in the text).
///
/// Saved as UTF-8 `token<TAB>count` lines in id order (written atomically), and loaded back
/// with every line checked. `contentHash` identifies the id mapping: the first 16 hex digits of
/// the SHA-256 of the tokens in id order, each followed by `"\n"` — counts are not hashed,
/// so recounting the same corpus differently never changes the hash while any change of ids does.
///
///     var counter = TokenCounter()
///     WhitespaceTokenizer().forEachToken(in: "b a b c") { counter.add($0) }
///     let vocab = try Vocabulary(counter: counter, endOfSentenceCount: 1, maxSize: 4)
///     vocab.tokens          // ["<unk>", "<eos>", "b", "a"]  ("a" and "c" tie; "a" < "c")
///     vocab.count(ofID: 0)  // 1  (the cut "c")
///     vocab.id("zebra")     // 0
public struct Vocabulary: Sendable, Equatable {
    /// The token standing for every token not in the vocabulary, id 0.
    public static let unknownToken = "<unk>"
    /// The token ending every sentence or line, id 1.
    public static let endOfSentenceToken = "<eos>"
    /// The id of `<unk>`.
    public static let unknownID: Int32 = 0
    /// The id of `<eos>`.
    public static let endOfSentenceID: Int32 = 1

    private var interner = ByteInterner()
    /// The count of each id.
    public private(set) var counts: [Int] = []
    /// The first 16 hex digits of SHA-256 over the tokens in id order, each followed by "\n".
    public private(set) var contentHash = ""

    public static func == (a: Vocabulary, b: Vocabulary) -> Bool {
        a.counts == b.counts && a.tokens == b.tokens
    }

    /// Builds a vocabulary from token counts.
    ///
    /// - Parameters:
    ///   - counter: the counts of the corpus tokens (without end-of-sentence markers).
    ///   - endOfSentenceCount: the number of sentence or line ends, the count of `<eos>`.
    ///   - minCount: tokens seen fewer times are cut (become `<unk>`); 1 keeps all.
    ///   - maxSize: the largest number of ids, counting `<unk>` and `<eos>`; nil for no limit.
    /// - Throws: `VocabularyError` if `maxSize` < 2 or a token is empty or contains ASCII
    ///   whitespace (which the file format could not hold).
    public init(counter: TokenCounter, endOfSentenceCount: Int, minCount: Int = 1, maxSize: Int? = nil) throws {
        if let maxSize, maxSize < 2 {
            throw VocabularyError(message: "maximum vocabulary size \(maxSize) is below 2 (<unk> and <eos> are always present)")
        }
        var unknownCount = counter.count(of: Self.unknownToken)
        let eosCount = endOfSentenceCount + counter.count(of: Self.endOfSentenceToken)
        var kept: [Int] = []
        var keptCounts: [Int] = []
        var bad: String?
        for index in 0..<counter.typeCount {
            counter.withEntry(at: index) { bytes, count in
                if Self.isReserved(bytes) { return }
                if bytes.isEmpty || bytes.contains(where: Self.isASCIISpace) {
                    bad = String(decoding: bytes, as: UTF8.self)
                }
                if count >= minCount {
                    kept.append(index)
                    keptCounts.append(count)
                } else {
                    unknownCount += count
                }
            }
        }
        if let bad {
            throw VocabularyError(message: "token \(bad.debugDescription) is empty or contains whitespace; a vocabulary file cannot hold it")
        }
        // Descending count, then ascending bytes.
        var order = Array(kept.indices)
        order.sort { a, b in
            if keptCounts[a] != keptCounts[b] { return keptCounts[a] > keptCounts[b] }
            return counter.withEntry(at: kept[a]) { x, _ in
                counter.withEntry(at: kept[b]) { y, _ in UnsafeBufferPointer.lexicographicallyPrecedes(x, y) }
            }
        }
        let limit = maxSize.map { $0 - 2 } ?? order.count
        for cut in order.dropFirst(limit) { unknownCount += keptCounts[cut] }

        interner = ByteInterner(capacity: min(order.count, limit) + 2)
        insert(Self.unknownToken, count: unknownCount)
        insert(Self.endOfSentenceToken, count: eosCount)
        for position in order.prefix(limit) {
            counter.withEntry(at: kept[position]) { bytes, count in
                _ = interner.intern(bytes)
                counts.append(count)
            }
        }
        contentHash = computeHash()
    }

    /// A vocabulary with exactly these tokens and counts in id order; the first two tokens must
    /// be `<unk>` and `<eos>`. Checked like a loaded file.
    public init(tokens: [String], counts: [Int]) throws {
        precondition(tokens.count == counts.count, "one count per token")
        var text: [UInt8] = []
        for (token, count) in zip(tokens, counts) { text += Array("\(token)\t\(count)\n".utf8) }
        self = try text.withUnsafeBufferPointer { try Vocabulary(parsing: $0, path: "vocabulary") }
    }

    private mutating func insert(_ token: String, count: Int) {
        var token = token
        _ = token.withUTF8 { interner.intern($0) }
        counts.append(count)
    }

    private static func isReserved(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        bytes.count == 5 && (bytes.elementsEqual("<unk>".utf8) || bytes.elementsEqual("<eos>".utf8))
    }

    @inline(__always)
    static func isASCIISpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte &- 9 < 5 }

    private func computeHash() -> String {
        var hash = SHA256()
        let newline: [UInt8] = [10]
        for id in 0..<count {
            interner.withBytes(at: id) { hash.update(UnsafeRawBufferPointer($0)) }
            newline.withUnsafeBytes { hash.update($0) }
        }
        return String(hash.hexDigest().prefix(16))
    }

    // MARK: - Lookup

    /// The number of ids (tokens, including `<unk>` and `<eos>`).
    public var count: Int { counts.count }

    /// The id of the token with bytes `token`, or `unknownID`. No allocation.
    @inline(__always)
    public func id(_ token: UnsafeBufferPointer<UInt8>) -> Int32 {
        interner.find(token).map { Int32($0) } ?? Self.unknownID
    }

    /// The id of `token`, or `unknownID`.
    public func id(_ token: String) -> Int32 {
        var token = token
        return token.withUTF8 { id($0) }
    }

    /// Whether `token` has an id of its own.
    public func contains(_ token: String) -> Bool {
        var token = token
        return token.withUTF8 { interner.find($0) != nil }
    }

    /// The token with id `id`.
    public func token(_ id: Int32) -> String {
        interner.string(at: Int(id))
    }

    /// Calls `body` with the bytes of the token with id `id` (valid only during the call).
    public func withToken<R>(_ id: Int32, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try interner.withBytes(at: Int(id), body)
    }

    /// The count of the token with id `id`.
    public func count(ofID id: Int32) -> Int { counts[Int(id)] }

    /// All tokens in id order.
    public var tokens: [String] { (0..<count).map { interner.string(at: $0) } }

    // MARK: - Files

    /// Writes `token<TAB>count` lines in id order to `path`, atomically.
    public func save(to path: String) throws {
        try AtomicFile.write(to: path) { sink in
            var line: [UInt8] = []
            for id in 0..<count {
                line.removeAll(keepingCapacity: true)
                interner.withBytes(at: id) { line.append(contentsOf: $0) }
                line.append(9)
                line.append(contentsOf: String(counts[id]).utf8)
                line.append(10)
                try sink.write(line)
            }
        }
    }

    /// Reads a vocabulary written by `save(to:)`.
    ///
    /// Only ASCII whitespace is rejected inside a token: `WhitespaceTokenizer` splits on ASCII
    /// whitespace alone, so its tokens may hold other spaces (U+00A0), and a saved vocabulary
    /// must load back.
    ///
    /// - Throws: `FileError` with the path, and the line where it applies, if the file cannot be
    ///   read, is empty, is not UTF-8, has a line without a tab, an empty token, a token with
    ///   ASCII whitespace, a count that is not a non-negative integer, a duplicate token, or does
    ///   not start with `<unk>` and `<eos>` on lines 1 and 2.
    ///
    /// The file is opened like every input (`openTextSource`): `-` is standard input, it may be
    /// a pipe and zstd- or gzip-compressed, a UTF-8 byte order mark is skipped and UTF-16/32
    /// is refused.
    public static func load(from path: String) throws -> Vocabulary {
        let bytes: [UInt8]
        do {
            bytes = try readTextFile(path: path)
        } catch let error as CorpusError {
            let at: String
            switch error.position {
            case .none: at = ""
            case .line(let n): at = "line \(n): "
            case .byte(let n): at = "byte \(n): "
            }
            throw FileError(path: error.file, message: at + error.message)
        }
        return try bytes.withUnsafeBufferPointer { try Vocabulary(parsing: $0, path: path) }
    }

    private init(parsing text: UnsafeBufferPointer<UInt8>, path: String) throws {
        func fail(_ line: Int, _ message: String) -> FileError {
            FileError(path: path, message: line > 0 ? "line \(line): \(message)" : message)
        }
        if text.isEmpty { throw fail(0, "empty vocabulary file (expected <unk> and <eos> lines at least)") }
        var lineNumber = 0
        var start = 0
        while start < text.count {
            lineNumber += 1
            var end = start
            while end < text.count && text[end] != 10 { end += 1 }
            let line = UnsafeBufferPointer(rebasing: text[start..<end])
            start = end + 1
            guard let string = String(validating: line, as: UTF8.self) else {
                throw fail(lineNumber, "invalid UTF-8")
            }
            if line.isEmpty { throw fail(lineNumber, "empty line (expected token<TAB>count)") }
            guard let tab = line.firstIndex(of: 9) else {
                throw fail(lineNumber, "no tab between token and count in \(string.debugDescription)")
            }
            let token = UnsafeBufferPointer(rebasing: line[..<tab])
            let countBytes = line[(tab + 1)...]
            if token.isEmpty { throw fail(lineNumber, "empty token") }
            if token.contains(where: Self.isASCIISpace) {
                throw fail(lineNumber, "token \(String(decoding: token, as: UTF8.self).debugDescription) contains whitespace")
            }
            var count = 0
            var valid = !countBytes.isEmpty
            for byte in countBytes {
                let digit = Int(byte) - 48
                guard digit >= 0 && digit <= 9 else { valid = false; break }
                let (times10, overflow1) = count.multipliedReportingOverflow(by: 10)
                let (sum, overflow2) = times10.addingReportingOverflow(digit)
                guard !overflow1 && !overflow2 else { valid = false; break }
                count = sum
            }
            if !valid {
                throw fail(lineNumber, "count \(String(decoding: countBytes, as: UTF8.self).debugDescription) is not a non-negative integer")
            }
            let reserved = [Self.unknownToken, Self.endOfSentenceToken]
            if lineNumber <= 2 && !token.elementsEqual(reserved[lineNumber - 1].utf8) {
                throw fail(lineNumber, "expected \(reserved[lineNumber - 1]) (ids 0 and 1 are reserved for <unk> and <eos>), found \(String(decoding: token, as: UTF8.self).debugDescription)")
            }
            let (index, inserted) = interner.intern(token)
            if !inserted {
                throw fail(lineNumber, "duplicate token \(String(decoding: token, as: UTF8.self).debugDescription) (first on line \(index + 1))")
            }
            counts.append(count)
        }
        if counts.count < 2 { throw fail(0, "missing <eos> on line 2 (ids 0 and 1 are reserved for <unk> and <eos>)") }
        contentHash = computeHash()
    }
}

extension Vocabulary {
    /// Throws one line naming `source` (the vocabulary file) unless `counts` (a vocabulary's,
    /// in id order: id i is line i + 1 of the file) can choose adaptive-softmax cutoffs
    /// (`NN.AdaptiveLogSoftmax.chooseCutoffs`, which takes the first ids as the head): the ids
    /// after `<unk>` and `<eos>` must be sorted by descending count (the first out-of-order line
    /// is named) and some count must be positive. Every built vocabulary passes; a `--vocab`
    /// file need not. The one check of `train`, `pretrain-glomo` and `embed bilm`
    /// `--softmax adaptive`; explicit cutoffs (`adaptive:C1,...`) need no sorted vocabulary.
    ///
    ///     try Vocabulary.checkCountsForAdaptiveCutoffs([0, 9, 5, 7], source: "v.txt")  // throws: line 4: 7 after 5
    public static func checkCountsForAdaptiveCutoffs(_ counts: [Int], source: String) throws {
        for id in stride(from: 3, to: counts.count, by: 1) where counts[id] > counts[id - 1] {
            throw VocabularyError(message:
                "--softmax adaptive chooses cutoffs from the vocabulary's counts, but \(source) is not sorted by descending count "
                    + "(line \(id + 1): \(counts[id]) after \(counts[id - 1])); give the cutoffs (--softmax adaptive:C1,C2,...) "
                    + "or a frequency-sorted vocabulary")
        }
        if counts.allSatisfy({ $0 <= 0 }) {
            throw VocabularyError(message: "--softmax adaptive chooses cutoffs from the vocabulary's counts, but \(source) has no counts; give the cutoffs (--softmax adaptive:C1,C2,...)")
        }
    }
}

/// A run directory's `vocab.txt` (`Support.RunFolderOwner`).
extension Vocabulary: RunVocabulary {}

/// An invalid request when building a vocabulary, e.g. a maximum size below 2.
public struct VocabularyError: Error, CustomStringConvertible, Sendable {
    /// What is wrong, as one line.
    public var message: String
    public var description: String { message }
}
