/// Reads a corpus given as files and directories, record by record, in a fixed order.
///
///     let corpus = try CorpusReader(paths: ["data/"], options: ReadOptions())
///     try corpus.forEachRecord { record in print(record.location, record.text.count) }
public struct CorpusReader {
    public let files: [String]
    /// Entries of the directories given that were not read because they are not regular files
    /// (see `CorpusFiles.expandReportingSkipped`); the CLI prints a note for each.
    public let skipped: [CorpusFiles.Skipped]
    public let options: ReadOptions

    /// Expands `paths` (files, directories; `-` is standard input) right away, so a missing path
    /// fails here.
    public init(paths: [String], options: ReadOptions = ReadOptions()) throws {
        (files, skipped) = try CorpusFiles.expandReportingSkipped(paths)
        self.options = options
    }

    /// Calls `body` with every record of every file, in order.
    public func forEachRecord(_ body: (RecordView) throws -> Void) throws {
        for file in files {
            try RecordReader(path: file, options: options).forEachRecord(body)
        }
    }

    /// Calls `body` with the records of one split. Records carry their own split when the corpus
    /// says (JSONL `split`); the others are assigned one by `BlockSplit` in reading order.
    public func forEachRecord(in split: Split, blocks: BlockSplit = BlockSplit(), _ body: (RecordView) throws -> Void) throws {
        var index = 0
        try forEachRecord { record in
            let assigned = record.split ?? blocks.split(ofRecord: index)
            index += 1
            if assigned == split { try body(record) }
        }
    }

    /// All records, as owned values (for small corpora and tests).
    public func records() throws -> [Record] {
        var result: [Record] = []
        try forEachRecord { result.append($0.record()) }
        return result
    }
}

/// A deterministic train/valid/test split by contiguous blocks of records, for corpora that do
/// not say which record belongs where.
///
/// Records are numbered in reading order and grouped in blocks of `blockSize`; of every ten
/// consecutive blocks, the first eight go to train, the ninth to valid, the tenth to test. Whole
/// blocks keep neighbouring sentences together (no leakage of a paragraph's context across
/// splits), and the interleaving spreads every part of the corpus over all three splits.
///
///     BlockSplit(blockSize: 2): records 0–15 → train, 16–17 → valid, 18–19 → test, 20… → train
public struct BlockSplit: Sendable, Equatable {
    public var blockSize: Int

    public init(blockSize: Int = 100) {
        precondition(blockSize > 0)
        self.blockSize = blockSize
    }

    public func split(ofRecord index: Int) -> Split {
        switch (index / blockSize) % 10 {
        case 8: return .valid
        case 9: return .test
        default: return .train
        }
    }
}
