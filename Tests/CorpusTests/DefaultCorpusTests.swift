import Foundation
import XCTest
@testable import Corpus

/// The project's default corpus (corpora/default.jsonl.zst), read by the Swift readers, against
/// the table that the Python build script wrote into corpora/SOURCES.md: an independent count.
final class DefaultCorpusTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Rows of SOURCES.md's "Words and documents per domain" table: domain → (train, valid, test) docs and words.
    func publishedTable() throws -> [String: (docs: [Int], words: [Int])] {
        let text = try String(contentsOf: root.appendingPathComponent("corpora/SOURCES.md"), encoding: .utf8)
        var table: [String: (docs: [Int], words: [Int])] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| ") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 9, let _ = Int(cells[1]) else { continue }
            let numbers = cells[1...].compactMap { Int($0) }
            guard numbers.count == 8 else { continue }
            table[cells[0]] = (Array(numbers[2...4]), Array(numbers[5...7]))
        }
        return table
    }

    func testCountsMatchSourcesTableAndDomainsAreLargeEnough() throws {
        let table = try publishedTable()
        XCTAssertGreaterThanOrEqual(table.count, 5, "SOURCES.md lists at least five domains")
        let reader = try CorpusReader(paths: [root.appendingPathComponent("corpora/default.jsonl.zst").path])
        let stats = try CorpusStatistics.compute(reader)
        var seen: [String: (docs: [Int], words: [Int])] = [:]
        for group in stats.groups {
            let domain = try XCTUnwrap(group.domain), split = try XCTUnwrap(group.split)
            let column = Split.allCases.firstIndex(of: split)!
            var row = seen[domain] ?? ([0, 0, 0], [0, 0, 0])
            row.docs[column] = group.documents
            row.words[column] = group.tokens - group.documents  // one <eos> per document
            seen[domain] = row
        }
        XCTAssertEqual(Set(seen.keys), Set(table.keys))
        for (domain, row) in table {
            XCTAssertEqual(seen[domain]?.docs, row.docs, domain)
            XCTAssertEqual(seen[domain]?.words, row.words, domain)
            XCTAssertGreaterThanOrEqual(row.words.reduce(0, +), 150_000, "\(domain) has at least 150k words")
        }
    }
}
