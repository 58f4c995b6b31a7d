import Corpus
import Foundation
import Support

/// What the commands that train word vectors (`embed word2vec`, `embed bilm`) read and write the
/// same way: the training text, and the trained table with its sidecar files.
public enum EmbeddingCommandIO {
    /// The vocabulary (`vocabularyFile`, else counted over `split` with `minCount` and `maxSize`)
    /// and `split` (nil: every record) encoded with it.
    public static func readSplit(_ reader: CorpusReader, split: Split?, tokenization: TokenizationOptions,
                                 vocabularyFile: String?, minCount: Int, maxSize: Int? = nil) throws -> (Vocabulary, EncodedCorpus) {
        let vocabulary = try vocabularyFile.map { try Vocabulary.load(from: $0) }
            ?? Vocabulary.build(from: reader, split: split, tokenization: tokenization, minCount: minCount, maxSize: maxSize)
        let encoded = try EncodedCorpus(reader, vocabulary: vocabulary, tokenization: tokenization, split: split)
        return (vocabulary, encoded)
    }

    /// Writes a trained `table` to `out` in `format`, the list of its `fallbackRows` beside it
    /// (`EmbeddingFallbacks`, `reason` says why they are fallbacks) and, for the text and binary
    /// formats, the vocabulary as `out.vocab.txt` (not beside a stream: safetensors carries the
    /// vocabulary hash itself). Returns the status lines to print.
    public static func write(_ table: EmbeddingTable, vocabulary: Vocabulary, fallbackRows: [Int], reason: String,
                             to out: String, format: EmbeddingFormat) throws -> [String] {
        try EmbeddingFile.write(table, to: out, format: format)
        try EmbeddingFallbacks.write(rows: fallbackRows, of: table, for: out)
        let fallbacks = EmbeddingFallbacks.summary(count: fallbackRows.count, of: table.count,
                                                   words: fallbackRows.map { vocabulary.tokens[$0] }, reason: reason, path: out)
        let size = "\(grouped(table.count)) x \(table.dimension)"
        if format == .safetensors {
            return [fallbacks, "wrote \(out) (\(format.rawValue), \(size), vocabulary hash \(vocabulary.contentHash))"]
        }
        if AtomicFile.isStream(out) {
            return [fallbacks, "wrote \(out) (\(format.rawValue), \(size)); no \(out).vocab.txt beside a stream"]
        }
        try vocabulary.save(to: out + ".vocab.txt")
        return [fallbacks, "wrote \(out) (\(format.rawValue), \(size)) and \(out).vocab.txt"]
    }
}
