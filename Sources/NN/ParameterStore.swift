import Support

/// A named slice of a `ParameterStore`: where one parameter lives in the flat buffers.
///
/// The same view addresses the parameter's values in `ParameterStore.values` and its gradient
/// in `ParameterStore.gradients` (both buffers share one layout).
public struct ParameterView: Equatable, Sendable {
    /// The parameter's name, e.g. `"rnn.weight_ih_l0"` (PyTorch's names where there is one).
    public let name: String
    /// The index of the first element in the flat buffers.
    public let offset: Int
    /// The number of elements (`shape.reduce(1, *)`).
    public let count: Int
    /// The parameter's shape, row-major.
    public let shape: [Int]

    /// The element range in the flat buffers.
    public var range: Range<Int> { offset..<(offset + count) }
}

/// All parameters of a model in one contiguous Float buffer, with their gradients in a second
/// buffer of the same layout.
///
/// A model registers each parameter once (name and shape) and keeps the returned view. Once all
/// parameters are registered, the buffers do not move for the lifetime of the store, so a
/// kernel may hold `values.baseAddress! + view.offset` across calls. Registering another
/// parameter reallocates the buffers and invalidates pointers taken before.
///
/// Gradients are accumulated by backward passes (they *add*); `zeroGradients()` clears them,
/// once per optimizer step.
///
/// A parameter may be **frozen** (`register(_:shape:frozen:)` or `setFrozen(_:_:)`): it stays in
/// the buffers, so checkpoints save and restore it like any other, but the optimizers, weight
/// decay and gradient clipping skip it (they walk `trainableRanges`), so its values never change
/// during training. A pretrained embedding table kept fixed is the use case.
///
///     let store = ParameterStore()
///     let w = store.register("decoder.weight", shape: [10_000, 200])
///     let b = store.register("decoder.bias", shape: [10_000])
///     store.zeroGradients()
///     let wPointer = store.values.baseAddress! + w.offset      // [V, H]
///     let wGrad = store.gradients.baseAddress! + w.offset      // [V, H]
public final class ParameterStore {
    /// The registered parameters, in registration order (which is their order in the buffers).
    public private(set) var views: [ParameterView] = []
    /// All parameter values, `count` floats.
    public private(set) var values: UnsafeMutableBufferPointer<Float>
    /// All gradients, `count` floats, same layout as `values`.
    public private(set) var gradients: UnsafeMutableBufferPointer<Float>
    /// The total number of parameters (elements).
    public private(set) var count: Int = 0
    private var capacity: Int = 0
    private var index: [String: Int] = [:]
    /// Whether `views[i]` is frozen.
    private var frozenFlags: [Bool] = []
    /// The maximal runs of trainable elements, in buffer order (recomputed when flags change).
    public private(set) var trainableRanges: [Range<Int>] = []

    public init() {
        values = UnsafeMutableBufferPointer(start: nil, count: 0)
        gradients = UnsafeMutableBufferPointer(start: nil, count: 0)
    }

    deinit {
        values.baseAddress?.deallocate()
        gradients.baseAddress?.deallocate()
    }

    /// Adds a parameter of `shape`, initialized to zero (values and gradient), and returns its view.
    ///
    /// Names must be unique. Invalidates pointers into `values` and `gradients` taken earlier.
    /// A `frozen` parameter is never changed by an optimizer (see the type's discussion).
    @discardableResult
    public func register(_ name: String, shape: [Int], frozen: Bool = false) -> ParameterView {
        precondition(index[name] == nil, "ParameterStore: parameter '\(name)' registered twice")
        let n = Tensor.elementCount(shape)
        let view = ParameterView(name: name, offset: count, count: n, shape: shape)
        if count + n > capacity { grow(to: max(count + n, capacity * 2)) }
        (values.baseAddress! + count).initialize(repeating: 0, count: n)
        (gradients.baseAddress! + count).initialize(repeating: 0, count: n)
        count += n
        values = UnsafeMutableBufferPointer(start: values.baseAddress, count: count)
        gradients = UnsafeMutableBufferPointer(start: gradients.baseAddress, count: count)
        index[name] = views.count
        views.append(view)
        frozenFlags.append(frozen)
        updateTrainableRanges()
        return view
    }

    /// Freezes (or unfreezes) one parameter: optimizers, weight decay and gradient clipping skip
    /// frozen parameters.
    public func setFrozen(_ view: ParameterView, _ frozen: Bool = true) {
        checkView(view)
        frozenFlags[index[view.name]!] = frozen
        updateTrainableRanges()
    }

    /// Whether `view` is frozen.
    public func isFrozen(_ view: ParameterView) -> Bool {
        checkView(view)
        return frozenFlags[index[view.name]!]
    }

    /// The number of trainable (not frozen) elements; `count` includes the frozen ones.
    public var trainableCount: Int { trainableRanges.reduce(0) { $0 + $1.count } }

    private func updateTrainableRanges() {
        var ranges: [Range<Int>] = []
        for (view, frozen) in zip(views, frozenFlags) where !frozen && view.count > 0 {
            if let last = ranges.last, last.upperBound == view.offset {
                ranges[ranges.count - 1] = last.lowerBound..<view.range.upperBound
            } else {
                ranges.append(view.range)
            }
        }
        trainableRanges = ranges
    }

    private func grow(to newCapacity: Int) {
        let newCapacity = max(newCapacity, 1)
        let v = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity)
        let g = UnsafeMutablePointer<Float>.allocate(capacity: newCapacity)
        if let old = values.baseAddress {
            v.moveInitialize(from: old, count: count)
            old.deallocate()
        }
        if let old = gradients.baseAddress {
            g.moveInitialize(from: old, count: count)
            old.deallocate()
        }
        values = UnsafeMutableBufferPointer(start: v, count: count)
        gradients = UnsafeMutableBufferPointer(start: g, count: count)
        capacity = newCapacity
    }

    /// The view of the parameter called `name`, or nil.
    public func view(named name: String) -> ParameterView? {
        index[name].map { views[$0] }
    }

    /// The view of the parameter called `name`; stops if there is none (a programming error).
    public subscript(name: String) -> ParameterView {
        guard let v = view(named: name) else { preconditionFailure("ParameterStore: no parameter '\(name)'") }
        return v
    }

    /// Sets every gradient to zero.
    ///
    /// A parameter whose gradient rows are tracked (`trackGradientRows`) has only the rows noted
    /// since the last call cleared (the others are already zero); afterwards its noted set is
    /// empty, so the next step's norm, clipping and SGD update visit only the rows it notes.
    public func zeroGradients() {
        let g = gradients.baseAddress
        for segment in gradientSegments(of: 0..<count) {
            WorkerPool.shared.forEachShare(of: segment.count, minimumCount: WorkerPool.shared.options.elementwiseMinimum) { share in
                (g! + segment.lowerBound + share.lowerBound).update(repeating: 0, count: share.count)
            }
        }
        for i in trackedRows.keys { trackedRows[i]!.rows = [] }
    }

    /// The rows of a tracked parameter that may hold a nonzero gradient: `rows` nil while unknown
    /// (every row may), else the rows noted since the gradients were last zeroed.
    struct TrackedRows {
        let rowLength: Int
        var rows: Set<Int>?
    }
    /// Per index into `views`, the tracked parameters.
    private var trackedRows: [Int: TrackedRows] = [:]

    /// Declares that the gradient of `view` (a table of rows of `rowLength` elements, e.g. an
    /// embedding `[V, E]`) is written only by backward passes that report their rows through
    /// `noteGradientRows`. After the next `zeroGradients()`, every row not noted is known to hold
    /// an exact +0 gradient, and `zeroGradients`, `gradientNorm`, `clipGradientNorm` and a plain
    /// `SGD` step (no momentum, no weight decay) skip those rows: with a gradient of exactly
    /// zero each of them is a no-op, so the results are bitwise those of the dense passes. Only
    /// declare it where nothing else writes the gradient (not for a table shared with a tied
    /// decoder, which writes every row).
    public func trackGradientRows(_ view: ParameterView, rowLength: Int) {
        checkView(view)
        precondition(rowLength > 0 && view.count % rowLength == 0,
                     "ParameterStore: '\(view.name)' has \(view.count) elements, not rows of \(rowLength)")
        trackedRows[index[view.name]!] = TrackedRows(rowLength: rowLength, rows: nil)
    }

    /// Notes that a backward pass added into the gradient rows `ids[0..<count]` of `view` (a no-op
    /// unless the view is tracked).
    public func noteGradientRows(_ view: ParameterView, ids: UnsafePointer<Int32>, count: Int) {
        checkView(view)
        let i = index[view.name]!
        guard trackedRows[i]?.rows != nil else { return }
        for r in 0..<count { trackedRows[i]!.rows!.insert(Int(ids[r])) }
    }

    /// Forgets the noted rows of every tracked parameter (all rows may be nonzero until the next
    /// `zeroGradients()`), after a pass that wrote gradients everywhere.
    public func forgetGradientRows() {
        for i in trackedRows.keys { trackedRows[i]!.rows = nil }
    }

    /// The sorted, disjoint subranges of `range` (a union of whole parameters) outside of which
    /// every gradient is known to be exactly +0: `[range]` unless a tracked parameter in it has
    /// known rows, whose unnoted rows are then left out.
    func gradientSegments(of range: Range<Int>) -> [Range<Int>] {
        var segments: [Range<Int>] = []
        func add(_ r: Range<Int>) {
            guard !r.isEmpty else { return }
            if let last = segments.last, last.upperBound == r.lowerBound {
                segments[segments.count - 1] = last.lowerBound..<r.upperBound
            } else {
                segments.append(r)
            }
        }
        var position = range.lowerBound
        for (i, view) in views.enumerated() where range.contains(view.offset) && view.count > 0 {
            guard let tracked = trackedRows[i], let rows = tracked.rows else { continue }
            add(position..<view.offset)
            let L = tracked.rowLength
            for row in rows.sorted() { add((view.offset + row * L)..<(view.offset + (row + 1) * L)) }
            position = view.range.upperBound
        }
        add(position..<range.upperBound)
        return segments
    }

    /// The values of one parameter (a slice of `values`).
    public func values(_ view: ParameterView) -> UnsafeMutableBufferPointer<Float> {
        checkView(view)
        return UnsafeMutableBufferPointer(rebasing: values[view.range])
    }

    /// The gradient of one parameter (a slice of `gradients`).
    public func gradient(_ view: ParameterView) -> UnsafeMutableBufferPointer<Float> {
        checkView(view)
        return UnsafeMutableBufferPointer(rebasing: gradients[view.range])
    }

    /// Throws a `FileError` naming `file` (the checkpoint the values came from) and the first
    /// parameter, in registration order, holding a NaN or infinite value: a trained model's
    /// weights are finite (training stops on a non-finite loss), so such a value means a damaged
    /// file, and scoring with it would print NaN log-probabilities as numbers. Every loader of a
    /// trained model calls it after reading the file (`RunDirectory.loadModel`,
    /// `LMResumeCheckpoint.restore`, `GLoMoModelDirectory.load`).
    public func requireFinite(file: String) throws {
        for view in views {
            let v = values(view)
            if let i = v.firstIndex(where: { !$0.isFinite }) {
                throw FileError(path: file, message: "\(view.name) holds a \(v[i]) value at element \(i) (NaN and infinite weights are refused)")
            }
        }
    }

    /// A copy of all values. Prefer this to `Array(store.values)`: the copy is made while the
    /// store is certainly alive, whereas `Array(makeModel().store.values)` may read the buffer
    /// after a temporary owner has already freed it.
    public func copyOfValues() -> [Float] { Array(values) }

    /// A copy of all gradients (see `copyOfValues()`).
    public func copyOfGradients() -> [Float] { Array(gradients) }

    private func checkView(_ view: ParameterView) {
        precondition(view.offset >= 0 && view.offset + view.count <= count
                     && index[view.name].map({ views[$0] == view }) == true,
                     "ParameterStore: view '\(view.name)' does not belong to this store")
    }
}
