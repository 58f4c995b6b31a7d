import XCTest
@testable import Corpus

final class DiscourseBatcherTests: XCTestCase {
    func testTokens0To25WithB4T3() {
        let batcher = DiscourseBatcher(tokens: Array(0..<26), batchSize: 4, bptt: 3)
        XCTAssertEqual(batcher.rowCount, 6)
        XCTAssertEqual(batcher.trimmedTokenCount, 2)  // 24 and 25
        XCTAssertEqual(batcher.windowCount, 2)
        XCTAssertEqual(batcher.targetCount, 20)
        let first = batcher.window(0)
        XCTAssertEqual(first.start, 0)
        XCTAssertEqual(first.length, 3)
        XCTAssertEqual(first.batchSize, 4)
        XCTAssertEqual(first.inputs, [0, 6, 12, 18,
                                      1, 7, 13, 19,
                                      2, 8, 14, 20])
        XCTAssertEqual(first.targets, [1, 7, 13, 19,
                                       2, 8, 14, 20,
                                       3, 9, 15, 21])
        let last = batcher.window(1)  // partial: rows 3, 4 -> 4, 5
        XCTAssertEqual(last.start, 3)
        XCTAssertEqual(last.length, 2)
        XCTAssertEqual(last.inputs, [3, 9, 15, 21,
                                     4, 10, 16, 22])
        XCTAssertEqual(last.targets, [4, 10, 16, 22,
                                      5, 11, 17, 23])
        XCTAssertEqual(Array(batcher.windows), [first, last])
    }

    func testExactMultipleHasNoPartialWindowAndNoTrim() {
        // 14 tokens, B = 2: rows 7, targets 6 per column, T = 3 -> windows of 3 and 3.
        let batcher = DiscourseBatcher(tokens: Array(100..<114), batchSize: 2, bptt: 3)
        XCTAssertEqual(batcher.trimmedTokenCount, 0)
        XCTAssertEqual(batcher.windows.map(\.length), [3, 3])
        XCTAssertEqual(batcher.window(1).inputs, [103, 110, 104, 111, 105, 112])
        XCTAssertEqual(batcher.window(1).targets, [104, 111, 105, 112, 106, 113])
    }

    func testEveryTokenButTheFirstRowIsATargetOnce() {
        let tokens = Array(Int32(0)..<Int32(103))
        let batcher = DiscourseBatcher(tokens: tokens, batchSize: 5, bptt: 7)
        XCTAssertEqual(batcher.trimmedTokenCount, 3)
        let targets = batcher.windows.flatMap(\.targets).sorted()
        // Column j holds 20j ..< 20j + 20; its first token is never a target.
        let expected = tokens.prefix(100).filter { $0 % 20 != 0 }
        XCTAssertEqual(targets, Array(expected))
        XCTAssertEqual(targets.count, batcher.targetCount)
    }

    func testTooShortStreams() {
        let one = DiscourseBatcher(tokens: [1, 2, 3], batchSize: 4, bptt: 2)
        XCTAssertEqual(one.rowCount, 0)
        XCTAssertEqual(one.trimmedTokenCount, 3)
        XCTAssertEqual(one.windowCount, 0)
        let single = DiscourseBatcher(tokens: [1, 2, 3, 4], batchSize: 4, bptt: 2)
        XCTAssertEqual(single.windowCount, 0)  // one row: nothing to predict
        XCTAssertEqual(single.targetCount, 0)
    }
}

final class SentenceBatcherTests: XCTestCase {
    // ids: <eos> = 1; words >= 10.
    let sentences: [[Int32]] = [[10, 11, 12, 1], [20, 1], [30, 31, 1]]

    func testTheDocumentedExample() {
        let batcher = SentenceBatcher(sentences: sentences, batchSize: 3, paddingID: 0)
        XCTAssertEqual(batcher.batchCount, 1)
        let batch = batcher.batch(0)
        XCTAssertEqual(batch.length, 4)
        XCTAssertEqual(batch.count, 3)
        XCTAssertEqual(batch.inputs, [1, 1, 1,
                                      10, 20, 30,
                                      11, 0, 31,
                                      12, 0, 0])
        XCTAssertEqual(batch.targets, [10, 20, 30,
                                       11, 1, 31,
                                       12, 0, 1,
                                       1, 0, 0])
        XCTAssertEqual(batch.mask, [1, 1, 1,
                                    1, 1, 1,
                                    1, 0, 1,
                                    1, 0, 0])
        XCTAssertEqual(batch.targetCount, 9)
        XCTAssertEqual(batch.mask.reduce(0, +), 9)
    }

    func testSmallerLastBatchAndMissingEos() {
        let batcher = SentenceBatcher(sentences: [[10, 1], [20, 21], [], [30, 1]], batchSize: 3)
        XCTAssertEqual(batcher.batchCount, 2)
        let first = batcher.batch(0)
        // [20, 21] gets its <eos> appended; [] becomes just <eos>.
        XCTAssertEqual(first.targets, [10, 20, 1,
                                       1, 21, 1,
                                       1, 1, 1])
        XCTAssertEqual(first.mask, [1, 1, 1,
                                    1, 1, 0,
                                    0, 1, 0])
        let last = batcher.batch(1)
        XCTAssertEqual(last.count, 1)
        XCTAssertEqual(last.inputs, [1, 30])
        XCTAssertEqual(last.targets, [30, 1])
        XCTAssertEqual(batcher.targetCount, 2 + 3 + 1 + 2)
        XCTAssertEqual(batcher.batches.map { Int($0.mask.reduce(0, +)) }.reduce(0, +), 8)
    }

    func testMaxLengthSplitsIntoChunksThatPredictEveryTargetOnce() {
        // [10 11 12 13 14 <eos>]: pairs (1,10) (10,11) (11,12) (12,13) (13,14) (14,1); chunks of 4 and 2.
        let batcher = SentenceBatcher(sentences: [[10, 11, 12, 13, 14, 1]], batchSize: 2, maxLength: 4, paddingID: 0)
        XCTAssertEqual(batcher.sequenceCount, 2)
        let batch = batcher.batch(0)
        XCTAssertEqual(batch.inputs, [1, 13,
                                      10, 14,
                                      11, 0,
                                      12, 0])
        XCTAssertEqual(batch.targets, [10, 14,
                                       11, 1,
                                       12, 0,
                                       13, 0])
        XCTAssertEqual(batch.targetCount, 6)
    }

    func testShuffleIsDeterministicAndAPermutation() {
        let many: [[Int32]] = (0..<50).map { [Int32(100 + $0), 1] }
        let a = SentenceBatcher(sentences: many, batchSize: 7, shuffleSeed: 42)
        let b = SentenceBatcher(sentences: many, batchSize: 7, shuffleSeed: 42)
        let c = SentenceBatcher(sentences: many, batchSize: 7, shuffleSeed: 43)
        let order = { (s: SentenceBatcher) -> [Int32] in s.batches.flatMap { Array($0.inputs[$0.count..<(2 * $0.count)]) } }
        XCTAssertEqual(order(a), order(b))
        XCTAssertNotEqual(order(a), order(c))
        XCTAssertNotEqual(order(a), Array(100..<150))
        XCTAssertEqual(order(a).sorted(), Array(100..<150))
    }

    func testSortByLengthGroupsSimilarLengthsAndShufflesBatches() {
        let mixed: [[Int32]] = [[10, 11, 12, 1], [20, 1], [30, 31, 1], [40, 1], [50, 51, 52, 53, 1], [60, 61, 1]]
        let sorted = SentenceBatcher(sentences: mixed, batchSize: 2, sortByLength: true)
        XCTAssertEqual(sorted.batches.map(\.length), [2, 3, 5])
        XCTAssertEqual(sorted.batch(0).targets, [20, 40, 1, 1])
        XCTAssertEqual(sorted.batch(1).targets.prefix(2), [30, 60])  // stable among equal lengths
        let shuffled = SentenceBatcher(sentences: mixed, batchSize: 2, sortByLength: true, shuffleSeed: 5)
        XCTAssertEqual(shuffled.batches.map(\.length).sorted(), [2, 3, 5])
        XCTAssertEqual(Set(shuffled.batches.map(\.targets)), Set(sorted.batches.map(\.targets)))
    }

    /// The smaller last batch moves as a whole when the batches are shuffled: every shuffled batch
    /// is one of the sorted batches (before, a shuffle that moved it regrouped the sequences after
    /// it into other batches, of mixed lengths and another window count every epoch).
    func testShuffledSortedBatchesKeepTheSmallerLastBatchWhole() {
        // 7 sentences, B = 3: sorted groups of lengths {2,2,3}, {3,4,4}, {5} (targets incl. <eos>).
        let sentences: [[Int32]] = [[10, 1], [20, 21, 22, 23, 1], [30, 1], [40, 41, 1], [50, 51, 52, 1], [60, 61, 62, 1], [70, 71, 1]]
        let sorted = SentenceBatcher(sentences: sentences, batchSize: 3, sortByLength: true)
        XCTAssertEqual(sorted.batches.map(\.count), [3, 3, 1])
        XCTAssertEqual(sorted.batches.map(\.length), [3, 4, 5])
        var movedLast = false
        for seed in UInt64(1)...20 {
            let shuffled = SentenceBatcher(sentences: sentences, batchSize: 3, sortByLength: true, shuffleSeed: seed)
            XCTAssertEqual(shuffled.batches.map(\.count).sorted(), [1, 3, 3], "seed \(seed)")
            XCTAssertEqual(Set(shuffled.batches.map(\.targets)), Set(sorted.batches.map(\.targets)), "seed \(seed)")
            if shuffled.batch(2).count != 1 { movedLast = true }
        }
        XCTAssertTrue(movedLast, "some seed must move the smaller batch from the end")
    }
}

final class DocumentBatcherTests: XCTestCase {
    let documents = [
        LabeledDocument(sentences: [[10, 11, 1], [12, 1]], label: 2),
        LabeledDocument(sentences: [[20, 1]], label: 0),
        LabeledDocument(sentences: [[], [30, 31, 32, 1]], label: 1),
    ]

    func testParagraphGranularity() {
        let batcher = DocumentBatcher(documents: documents, granularity: .paragraph, batchSize: 2, paddingID: 0)
        XCTAssertEqual(batcher.exampleCount, 3)
        XCTAssertEqual(batcher.batchCount, 2)
        let first = batcher.batch(0)
        XCTAssertEqual(first.length, 5)
        XCTAssertEqual(first.ids, [10, 20,
                                   11, 1,
                                   1, 0,
                                   12, 0,
                                   1, 0])
        XCTAssertEqual(first.mask, [1, 1, 1, 1, 1, 0, 1, 0, 1, 0])
        XCTAssertEqual(first.labels, [2, 0])
        let last = batcher.batch(1)
        XCTAssertEqual(last.ids, [30, 31, 32, 1])
        XCTAssertEqual(last.labels, [1])
        XCTAssertEqual(batcher.skippedEmptyCount, 0)
    }

    func testSentenceGranularityLabelsEachSentenceAndSkipsEmptyOnes() {
        let batcher = DocumentBatcher(documents: documents, granularity: .sentence, batchSize: 4, paddingID: 0)
        XCTAssertEqual(batcher.exampleCount, 4)
        XCTAssertEqual(batcher.skippedEmptyCount, 1)
        let batch = batcher.batch(0)
        XCTAssertEqual(batch.labels, [2, 2, 0, 1])
        XCTAssertEqual(batch.ids, [10, 12, 20, 30,
                                   11, 1, 1, 31,
                                   1, 0, 0, 32,
                                   0, 0, 0, 1])
        XCTAssertEqual(batch.mask.reduce(0, +), 3 + 2 + 2 + 4)
    }

    func testMaxLengthTruncatesAndCounts() {
        let batcher = DocumentBatcher(documents: documents, granularity: .paragraph, batchSize: 3, maxLength: 3)
        XCTAssertEqual(batcher.truncatedTokenCount, 2 + 0 + 1)
        XCTAssertEqual(batcher.batch(0).length, 3)
        XCTAssertEqual(batcher.batch(0).ids.prefix(3), [10, 20, 30])
    }

    func testShuffleKeepsLabelsWithTheirExamples() {
        let docs = (0..<30).map { LabeledDocument(ids: [Int32(100 + $0)], label: Int32($0 % 3)) }
        let a = DocumentBatcher(documents: docs, granularity: .paragraph, batchSize: 8, shuffleSeed: 9)
        let b = DocumentBatcher(documents: docs, granularity: .paragraph, batchSize: 8, shuffleSeed: 9)
        XCTAssertEqual(Array(a.batches), Array(b.batches))
        let pairs = a.batches.flatMap { batch in zip(batch.ids, batch.labels).map { [$0, $1] } }
        XCTAssertNotEqual(pairs.map { $0[0] }, Array(100..<130))
        XCTAssertEqual(pairs.map { $0[0] }.sorted(), Array(100..<130))
        for pair in pairs { XCTAssertEqual(pair[1], (pair[0] - 100) % 3) }
    }
}
