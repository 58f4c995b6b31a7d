import Glibc

/// A set of byte strings, each numbered by insertion order: an open-addressing hash table
/// (linear probing, at most half full) over one byte arena.
///
/// The shared core of `TokenCounter` and `Vocabulary`: looking up or inserting a token makes no
/// `String` and, once the table has grown, allocates nothing.
struct ByteInterner: Sendable {
    /// Every entry's bytes, back to back.
    private(set) var arena: [UInt8] = []
    /// Entry i is arena[starts[i] ..< starts[i + 1]] (starts has count + 1 elements).
    private(set) var starts: [Int] = [0]
    /// Entry i's hash.
    private var hashes: [UInt64] = []
    /// Per slot: the high 32 bits of the entry's hash, then entry index + 1 in the low 32 bits;
    /// 0 for an empty slot. The count is a power of two.
    private var slots: [UInt64]

    init(capacity: Int = 1024) {
        var size = 16
        while size < 2 * capacity { size *= 2 }
        slots = [UInt64](repeating: 0, count: size)
        hashes.reserveCapacity(capacity)
        starts.reserveCapacity(capacity + 1)
    }

    /// The number of entries.
    var count: Int { hashes.count }

    /// A 64-bit hash of `bytes`: 8 bytes at a time (the last 8 overlapping), or two
    /// overlapping 4-byte loads, or 3 bytes, mixed by multiply–xorshift (wyhash-style).
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let n = bytes.count
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ (UInt64(truncatingIfNeeded: n) &* 0xFF51_AFD7_ED55_8CCD)
        guard n > 0, let base = UnsafeRawPointer(bytes.baseAddress) else { return h }
        var v: UInt64
        if n >= 8 {
            var i = 0
            while i + 8 < n {
                h = (h ^ base.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
                h ^= h &>> 31
                i += 8
            }
            v = base.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        } else if n >= 4 {
            v = UInt64(base.loadUnaligned(as: UInt32.self)) &<< 32
                | UInt64(base.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
        } else {
            v = UInt64(base.load(as: UInt8.self)) &<< 16
                | UInt64(base.load(fromByteOffset: n &>> 1, as: UInt8.self)) &<< 8
                | UInt64(base.load(fromByteOffset: n - 1, as: UInt8.self))
        }
        h = (h ^ v) &* 0x94D0_49BB_1331_11EB
        h ^= h &>> 32
        h &*= 0xD6E8_FEB8_6659_FD93
        h ^= h &>> 32
        return h
    }

    /// Whether the `count` bytes at `a` and `b` are equal: 8-, 4- or 1-byte loads, no call.
    @inline(__always)
    static func bytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
        if count >= 8 {
            var i = 0
            while i + 8 <= count {
                if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                    return false
                }
                i += 8
            }
            let last = count - 8
            return a.loadUnaligned(fromByteOffset: last, as: UInt64.self) == b.loadUnaligned(fromByteOffset: last, as: UInt64.self)
        }
        if count >= 4 {
            let last = count - 4
            return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
                && a.loadUnaligned(fromByteOffset: last, as: UInt32.self) == b.loadUnaligned(fromByteOffset: last, as: UInt32.self)
        }
        var i = 0
        while i < count {
            if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
            i += 1
        }
        return true
    }

    /// The slot holding `bytes` (entry index + 1 there), or the empty slot where it would go.
    ///
    /// A slot holds the high 32 bits of the entry's hash above its index + 1, so most
    /// mismatches are rejected without touching the entry.
    @inline(__always)
    private func probe(_ bytes: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> (slot: Int, entry: Int) {
        slots.withUnsafeBufferPointer { slots in
            starts.withUnsafeBufferPointer { starts in
                arena.withUnsafeBufferPointer { arena in
                    let mask = slots.count - 1
                    let tag = h &>> 32
                    var slot = Int(truncatingIfNeeded: h) & mask
                    while true {
                        let value = slots[slot]
                        if value == 0 { return (slot, 0) }
                        if value &>> 32 == tag {
                            let e = Int(truncatingIfNeeded: UInt32(truncatingIfNeeded: value)) - 1
                            let start = starts[e]
                            let length = starts[e + 1] - start
                            if length == bytes.count
                                && (length == 0 || Self.bytesEqual(arena.baseAddress! + start, bytes.baseAddress!, length)) {
                                return (slot, e + 1)
                            }
                        }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
    }

    /// The index of `bytes`, or nil.
    @inline(__always)
    func find(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let entry = probe(bytes, hash: Self.hash(bytes)).entry
        return entry == 0 ? nil : entry - 1
    }

    /// The index of `bytes`, inserting it first if absent.
    @inline(__always)
    mutating func intern(_ bytes: UnsafeBufferPointer<UInt8>) -> (index: Int, inserted: Bool) {
        let h = Self.hash(bytes)
        let (slot, entry) = probe(bytes, hash: h)
        if entry != 0 { return (entry - 1, false) }
        let index = hashes.count
        precondition(index < Int(UInt32.max) - 1, "too many distinct tokens")
        arena.append(contentsOf: bytes)
        starts.append(arena.count)
        hashes.append(h)
        slots.withUnsafeMutableBufferPointer { $0[slot] = (h >> 32) << 32 | UInt64(index + 1) }
        if 2 * hashes.count > slots.count { grow() }
        return (index, true)
    }

    /// Calls `body` with entry `index`'s bytes (valid only during the call).
    @inline(__always)
    func withBytes<R>(at index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try arena.withUnsafeBufferPointer { arena in
            try body(UnsafeBufferPointer(rebasing: arena[starts[index]..<starts[index + 1]]))
        }
    }

    /// Entry `index` as a string.
    func string(at index: Int) -> String {
        withBytes(at: index) { String(decoding: $0, as: UTF8.self) }
    }

    private mutating func grow() {
        var bigger = [UInt64](repeating: 0, count: slots.count * 2)
        let mask = bigger.count - 1
        bigger.withUnsafeMutableBufferPointer { bigger in
            hashes.withUnsafeBufferPointer { hashes in
                for e in 0..<hashes.count {
                    var slot = Int(truncatingIfNeeded: hashes[e]) & mask
                    while bigger[slot] != 0 { slot = (slot + 1) & mask }
                    bigger[slot] = (hashes[e] >> 32) << 32 | UInt64(e + 1)
                }
            }
        }
        slots = bigger
    }
}

extension UnsafeBufferPointer<UInt8> {
    /// Compares two byte strings in byte order (a shorter prefix sorts first).
    static func lexicographicallyPrecedes(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let common = Swift.min(a.count, b.count)
        if common > 0 {
            let c = memcmp(a.baseAddress!, b.baseAddress!, common)
            if c != 0 { return c < 0 }
        }
        return a.count < b.count
    }
}
