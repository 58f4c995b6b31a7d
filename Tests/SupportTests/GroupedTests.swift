import XCTest
import Support

final class GroupedTests: XCTestCase {
    func testDigitsAreGroupedByThousands() {
        XCTAssertEqual(grouped(0), "0")
        XCTAssertEqual(grouped(999), "999")
        XCTAssertEqual(grouped(1000), "1,000")
        XCTAssertEqual(grouped(6912), "6,912")
        XCTAssertEqual(grouped(1_234_567), "1,234,567")
        XCTAssertEqual(grouped(-1000), "-1,000")
        XCTAssertEqual(grouped(-999), "-999")
        XCTAssertEqual(grouped(Int.min), "-9,223,372,036,854,775,808")
    }
}
