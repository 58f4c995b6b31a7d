/// Splits text on ASCII whitespace, for pre-tokenized corpora (PTB, WikiText).
///
/// The separators are space, `\t`, `\n`, `\v`, `\f` and `\r`; runs of them count as one, and
/// leading or trailing whitespace makes no empty tokens. Every other byte (including non-ASCII
/// spaces such as U+00A0) is part of a token. Token bytes point into the input: no copying.
///
///     WhitespaceTokenizer().tokens(" a  b\tc\n")  // ["a", "b", "c"]
public struct WhitespaceTokenizer: Tokenizer {
    /// A whitespace tokenizer.
    public init() {}

    /// Whether `byte` is ASCII whitespace (space, or `\t` `\n` `\v` `\f` `\r`, bytes 9...13).
    @inline(__always)
    public static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte &- 9 < 5
    }

    /// Scans 64 bytes at a time: a bit mask of the whitespace bytes is computed 8 bytes per
    /// word (SWAR), and token starts and ends are read off the mask with bit tricks, so the scan
    /// costs no unpredictable branch per byte.
    @inline(__always)
    public func forEachToken(in text: UnsafeBufferPointer<UInt8>,
                             _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) rethrows {
        guard let base = text.baseAddress else { return }
        let n = text.count
        var inToken = false
        var tokenStart = 0
        var previousTokenBit: UInt64 = 0  // 1 if the byte before this block is in a token
        var blockStart = 0
        var tail = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        while blockStart < n {
            let space: UInt64
            if n - blockStart >= 64 {
                space = Self.spaceMask(UnsafeRawPointer(base + blockStart))
            } else {
                // The last, partial block: pad with spaces.
                space = withUnsafeMutableBytes(of: &tail) { padded in
                    padded.initializeMemory(as: UInt8.self, repeating: 0x20)
                    padded.copyMemory(from: UnsafeRawBufferPointer(start: base + blockStart, count: n - blockStart))
                    return Self.spaceMask(UnsafeRawPointer(padded.baseAddress!))
                }
            }
            let token = ~space
            let shifted = token &<< 1 | previousTokenBit
            var starts = token & ~shifted
            var ends = space & shifted
            previousTokenBit = token &>> 63
            while true {
                if inToken {
                    if ends == 0 { break }
                    let end = blockStart + ends.trailingZeroBitCount
                    ends &= ends &- 1
                    try body(UnsafeBufferPointer(start: base + tokenStart, count: end - tokenStart))
                    inToken = false
                } else {
                    if starts == 0 { break }
                    tokenStart = blockStart + starts.trailingZeroBitCount
                    starts &= starts &- 1
                    inToken = true
                }
            }
            blockStart += 64
        }
        if inToken {
            try body(UnsafeBufferPointer(start: base + tokenStart, count: n - tokenStart))
        }
    }

    /// Bit i set when byte i of the 64 at `p` is ASCII whitespace.
    @inline(__always)
    static func spaceMask(_ p: UnsafeRawPointer) -> UInt64 {
        var mask: UInt64 = 0
        for word in 0..<8 {
            let x = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8 * word, as: UInt64.self))
            mask |= packHighBits(spaceBytes(x)) &<< UInt64(8 &* word)
        }
        return mask
    }

    /// The high bit of each byte of the result is set when that byte of `x` is ASCII
    /// whitespace (0x20, or 0x09...0x0D); exact per byte, with no carries between bytes.
    @inline(__always)
    static func spaceBytes(_ x: UInt64) -> UInt64 {
        let high: UInt64 = 0x8080_8080_8080_8080
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let ascii = ~x & high
        let seven = x & low7
        let atLeast9 = (seven &+ 0x7777_7777_7777_7777) & high   // 0x80 - 9 = 0x77
        let below14 = ~(seven &+ 0x7272_7272_7272_7272) & high   // 0x80 - 14 = 0x72
        let y = x ^ 0x2020_2020_2020_2020
        let nonzero = ((y & low7) &+ low7 | y) & high
        return ((atLeast9 & below14) | ~nonzero) & ascii
    }

    /// Gathers the high bit of each byte into an 8-bit mask (byte i to bit i).
    @inline(__always)
    static func packHighBits(_ x: UInt64) -> UInt64 {
        ((x &>> 7) &* 0x0102_0408_1020_4080) &>> 56
    }
}
