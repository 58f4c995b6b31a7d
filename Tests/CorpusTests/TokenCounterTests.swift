import XCTest
@testable import Corpus

final class TokenCounterTests: XCTestCase {
    func count(_ text: String) -> TokenCounter {
        var counter = TokenCounter(expectedTypes: 4)
        WhitespaceTokenizer().forEachToken(in: text) { counter.add($0) }
        return counter
    }

    func testCountsTypesAndTotal() {
        let counter = count("the cat sat on the mat the end")
        XCTAssertEqual(counter.totalCount, 8)
        XCTAssertEqual(counter.typeCount, 6)
        XCTAssertEqual(counter.count(of: "the"), 3)
        XCTAssertEqual(counter.count(of: "cat"), 1)
        XCTAssertEqual(counter.count(of: "dog"), 0)
        XCTAssertEqual(counter.entries.map(\.token), ["the", "cat", "sat", "on", "mat", "end"])
        XCTAssertEqual(counter.entries.map(\.count), [3, 1, 1, 1, 1, 1])
    }

    func testManyTypesSurviveGrowthAgainstADictionary() {
        // Tokens of many lengths (0...40 bytes, crossing the 8-byte hash blocks), against Swift's Dictionary.
        var counter = TokenCounter(expectedTypes: 2)
        var reference: [String: Int] = [:]
        var state: UInt64 = 12345
        for _ in 0..<20_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let n = Int(state >> 33) % 3000
            let token = "w\(n)" + String(repeating: "x", count: n % 37)
            counter.add(token)
            reference[token, default: 0] += 1
        }
        counter.add("")  // the empty token is a token like any other
        reference["", default: 0] += 1
        XCTAssertEqual(counter.typeCount, reference.count)
        XCTAssertEqual(counter.totalCount, 20_001)
        var seen: [String: Int] = [:]
        counter.forEach { seen[String(decoding: $0, as: UTF8.self)] = $1 }
        XCTAssertEqual(seen, reference)
        for (token, n) in reference.prefix(50) { XCTAssertEqual(counter.count(of: token), n) }
    }

    func testDistinguishesTokensWithEqualPrefixesAndUnicode() {
        var counter = TokenCounter()
        for token in ["abcdefgh", "abcdefghi", "abcdefgh\0", "é", "e\u{301}", "abcdefgh"] { counter.add(token) }
        XCTAssertEqual(counter.typeCount, 5)
        XCTAssertEqual(counter.count(of: "abcdefgh"), 2)
        XCTAssertEqual(counter.count(of: "e\u{301}"), 1)  // bytes, not canonical equivalence
    }

    func testMergeAddsCounts() {
        var a = count("x y x")
        let b = count("y z z z")
        a.merge(b)
        XCTAssertEqual(a.totalCount, 7)
        XCTAssertEqual(a.entries.map { "\($0.token)=\($0.count)" }, ["x=2", "y=2", "z=3"])
        XCTAssertEqual(b.totalCount, 4)  // the merged counter is untouched
    }

    func testAddWithCount() {
        var counter = TokenCounter()
        counter.add("a", count: 5)
        counter.add("a", count: 2)
        XCTAssertEqual(counter.count(of: "a"), 7)
        XCTAssertEqual(counter.totalCount, 7)
    }
}
