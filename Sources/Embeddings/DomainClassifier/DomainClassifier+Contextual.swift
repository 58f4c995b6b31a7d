import NN
import Corpus

extension DomainClassifier {
    /// The classifier's BiLSTM states `[h_fwd ; h_bwd]` averaged per word type over `documents`
    /// (each example run as in training, in evaluation mode), as an embedding table over
    /// `vocabulary` (`2H` wide). Examples longer than `maxLength` are cut into consecutive pieces
    /// of at most `maxLength` ids, so every occurrence counts.
    public func contextualVectors(documents: [LabeledDocument], granularity: DocumentGranularity,
                                  vocabulary: Vocabulary, minOccurrences: Int = 1, batchSize: Int = 32,
                                  maxLength: Int = 512) throws -> (table: EmbeddingTable, fallbackCount: Int) {
        precondition(vocabulary.count == config.vocabularySize, "DomainClassifier: vocabulary size differs from the model's")
        var pieces: [LabeledDocument] = []
        for example in DomainClassifier.examples(of: documents, granularity: granularity) {
            let ids = example.sentences[0]
            var start = 0
            while start < ids.count {
                let end = min(start + maxLength, ids.count)
                pieces.append(LabeledDocument(ids: Array(ids[start..<end]), label: example.label))
                start = end
            }
        }
        // Sorted by length, so that batches carry little padding (the averages do not depend on it, up to rounding).
        pieces.sort { $0.sentences[0].count < $1.sentences[0].count }
        var averager = ContextualAverager(vocabularySize: config.vocabularySize, dimension: 2 * config.hiddenSize)
        let batcher = DocumentBatcher(documents: pieces, granularity: .paragraph, batchSize: batchSize)
        for batch in batcher.batches {
            forward(batch, columns: batchSize)
            forEachState { t, b, state in averager.add(id: batch.ids[t * batch.count + b], vector: state) }
        }
        let (vectors, fallbacks) = averager.averages(minOccurrences: minOccurrences)
        let table = try EmbeddingTable(words: vocabulary.tokens, vectors: vectors, dimension: 2 * config.hiddenSize,
                                       vocabularyHash: vocabulary.contentHash)
        return (table, fallbacks)
    }

    /// The classifier's examples in `documents`: one per document (its sentences joined) or one
    /// per sentence, each as a single-sentence `LabeledDocument`; empty ones are left out.
    public static func examples(of documents: [LabeledDocument], granularity: DocumentGranularity) -> [LabeledDocument] {
        var examples: [LabeledDocument] = []
        for document in documents {
            switch granularity {
            case .paragraph: examples.append(LabeledDocument(ids: Array(document.sentences.joined()), label: document.label))
            case .sentence: examples += document.sentences.map { LabeledDocument(ids: $0, label: document.label) }
            }
        }
        return examples.filter { !$0.sentences[0].isEmpty }
    }

    /// The input embedding matrix as a table over `vocabulary`.
    public func inputEmbeddings(vocabulary: Vocabulary) throws -> EmbeddingTable {
        try EmbeddingTable(words: vocabulary.tokens, vectors: embeddingMatrix, dimension: config.embeddingSize,
                           vocabularyHash: vocabulary.contentHash)
    }
}
