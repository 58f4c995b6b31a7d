/// Zero-initialised scratch buffers that live as long as their owner: a layer or model allocates
/// all its activation and gradient buffers once, at init, and frees them together.
///
/// Hot loops keep the raw pointers; the arena only remembers them for `deinit`.
///
///     let arena = BufferArena()
///     let logits = arena.floats(T * B * V)   // [T·B, V], zeros
///     let ids = arena.int32s(T * B)          // [T·B]
///     self.arena = arena                     // keep it alive with the owner
public final class BufferArena {
    private var allocations: [UnsafeMutableRawPointer] = []

    public init() {}

    /// `count` floats, set to 0.
    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> { zeros(Float.self, count) }

    /// `count` 32-bit integers, set to 0.
    public func int32s(_ count: Int) -> UnsafeMutablePointer<Int32> { zeros(Int32.self, count) }

    /// `count` doubles, set to 0.
    public func doubles(_ count: Int) -> UnsafeMutablePointer<Double> { zeros(Double.self, count) }

    /// At least one element, so that an empty shape still gets a pointer of its own.
    private func zeros<T: Numeric>(_ type: T.Type, _ count: Int) -> UnsafeMutablePointer<T> {
        let n = max(count, 1)
        let p = UnsafeMutablePointer<T>.allocate(capacity: n)
        p.initialize(repeating: 0, count: n)
        allocations.append(UnsafeMutableRawPointer(p))
        return p
    }

    deinit { for p in allocations { p.deallocate() } }
}
