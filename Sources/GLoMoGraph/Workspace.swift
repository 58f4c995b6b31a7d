/// Owner of a set of zero-initialised Float buffers allocated once (llm.c-style activations).
///
/// Each `allocate(_:)` returns a pointer that stays valid for the workspace's lifetime; all
/// buffers are freed together in `deinit`.
final class Workspace {
    private var buffers: [UnsafeMutablePointer<Float>] = []

    /// A new zeroed buffer of `count` floats (at least one, so empty shapes still get a pointer).
    func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
        p.initialize(repeating: 0, count: n)
        buffers.append(p)
        return p
    }

    deinit { for p in buffers { p.deallocate() } }
}
