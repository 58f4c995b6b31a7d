import Support

/// Deterministic byte-level damage for the file readers' fuzz tests (safetensors, corpus and
/// vocabulary files, n-best lists, run and GLoMo directories): each test mutates a valid file
/// many times and checks that its reader either reads the result consistently or rejects it with
/// a one-line error naming the file, never traps.
///
///     var m = ByteMutator(seed: 7)
///     let damaged = m.mutate(valid, rounds: 1 + m.pick(4))
///
/// The generator is Support's SplitMix64 (not NN's `RNG`, so that every test target can use it).
public struct ByteMutator {
    public private(set) var rng: SplitMix64
    /// Bytes written over or inserted into the input (JSON punctuation by default).
    public var interesting: [UInt8]
    /// Texts that replace a run of digits: numbers at and past the edges of Int, floats, junk.
    public var edgeNumbers: [String]

    public static let jsonBytes: [UInt8] = Array("0 9-[]{}\\\":,e.tn\t\r\n".utf8) + [0, 0x7F, 0x80, 0xC0, 0xFF]
    public static let numbers = ["0", "1", "-1", "2", "-0", "00", "1.5", "1e30", "1e400", "1000000000000", "4294967296",
                                 // Products with small sizes (2, 3, 4, 8) overflow Int: 2^60, ~Int.max / 3, 2^62.
                                 "1152921504606846976", "3074457345618258603", "4611686018427387904",
                                 "9223372036854775807", "9223372036854775808", "-9223372036854775808",
                                 "18446744073709551616", String(repeating: "9", count: 400)]

    public init(seed: UInt64, interesting: [UInt8] = ByteMutator.jsonBytes, edgeNumbers: [String] = ByteMutator.numbers) {
        rng = SplitMix64(seed: seed)
        self.interesting = interesting
        self.edgeNumbers = edgeNumbers
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 { rng.next() }

    /// A number in 0..<max(1, n).
    public mutating func pick(_ n: Int) -> Int { rng.index(below: max(1, n)) }

    /// A random element of `xs` (not empty).
    public mutating func element<T>(_ xs: [T]) -> T { xs[pick(xs.count)] }

    /// `input` after `rounds` edits, each one of: a bit flipped; a byte set to, or inserted
    /// as, an interesting byte; a digit run grown by up to 25 nines or given a minus sign; a
    /// number replaced by an edge value; a range of up to 16 bytes deleted; a range of up to 24
    /// bytes duplicated; the end cut off.
    public mutating func mutate(_ input: [UInt8], rounds: Int) -> [UInt8] {
        var bytes = input
        func isDigit(_ b: UInt8) -> Bool { (48...57).contains(b) }
        for _ in 0..<rounds {
            guard !bytes.isEmpty else { break }
            let at = pick(bytes.count)
            switch pick(10) {
            case 0: bytes[at] ^= UInt8(1) << UInt8(pick(8))
            case 1: bytes[at] = element(interesting)
            case 2: bytes.insert(element(interesting), at: at)
            case 3:
                if let d = bytes[at...].firstIndex(where: isDigit) {
                    bytes.insert(contentsOf: Array(String(repeating: "9", count: 1 + pick(25)).utf8), at: d)
                }
            case 4: if let d = bytes[at...].firstIndex(where: isDigit) { bytes.insert(UInt8(ascii: "-"), at: d) }
            case 5, 6:
                if let d = bytes[at...].firstIndex(where: isDigit) {
                    let end = bytes[d...].firstIndex(where: { !isDigit($0) }) ?? bytes.count
                    bytes.replaceSubrange(d..<end, with: Array(element(edgeNumbers).utf8))
                }
            case 7: bytes.removeSubrange(at..<min(at + 1 + pick(16), bytes.count))
            case 8: bytes.insert(contentsOf: bytes[at..<min(at + 1 + pick(24), bytes.count)], at: at)
            default: bytes.removeSubrange(at...)
            }
        }
        return bytes
    }
}
