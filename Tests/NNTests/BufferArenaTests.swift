import XCTest
@testable import NN

final class BufferArenaTests: XCTestCase {
    /// Buffers come zeroed, do not overlap, and keep what is written to them.
    func testBuffersAreZeroedAndDistinct() {
        let arena = BufferArena()
        let a = arena.floats(5), b = arena.floats(3), ids = arena.int32s(4), d = arena.doubles(2)
        XCTAssertEqual(Array(UnsafeBufferPointer(start: a, count: 5)), [0, 0, 0, 0, 0])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: ids, count: 4)), [0, 0, 0, 0])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: d, count: 2)), [0, 0])
        for i in 0..<5 { a[i] = Float(i + 1) }
        for i in 0..<3 { b[i] = -1 }
        d[0] = 0.5; d[1] = -2
        XCTAssertEqual(Array(UnsafeBufferPointer(start: a, count: 5)), [1, 2, 3, 4, 5])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: b, count: 3)), [-1, -1, -1])
        XCTAssertEqual(Array(UnsafeBufferPointer(start: d, count: 2)), [0.5, -2])
    }
}
