import XCTest
@testable import Corpus

final class RecordTests: XCTestCase {
    func testLocationDescription() {
        XCTAssertEqual(SourceLocation(file: "a.txt", line: 3).description, "a.txt:3")
    }
}
