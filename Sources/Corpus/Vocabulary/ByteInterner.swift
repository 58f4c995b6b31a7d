#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

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
    /// Entry index + 1 per slot, 0 for an empty slot; the count is a power of two.
    private var slots: [Int32]

    init(capacity: Int = 1024) {
        var size = 16
        while size < 2 * capacity { size *= 2 }
        slots = [Int32](repeating: 0, count: size)
        hashes.reserveCapacity(capacity)
        starts.reserveCapacity(capacity + 1)
    }

    /// The number of entries.
    var count: Int { hashes.count }

    /// A 64-bit hash of `bytes`: 8 bytes at a time, multiply–xorshift mixing (wyhash-style).
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let n = bytes.count
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ (UInt64(truncatingIfNeeded: n) &* 0xFF51_AFD7_ED55_8CCD)
        guard let base = UnsafeRawPointer(bytes.baseAddress) else { return h }
        var i = 0
        while i + 8 <= n {
            let v = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            h = (h ^ v) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        if i < n {
            var v: UInt64 = 0
            var shift: UInt64 = 0
            while i < n {
                v |= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) << shift
                shift += 8
                i += 1
            }
            h = (h ^ v) &* 0x94D0_49BB_1331_11EB
            h ^= h >> 31
        }
        h ^= h >> 32
        h &*= 0xD6E8_FEB8_6659_FD93
        h ^= h >> 32
        return h
    }

    /// The slot holding `bytes` (entry index + 1 there), or the empty slot where it would go.
    @inline(__always)
    private func probe(_ bytes: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> (slot: Int, entry: Int32) {
        slots.withUnsafeBufferPointer { slots in
            hashes.withUnsafeBufferPointer { hashes in
                starts.withUnsafeBufferPointer { starts in
                    arena.withUnsafeBufferPointer { arena in
                        let mask = slots.count - 1
                        var slot = Int(truncatingIfNeeded: h) & mask
                        while true {
                            let entry = slots[slot]
                            if entry == 0 { return (slot, 0) }
                            let e = Int(entry) - 1
                            if hashes[e] == h {
                                let start = starts[e]
                                let length = starts[e + 1] - start
                                if length == bytes.count
                                    && (length == 0 || memcmp(arena.baseAddress! + start, bytes.baseAddress!, length) == 0) {
                                    return (slot, entry)
                                }
                            }
                            slot = (slot + 1) & mask
                        }
                    }
                }
            }
        }
    }

    /// The index of `bytes`, or nil.
    @inline(__always)
    func find(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        let entry = probe(bytes, hash: Self.hash(bytes)).entry
        return entry == 0 ? nil : Int(entry) - 1
    }

    /// The index of `bytes`, inserting it first if absent.
    @inline(__always)
    mutating func intern(_ bytes: UnsafeBufferPointer<UInt8>) -> (index: Int, inserted: Bool) {
        let h = Self.hash(bytes)
        let (slot, entry) = probe(bytes, hash: h)
        if entry != 0 { return (Int(entry) - 1, false) }
        let index = hashes.count
        precondition(index < Int(Int32.max) - 1, "too many distinct tokens")
        arena.append(contentsOf: bytes)
        starts.append(arena.count)
        hashes.append(h)
        slots[slot] = Int32(index + 1)
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
        var bigger = [Int32](repeating: 0, count: slots.count * 2)
        let mask = bigger.count - 1
        bigger.withUnsafeMutableBufferPointer { bigger in
            hashes.withUnsafeBufferPointer { hashes in
                for e in 0..<hashes.count {
                    var slot = Int(truncatingIfNeeded: hashes[e]) & mask
                    while bigger[slot] != 0 { slot = (slot + 1) & mask }
                    bigger[slot] = Int32(e + 1)
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
