import Glibc

/// Times `sgemm` on the shapes the LSTM language model uses and reports GFLOP/s.
///
/// Shapes are written `m x n x k` for `C[m, n] = op(A)[m, k] · op(B)[k, n]`. Weights are stored
/// as PyTorch does (`W` is `[out, in]`), so a forward pass is `A·Bᵀ`, the weight gradient is
/// `Aᵀ·B` and the input gradient is `A·B`. Each shape is warmed up once, then timed in
/// `repeats` rounds of enough calls to last `minSecondsPerRepeat`; the best round counts.
///
///     for r in GEMMBenchmark.run() { print(r) }
///     // decoder forward      A·Bᵀ  700x10000x200   101.3 GFLOP/s
public enum GEMMBenchmark {
    /// One GEMM problem.
    public struct Shape: Sendable, CustomStringConvertible {
        public let name: String
        public let transA: Transpose
        public let transB: Transpose
        public let m: Int, n: Int, k: Int
        /// Timed through `PackedGEMM` (B packed once, outside the timing; columns split over the
        /// worker pool as the LSTM does) instead of `sgemm`. Only for `transA == .none`.
        public let packed: Bool

        public init(_ name: String, _ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                    packed: Bool = false) {
            precondition(!packed || transA == .none, "GEMMBenchmark: packed shapes take A as stored")
            self.packed = packed
            self.name = name
            self.transA = transA
            self.transB = transB
            self.m = m
            self.n = n
            self.k = k
        }

        /// Floating-point operations of one call (a multiply and an add per term).
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }

        /// `A·B`, `Aᵀ·B`, `A·Bᵀ` or `Aᵀ·Bᵀ`.
        public var form: String {
            (transA == .none ? "A" : "Aᵀ") + "·" + (transB == .none ? "B" : "Bᵀ")
        }

        public var description: String { "\(name) \(form) \(m)x\(n)x\(k)" }
    }

    /// The timing of one shape.
    public struct Result: Sendable, CustomStringConvertible {
        public let shape: Shape
        /// Seconds per call in the best round.
        public let seconds: Double
        /// `shape.flops / seconds / 1e9`.
        public var gflops: Double { shape.flops / seconds / 1e9 }

        public var description: String {
            func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
            let size = "\(shape.m)x\(shape.n)x\(shape.k)"
            return "\(pad(shape.name, 27)) \(pad(shape.form, 5)) \(pad(size, 14)) \(String(format1: gflops)) GFLOP/s"
        }
    }

    /// The language model's GEMMs: decoder (N = 700 tokens, V = 10000, H = 200), input
    /// projection of the large model (4H = 2600, E = 650), and the per-timestep recurrent
    /// products (batch 20) of the small (4H = 800, H = 200) and large (4H = 2600, H = 650) models,
    /// each with its two backward forms.
    public static let lmShapes: [Shape] = [
        Shape("decoder forward", .none, .transpose, m: 700, n: 10_000, k: 200),
        Shape("decoder dW", .transpose, .none, m: 10_000, n: 200, k: 700),
        Shape("decoder dX", .none, .none, m: 700, n: 200, k: 10_000),
        Shape("decoder forward (medium)", .none, .transpose, m: 700, n: 10_000, k: 650),
        Shape("decoder dW (medium)", .transpose, .none, m: 10_000, n: 650, k: 700),
        Shape("decoder dX (medium)", .none, .none, m: 700, n: 650, k: 10_000),
        Shape("input proj forward", .none, .transpose, m: 700, n: 2600, k: 650),
        Shape("input proj dW", .transpose, .none, m: 2600, n: 650, k: 700),
        Shape("input proj dX", .none, .none, m: 700, n: 650, k: 2600),
        Shape("recurrent small fwd", .none, .transpose, m: 20, n: 800, k: 200),
        Shape("recurrent small dW", .transpose, .none, m: 800, n: 200, k: 20),
        Shape("recurrent small dh", .none, .none, m: 20, n: 200, k: 800),
        Shape("recurrent large fwd", .none, .transpose, m: 20, n: 2600, k: 650),
        Shape("recurrent large dW", .transpose, .none, m: 2600, n: 650, k: 20),
        Shape("recurrent large dh", .none, .none, m: 20, n: 650, k: 2600),
        Shape("recurrent tiny fwd", .none, .transpose, m: 32, n: 256, k: 64),
        // The per-step products as the LSTM runs them on windows of ≥ 32 rows (PackedGEMM).
        Shape("recurrent small fwd packed", .none, .transpose, m: 20, n: 800, k: 200, packed: true),
        Shape("recurrent small dh packed", .none, .none, m: 20, n: 200, k: 800, packed: true),
        Shape("recurrent large fwd packed", .none, .transpose, m: 20, n: 2600, k: 650, packed: true),
        Shape("recurrent large dh packed", .none, .none, m: 20, n: 650, k: 2600, packed: true),
        Shape("recurrent tiny fwd packed", .none, .transpose, m: 32, n: 256, k: 64, packed: true),
    ]

    /// Times each shape and returns the best round per shape, in order.
    public static func run(_ shapes: [Shape] = lmShapes, repeats: Int = 5,
                           minSecondsPerRepeat: Double = 0.05) -> [Result] {
        precondition(repeats >= 1, "GEMMBenchmark: repeats must be at least 1")
        var rng = RNG(seed: 1)
        return shapes.map { s in
            // Stored sizes: A is [m, k] or [k, m], B is [k, n] or [n, k].
            let a = Tensor.uniform(shape: s.transA == .none ? [s.m, s.k] : [s.k, s.m], -1, 1, rng: &rng)
            let b = Tensor.uniform(shape: s.transB == .none ? [s.k, s.n] : [s.n, s.k], -1, 1, rng: &rng)
            var c = Tensor(shape: [s.m, s.n])
            let call: () -> Void
            if s.packed {
                var panels = [Float](repeating: 0, count: PackedGEMM.packedCount(n: s.n, k: s.k))
                b.withUnsafeBufferPointer { bp in
                    PackedGEMM.pack(&panels, b: bp.baseAddress!, ldb: s.transB == .none ? s.n : s.k, transB: s.transB,
                                    k: s.k, n: s.n, columns: 0..<s.n)
                }
                call = {
                    a.withUnsafeBufferPointer { ap in panels.withUnsafeBufferPointer { pp in c.withUnsafeMutableBufferPointer { cp in
                        let (ap, pp, cp) = (ap.baseAddress!, pp.baseAddress!, cp.baseAddress!)
                        WorkerPool.shared.runSplitting(GEMMSplit(m: s.m, n: s.n, k: s.k, options: WorkerPool.shared.options) != nil) { member in
                            PackedGEMM.multiplyAdd(c: cp, ldc: s.n, a: ap, lda: s.k, packed: pp, m: s.m, k: s.k, n: s.n,
                                                   columns: member.share(of: s.n, alignment: PackedGEMM.panelWidth))
                        }
                    } } }
                }
            } else {
                call = { c.matmul(a, s.transA, b, s.transB, beta: 1) }
            }
            call()  // warm-up: page in the buffers, start the worker threads
            let once = time(call)
            let calls = max(1, Int(minSecondsPerRepeat / max(once, 1e-7)))
            var best = Double.infinity
            for _ in 0..<repeats {
                let t = time { for _ in 0..<calls { call() } }
                best = min(best, t / Double(calls))
            }
            return Result(shape: s, seconds: best)
        }
    }

    /// Wall-clock seconds of `body` (monotonic clock).
    static func time(_ body: () -> Void) -> Double {
        var start = timespec(), end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        body()
        clock_gettime(CLOCK_MONOTONIC, &end)
        return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) * 1e-9
    }
}

extension String {
    /// `x` with one decimal, e.g. "101.3".
    init(format1 x: Double) {
        let tenths = Int((x * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}
