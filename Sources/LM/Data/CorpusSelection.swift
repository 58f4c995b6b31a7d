import Corpus
import Support

/// Which files hold a run's training, validation and test data, and how to read and tokenize
/// them: the `files → records → tokens → ids` part of the training data path.
///
/// Two kinds of source, which may be combined:
/// - `corpus` (`--corpus`): every file is split by records, by each record's `split` field
///   (JSONL) or else by `BlockSplit` (blocks of 100 records in reading order: 8 of every 10
///   blocks train, 1 valid, 1 test);
/// - `train`, `valid`, `test` (`--train/--valid/--test`): each file belongs to that split whole.
///
/// A split's ids are the split's records of `corpus` followed by its explicit files, in order.
///
/// In a run's `config.json` (`RunConfig.CorpusPaths`) a `corpus` file is listed under all three
/// splits, an explicit file under its own split only; `init(paths:…)` reads that back. The same
/// explicit file for all three splits is therefore refused (give it with `--corpus` instead).
///
///     let data = CorpusSelection(corpus: ["domains.jsonl.zst"])
///     let vocabulary = try data.buildVocabulary(minCount: 2, maxSize: nil)
///     let train = try data.load(.train, vocabulary: vocabulary)
public struct CorpusSelection: Sendable {
    public var corpus: [String]
    public var train: [String]
    public var valid: [String]
    public var test: [String]
    public var readOptions: ReadOptions
    public var tokenization: TokenizationOptions

    public init(corpus: [String] = [], train: [String] = [], valid: [String] = [], test: [String] = [],
                readOptions: ReadOptions = ReadOptions(), tokenization: TokenizationOptions = TokenizationOptions()) {
        self.corpus = corpus
        self.train = train
        self.valid = valid
        self.test = test
        self.readOptions = readOptions
        self.tokenization = tokenization
    }

    /// Reads back the selection a run's `config.json` records: a path listed under all three
    /// splits is a `corpus` file, any other is an explicit file of its split(s).
    public init(paths: RunConfig.CorpusPaths, readOptions: ReadOptions = ReadOptions(),
                tokenization: TokenizationOptions) {
        let shared = paths.train.filter { paths.valid.contains($0) && paths.test.contains($0) }
        self.init(corpus: shared,
                  train: paths.train.filter { !shared.contains($0) },
                  valid: paths.valid.filter { !shared.contains($0) },
                  test: paths.test.filter { !shared.contains($0) },
                  readOptions: readOptions, tokenization: tokenization)
    }

    /// The paths as a run's `config.json` records them (see the type's discussion).
    public var runPaths: RunConfig.CorpusPaths {
        RunConfig.CorpusPaths(train: corpus + train, valid: corpus + valid, test: corpus + test)
    }

    /// The entries of the selection's directories that are skipped because they are not regular
    /// files (a FIFO, a socket, a broken link; `CorpusFiles.expandReportingSkipped`), for the
    /// caller to report: reading one could block forever.
    public func skippedEntries() throws -> [CorpusFiles.Skipped] {
        let all = corpus + train + valid + test
        return all.isEmpty ? [] : try CorpusFiles.expandReportingSkipped(all).skipped
    }

    /// Throws unless there is a training source and a validation source, and the lists can be
    /// recorded unambiguously. The errors name the lists as fields of a `TrainingRequest`
    /// (`data.corpus`, `data.train`, ...).
    public func check() throws {
        if corpus.isEmpty && train.isEmpty { throw CorpusSelection.noTrainingData }
        if corpus.isEmpty && valid.isEmpty {
            throw TrainingSetupError("no validation data: give data.valid PATH, or data.corpus PATH to split a corpus by records",
                                     fields: ["data.valid", "data.corpus"])
        }
        for path in train where valid.contains(path) && test.contains(path) {
            throw TrainingSetupError("\(path) is given as data.train, data.valid and data.test: use data.corpus \(path) to split it by records",
                                     fields: ["data.train", "data.valid", "data.test", "data.corpus"])
        }
        for path in corpus where train.contains(path) || valid.contains(path) || test.contains(path) {
            throw TrainingSetupError("\(path) is given both with data.corpus and as an explicit split", fields: ["data.corpus"])
        }
    }

    static let noTrainingData = TrainingSetupError("no training data: give data.corpus PATH (split by records) or data.train PATH",
                                                   fields: ["data.corpus", "data.train"])

    /// Whether `split` has any source (a test split may have none).
    public func hasSource(_ split: Split) -> Bool {
        !corpus.isEmpty || !explicitFiles(split).isEmpty
    }

    func explicitFiles(_ split: Split) -> [String] {
        switch split {
        case .train: return train
        case .valid: return valid
        case .test: return test
        }
    }

    /// The ids of `split`: its records of `corpus`, then its explicit files.
    public func load(_ split: Split, vocabulary: Vocabulary) throws -> EncodedCorpus {
        var data = EncodedCorpus()
        if !corpus.isEmpty {
            let reader = try CorpusReader(paths: corpus, options: readOptions)
            data.append(try EncodedCorpus(reader, vocabulary: vocabulary, tokenization: tokenization, split: split))
        }
        let files = explicitFiles(split)
        if !files.isEmpty {
            let reader = try CorpusReader(paths: files, options: readOptions)
            data.append(try EncodedCorpus(reader, vocabulary: vocabulary, tokenization: tokenization))
        }
        return data
    }

    /// A vocabulary built from the training split (`--min-count`, `--max-size`; see
    /// `Vocabulary.init(counter:endOfSentenceCount:minCount:maxSize:)`).
    public func buildVocabulary(minCount: Int = 1, maxSize: Int? = nil) throws -> Vocabulary {
        var counter = TokenCounter()
        var endOfSentenceCount = 0
        if !corpus.isEmpty {
            let (stats, c) = try CorpusStatistics.computeWithCounts(try CorpusReader(paths: corpus, options: readOptions),
                                                                    split: .train, tokenization: tokenization)
            counter.merge(c)
            endOfSentenceCount += stats.endOfSentenceCount
        }
        if !train.isEmpty {
            let (stats, c) = try CorpusStatistics.computeWithCounts(try CorpusReader(paths: train, options: readOptions),
                                                                    tokenization: tokenization)
            counter.merge(c)
            endOfSentenceCount += stats.endOfSentenceCount
        }
        return try Vocabulary(counter: counter, endOfSentenceCount: endOfSentenceCount, minCount: minCount, maxSize: maxSize)
    }
}
