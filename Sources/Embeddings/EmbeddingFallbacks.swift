import Glibc
import Corpus
import Support

/// The rows of an embedding file that are not learned vectors: **fallback rows**. lmtool's
/// embedding writers (`embed word2vec`, `embed bilm`, `pretrain-domain`'s exports) give some
/// vocabulary words a vector they never learned: word2vec's `<unk>`, `<eos>` and words absent from
/// the corpus keep their random initial vectors; a contextual average gives words seen too rarely
/// (or never) one shared mean vector; the domain classifier's input rows of words absent from its
/// training split stay at their initial values.
///
/// Every writer counts them in its log line and lists them in a **sidecar** next to the file,
/// `FILE.fallbacks.txt`: the fallback words, one per line, in row order (an empty file when there
/// are none). The embedding file itself is left untouched, so word2vec text, binary and GloVe files
/// stay readable by every other tool. Readers (`embed neighbors`, `train --embeddings`) use the
/// sidecar when it is there; without it, `identicalRowGroups` still finds rows that share one
/// vector exactly (the shared-mean kind of fallback).
///
///     try EmbeddingFallbacks.write(["<unk>", "<eos>"], for: "w2v.vec")   // w2v.vec.fallbacks.txt
///     let words = try EmbeddingFallbacks.read(for: "w2v.vec")            // ["<unk>", "<eos>"]
public enum EmbeddingFallbacks {
    /// The sidecar of the embedding file at `path`.
    public static func sidecarPath(for path: String) -> String { path + ".fallbacks.txt" }

    /// Writes the sidecar of `path` (atomically): `words`, one per line. A stream (`-`, a device,
    /// a FIFO: `AtomicFile.isStream`) has no sidecar, as it has no `FILE.vocab.txt`.
    public static func write(_ words: [String], for path: String) throws {
        guard !AtomicFile.isStream(path) else { return }
        try AtomicFile.write(to: sidecarPath(for: path)) { sink in
            for word in words { try sink.write(word + "\n") }
        }
    }

    /// Writes the sidecar of `path` listing the rows of `table` at `rows`.
    public static func write(rows: [Int], of table: EmbeddingTable, for path: String) throws {
        try write(rows.map { table.words[$0] }, for: path)
    }

    /// Removes the sidecar of `path` if there is one (a file rewritten without knowing its
    /// fallback rows must not keep an old list). A stream has none, as for `write`: `-` must not
    /// remove a file named `-.fallbacks.txt`.
    public static func remove(for path: String) throws {
        guard !AtomicFile.isStream(path) else { return }
        let sidecar = sidecarPath(for: path)
        if unlink(sidecar) != 0 && errno != ENOENT { throw FileError.posix(sidecar, "cannot remove") }
    }

    /// The words listed in the sidecar of `path`, or nil when there is no sidecar (standard
    /// input, pipes and devices have none: `AtomicFile.isStream`, as for `write`). Blank lines
    /// are skipped; a word listed twice is an error naming the line (writers list each row once).
    public static func read(for path: String) throws -> [String]? {
        let sidecar = sidecarPath(for: path)
        guard !AtomicFile.isStream(path), access(sidecar, F_OK) == 0 else { return nil }
        let (source, _) = try openByteSource(path: sidecar)
        var words: [String] = []
        var lineOf: [String: Int] = [:]
        try LineReader(source: source, path: sidecar).forEachLine { line, number in
            guard let word = String(validating: Array(line), as: UTF8.self) else {
                throw CorpusError(file: sidecar, position: .line(number), "not valid UTF-8")
            }
            if word.isEmpty { return }
            if let first = lineOf.updateValue(number, forKey: word) {
                throw CorpusError(file: sidecar, position: .line(number), "\(word.debugDescription) is listed twice (first on line \(first))")
            }
            words.append(word)
        }
        return words
    }

    /// The groups of rows of `table` whose vectors are bit-for-bit identical (two rows or more
    /// each), each group in row order, groups ordered by their first row. Learned vectors are
    /// never exactly equal; a shared fallback vector is. Rows are bucketed by a 64-bit hash of
    /// their bits and compared exactly within a bucket, so memory stays O(rows).
    public static func identicalRowGroups(_ table: EmbeddingTable) -> [[Int]] {
        table.vectors.withUnsafeBufferPointer { v in
            let D = table.dimension
            var buckets: [UInt64: [Int]] = [:]
            for row in 0..<table.count { buckets[rowHash(v, row, D), default: []].append(row) }
            var groups: [[Int]] = []
            for candidates in buckets.values where candidates.count > 1 {
                var left = candidates
                while let first = left.first {
                    let same = left.filter { sameRow(v, first, $0, D) }
                    if same.count > 1 { groups.append(same) }
                    left.removeAll { sameRow(v, first, $0, D) }
                }
            }
            return groups.sorted { $0[0] < $1[0] }
        }
    }

    /// The vocabulary words whose row, once `table` is aligned to `vocabulary`
    /// (`EmbeddingTable.aligned(to:missing:)`), is a fallback row of the file: a row of a `listed`
    /// word (the file's sidecar), or a row whose vector is exactly another row's. Matched by
    /// vector after alignment, so the lookup (`<eos>` as `</s>`, lowercase) is the alignment's.
    /// `why` says which evidence there was ("" when none).
    public static func alignedFallbacks(of table: EmbeddingTable, listed: [String], vocabulary: Vocabulary,
                                        sidecar: String, caseInsensitive: Bool = true) -> (words: [String], why: String) {
        let D = table.dimension
        let listedRows = listed.compactMap { table.row(of: $0) }
        let shared = identicalRowGroups(table).map { $0[0] }   // one row stands for its group
        let suspects = listedRows + shared
        guard !suspects.isEmpty else { return ([], "") }
        let (aligned, report) = table.aligned(to: vocabulary, missing: .zero, caseInsensitive: caseInsensitive)
        let missing = Set(report.missingWords)
        var words: [String] = []
        table.vectors.withUnsafeBufferPointer { t in
            aligned.vectors.withUnsafeBufferPointer { a in
                var byHash: [UInt64: [Int]] = [:]
                for row in suspects { byHash[rowHash(t, row, D), default: []].append(row) }
                for (row, word) in vocabulary.tokens.enumerated() where !missing.contains(word) {
                    guard let candidates = byHash[rowHash(a, row, D)] else { continue }
                    if candidates.contains(where: { s in (0..<D).allSatisfy { a[row * D + $0].bitPattern == t[s * D + $0].bitPattern } }) {
                        words.append(word)
                    }
                }
            }
        }
        let why = listedRows.isEmpty ? "vectors shared exactly with other rows"
            : "listed in \(sidecar)" + (shared.isEmpty ? "" : " or shared exactly with other rows")
        return (words, why)
    }

    /// FNV-1a over the bits of row `row` (D floats).
    private static func rowHash(_ v: UnsafeBufferPointer<Float>, _ row: Int, _ D: Int) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for j in 0..<D {
            h ^= UInt64(v[row * D + j].bitPattern)
            h &*= 0x0000_0100_0000_01B3
        }
        return h
    }

    private static func sameRow(_ v: UnsafeBufferPointer<Float>, _ a: Int, _ b: Int, _ D: Int) -> Bool {
        (0..<D).allSatisfy { v[a * D + $0].bitPattern == v[b * D + $0].bitPattern }
    }

    /// A one-line summary, e.g. `3 of 10 rows are fallbacks (never seen: <unk> <eos> zebra),
    /// listed in FILE.fallbacks.txt`.
    public static func summary(count: Int, of rows: Int, words: [String], reason: String, path: String) -> String {
        let examples = words.prefix(8).joined(separator: " ") + (words.count > 8 ? " ..." : "")
        return "\(count) of \(rows) rows are fallbacks (\(reason)\(count > 0 ? ": " + examples : "")), listed in \(sidecarPath(for: path))"
    }
}
