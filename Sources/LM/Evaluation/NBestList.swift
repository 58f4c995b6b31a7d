import Corpus

/// The input of `lmtool rescore`: one hypothesis per line, optionally `id<TAB>hypothesis`.
///
/// Either every line has an id or none has (a mix is an error, as it is almost always a
/// formatting slip). Lines end with `\n` (a `\r` before it is dropped); the file may be zstd- or
/// gzip-compressed, a pipe or `-` (standard input), and is opened like every text input
/// (`openTextSource`: a UTF-8 byte order mark is skipped, UTF-16/32 refused). Empty (or all-whitespace) lines, an empty id or hypothesis, more than one
/// tab and invalid UTF-8 are `CorpusError`s naming the file and line, e.g.
/// `nbest.txt:3: empty hypothesis`. Hypotheses keep their order.
///
///     nbest.txt:                  utt1-1<TAB>the cat sat
///                                 utt1-2<TAB>the cat sad
///     let list = try NBestList(contentsOf: "nbest.txt")
///     list.hypotheses[1]          // id "utt1-2", text "the cat sad", line 2
public struct NBestList: Equatable, Sendable {
    public struct Hypothesis: Equatable, Sendable {
        /// The id before the tab, if the file has ids.
        public var id: String?
        public var text: String
        /// 1-based line number in the file.
        public var line: Int

        public init(id: String?, text: String, line: Int) {
            self.id = id
            self.text = text
            self.line = line
        }
    }

    public var path: String
    public var hypotheses: [Hypothesis]

    /// Reads and checks the n-best file at `path`.
    public init(contentsOf path: String) throws {
        let (source, _) = try openTextSource(path: path)
        var parser = Parser(path: path)
        try LineReader(source: source, path: path).forEachLine { line, number in
            try parser.add(Array(line), line: number)
        }
        self = try parser.finish()
    }

    /// Parses n-best text already in memory; `path` names it in errors.
    public init(parsing text: String, path: String) throws {
        var parser = Parser(path: path)
        var lines = text.utf8.split(separator: 10, omittingEmptySubsequences: false).map { Array($0) }
        if lines.last?.isEmpty == true { lines.removeLast() }   // the final newline ends a line, it starts none
        for (i, var line) in lines.enumerated() {
            if line.last == 13 { line.removeLast() }
            try parser.add(line, line: i + 1)
        }
        self = try parser.finish()
    }

    private struct Parser {
        let path: String
        var hypotheses: [Hypothesis] = []
        /// Whether the first line had an id, and that line's number.
        var firstHadID: (Bool, Int)?

        init(path: String) { self.path = path }

        mutating func add(_ bytes: [UInt8], line: Int) throws {
            func fail(_ message: String) -> CorpusError { CorpusError(file: path, position: .line(line), message) }
            guard let text = String(validating: bytes, as: UTF8.self) else { throw fail("not valid UTF-8") }
            let fields = text.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count <= 2 else { throw fail("more than one tab; expected 'hypothesis' or 'id<TAB>hypothesis'") }
            let id = fields.count == 2 ? String(fields[0]) : nil
            let hypothesis = String(fields.last!)
            if let id, id.allSatisfy(\.isWhitespace) { throw fail("empty id before the tab") }
            if hypothesis.allSatisfy(\.isWhitespace) {
                throw fail(id.map { "empty hypothesis after id '\($0)'" } ?? "empty hypothesis")
            }
            if let (hadID, first) = firstHadID, hadID != (id != nil) {
                throw fail(hadID ? "no id, but line \(first) has one (id<TAB>hypothesis)" : "has an id, but line \(first) has none")
            }
            if firstHadID == nil { firstHadID = (id != nil, line) }
            hypotheses.append(Hypothesis(id: id, text: hypothesis, line: line))
        }

        func finish() throws -> NBestList {
            guard !hypotheses.isEmpty else { throw CorpusError(file: path, "no hypotheses (the file is empty)") }
            return NBestList(path: path, hypotheses: hypotheses)
        }
    }

    /// The output of `lmtool rescore`: one line per hypothesis in input order, `id<TAB>score`
    /// when the file has ids, else just the score; scores are log10 probabilities printed as
    /// SRILM prints numbers (`%g`).
    ///
    ///     list.render(log10Probabilities: [-12.5, -14.25])   // "utt1-1\t-12.5\nutt1-2\t-14.25\n"
    public func render(log10Probabilities scores: [Double]) -> String {
        precondition(scores.count == hypotheses.count, "one score per hypothesis")
        var out = ""
        for (h, score) in zip(hypotheses, scores) {
            out += (h.id.map { $0 + "\t" } ?? "") + g(score) + "\n"
        }
        return out
    }

    init(path: String, hypotheses: [Hypothesis]) {
        self.path = path
        self.hypotheses = hypotheses
    }
}
