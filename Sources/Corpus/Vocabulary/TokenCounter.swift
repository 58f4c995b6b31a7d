/// Counts tokens by their bytes: an interner plus a count per distinct token.
///
/// The hot path of corpus statistics and vocabulary building: `add` hashes the token bytes and
/// finds or inserts them in an open-addressing table over a byte arena, so no `String` is made
/// per token. Distinct tokens ("types") are numbered in order of first appearance. Counters made
/// on separate threads (over separate parts of a corpus) combine with `merge`.
///
///     var counter = TokenCounter()
///     WhitespaceTokenizer().forEachToken(in: "a b a") { counter.add($0) }
///     counter.typeCount        // 2
///     counter.totalCount       // 3
///     counter.count(of: "a")   // 2
public struct TokenCounter: Sendable {
    private var interner: ByteInterner
    private var counts: [Int] = []
    /// The number of tokens added (the sum of all counts).
    public private(set) var totalCount = 0

    /// An empty counter with room for about `expectedTypes` distinct tokens before it grows.
    public init(expectedTypes: Int = 1024) {
        interner = ByteInterner(capacity: expectedTypes)
        counts.reserveCapacity(expectedTypes)
    }

    /// The number of distinct tokens.
    public var typeCount: Int { counts.count }

    /// Adds `count` occurrences of the token with bytes `token`.
    @inline(__always)
    public mutating func add(_ token: UnsafeBufferPointer<UInt8>, count: Int = 1) {
        let (index, inserted) = interner.intern(token)
        if inserted {
            counts.append(count)
        } else {
            counts.withUnsafeMutableBufferPointer { $0[index] += count }
        }
        totalCount += count
    }

    /// Adds `count` occurrences of `token`.
    public mutating func add(_ token: String, count: Int = 1) {
        var token = token
        token.withUTF8 { add($0, count: count) }
    }

    /// How many times the token with bytes `token` was added (0 if never).
    public func count(of token: UnsafeBufferPointer<UInt8>) -> Int {
        interner.find(token).map { counts[$0] } ?? 0
    }

    /// How many times `token` was added (0 if never).
    public func count(of token: String) -> Int {
        var token = token
        return token.withUTF8 { count(of: $0) }
    }

    /// Calls `body` with each distinct token's bytes (valid only during the call) and count, in
    /// order of first appearance.
    public func forEach(_ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) rethrows {
        for index in 0..<counts.count {
            try interner.withBytes(at: index) { try body($0, counts[index]) }
        }
    }

    /// Every distinct token and its count, in order of first appearance (for tests and small
    /// counters; makes one `String` per type).
    public var entries: [(token: String, count: Int)] {
        (0..<counts.count).map { (interner.string(at: $0), counts[$0]) }
    }

    /// Adds every count of `other` to this counter.
    public mutating func merge(_ other: TokenCounter) {
        other.forEach { add($0, count: $1) }
    }

    /// Token `index` in order of first appearance, with its count (for `Vocabulary`).
    func withEntry<R>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> R) rethrows -> R {
        try interner.withBytes(at: index) { try body($0, counts[index]) }
    }
}
