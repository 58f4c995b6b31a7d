/// Batches a token stream for truncated backpropagation through time, as pytorch/examples
/// word_language_model does (`batchify` and `get_batch`).
///
/// The stream of N ids is cut into B parallel columns of `rowCount = N / B` tokens each; the
/// last `N mod B` tokens do not fit and are reported as `trimmedTokenCount` (not silently
/// dropped). Column j holds tokens[j·rowCount ..< (j+1)·rowCount], so each column reads on
/// through the corpus and a recurrent state can be carried from one window to the next.
/// With the tokens 0...25, B = 4 (rowCount 6, tokens 24 and 25 trimmed):
///
///     data [rowCount, B]       window 0 (T = 3)            window 1 (last, partial)
///      ┌ 0  6 12 18 ┐         inputs  rows 0..<3           inputs  rows 3..<5
///      │ 1  7 13 19 │         targets rows 1..<4           targets rows 4..<6
///      │ 2  8 14 20 │
///      │ 3  9 15 21 │         inputs  = 0 6 12 18           inputs  = 3  9 15 21
///      │ 4 10 16 22 │                   1 7 13 19                     4 10 16 22
///      └ 5 11 17 23 ┘                   2 8 14 20           targets = 4 10 16 22
///                             targets = 1 7 13 19                     5 11 17 23
///                                       2 8 14 20
///                                       3 9 15 21
///
/// Window i starts at row i·T and has `length = min(T, rowCount − 1 − i·T)` rows: targets are
/// the inputs shifted down by one row. The last window is shorter when `rowCount − 1` is not a
/// multiple of T; it is returned, not dropped. Every token but those of the first row is a
/// target exactly once: `targetCount = (rowCount − 1) · B`.
///
/// Windows are time-major flat arrays `[length, B]`: element (t, b) is at `t * B + b`.
///
///     let batcher = DiscourseBatcher(tokens: ids, batchSize: 20, bptt: 35)
///     for window in batcher.windows { model.step(window.inputs, window.targets, window.length) }
public struct DiscourseBatcher: Sendable {
    /// One truncated-BPTT window.
    public struct Window: Sendable, Equatable {
        /// The row of the data where the window starts.
        public var start: Int
        /// The number of time steps, T or fewer for the last window.
        public var length: Int
        /// The number of columns, B.
        public var batchSize: Int
        /// The input ids, time-major.
        public var inputs: [Int32]   // [length, batchSize]
        /// The ids to predict: the inputs one step later.
        public var targets: [Int32]  // [length, batchSize]
    }

    /// The number of parallel columns, B.
    public let batchSize: Int
    /// The window length, T.
    public let bptt: Int
    /// The number of tokens per column (N / B).
    public let rowCount: Int
    /// The tokens at the end of the stream that did not fill a row (N mod B).
    public let trimmedTokenCount: Int
    private let data: [Int32]  // [rowCount, batchSize]

    /// Lays `tokens` out in `batchSize` columns, to be read in windows of `bptt` steps.
    /// `batchSize` and `bptt` must be at least 1.
    public init(tokens: [Int32], batchSize: Int, bptt: Int) {
        precondition(batchSize >= 1 && bptt >= 1, "batch size and BPTT length must be at least 1")
        self.batchSize = batchSize
        self.bptt = bptt
        rowCount = tokens.count / batchSize
        trimmedTokenCount = tokens.count - rowCount * batchSize
        var data = [Int32](repeating: 0, count: rowCount * batchSize)
        let rows = rowCount
        data.withUnsafeMutableBufferPointer { data in
            tokens.withUnsafeBufferPointer { tokens in
                for column in 0..<batchSize {
                    for row in 0..<rows {
                        data[row * batchSize + column] = tokens[column * rows + row]
                    }
                }
            }
        }
        self.data = data
    }

    /// The number of windows: ⌈(rowCount − 1) / T⌉, 0 when there is nothing to predict.
    public var windowCount: Int {
        rowCount < 2 ? 0 : (rowCount - 1 + bptt - 1) / bptt
    }

    /// The number of targets over all windows, (rowCount − 1) · B.
    public var targetCount: Int { max(rowCount - 1, 0) * batchSize }

    /// Window `index` (0 ..< windowCount).
    public func window(_ index: Int) -> Window {
        precondition(index >= 0 && index < windowCount, "window \(index) out of 0..<\(windowCount)")
        let start = index * bptt
        let length = min(bptt, rowCount - 1 - start)
        let inputs = Array(data[(start * batchSize)..<((start + length) * batchSize)])
        let targets = Array(data[((start + 1) * batchSize)..<((start + 1 + length) * batchSize)])
        return Window(start: start, length: length, batchSize: batchSize, inputs: inputs, targets: targets)
    }

    /// All windows in order.
    public var windows: LazyMapSequence<Range<Int>, Window> {
        (0..<windowCount).lazy.map { self.window($0) }
    }
}
