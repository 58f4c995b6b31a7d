import XCTest
import Support

final class SplitMix64Tests: XCTestCase {
    func testMatchesTheReferenceSequence() {
        // Vigna's splitmix64.c seeded with 1 (also printed by Tests/LMTests/Fixtures/ablation_bootstrap.py).
        var rng = SplitMix64(seed: 1)
        XCTAssertEqual([rng.next(), rng.next(), rng.next()], [0x910a_2dec_8902_5cc1, 0xbeeb_8da1_658e_ec67, 0xf893_a2ee_fb32_555e])
        var r = SplitMix64(seed: 5)
        for _ in 0..<1000 { XCTAssertTrue((0..<7).contains(r.index(below: 7))) }
    }
}
