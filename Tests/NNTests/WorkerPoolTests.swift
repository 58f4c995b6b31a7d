import XCTest
import Synchronization
@testable import NN
import TestFixtures

final class WorkerPoolTests: XCTestCase {
    /// Shares are contiguous, in order, aligned, and cover 0..<n exactly once.
    func testSharesPartitionTheRange() {
        for n in [0, 1, 5, 16, 17, 70, 2600] {
            for parts in 1...4 {
                for alignment in [1, 16] {
                    var next = 0
                    for p in 0..<parts {
                        let r = WorkerPool.share(of: n, part: p, parts: parts, alignment: alignment)
                        XCTAssertEqual(r.lowerBound, next, "n \(n) parts \(parts) alignment \(alignment) part \(p)")
                        if p < parts - 1 { XCTAssertEqual(r.upperBound % alignment == 0 || r.upperBound == n, true) }
                        next = r.upperBound
                    }
                    XCTAssertEqual(next, n)
                }
            }
        }
        // Balanced: 2600 columns in panels of 16 over 2 threads.
        XCTAssertEqual(WorkerPool.share(of: 2600, part: 0, parts: 2, alignment: 16), 0..<1296)
        XCTAssertEqual(WorkerPool.share(of: 20, part: 1, parts: 2, alignment: 1), 10..<20)
    }

    /// Every member runs once per job, with the pool's count; many jobs in a row (the workers
    /// spin between them) and one after the workers fell asleep.
    func testEveryMemberRunsOncePerJob() {
        for threads in [1, 2, 3] {
            let pool = WorkerPool(threads: threads)
            let hits = Counters(count: threads)
            for _ in 0..<200 {
                pool.run { member in
                    XCTAssertEqual(member.count, threads)
                    hits.add(member.index)
                }
            }
            usleep(UInt32(WorkerPool.spinMicroseconds * 3))  // let the workers go to sleep
            pool.run { member in hits.add(member.index) }
            XCTAssertEqual(hits.values, Array(repeating: 201, count: threads), "\(threads) threads")
        }
    }

    /// A run inside a job runs on the calling thread alone.
    func testNestedRunIsInline() {
        let pool = WorkerPool(threads: 2)
        let counts = Counters(count: 2)
        pool.run { outer in
            pool.run { inner in
                XCTAssertEqual(inner.count, 1)
                XCTAssertEqual(inner.index, 0)
                counts.add(outer.index)
            }
        }
        XCTAssertEqual(counts.values, [1, 1])
    }

    /// After `sync()` every member sees what all members wrote before it.
    func testBarrierOrdersWrites() {
        let pool = WorkerPool(threads: 2)
        let slots = Counters(count: 2)
        let mismatches = Counters(count: 1)
        pool.run { member in
            for step in 1...2000 {
                slots.set(member.index, step)
                member.sync()
                for j in 0..<member.count where slots.get(j) != step { mismatches.add(0) }
                member.sync()
            }
        }
        XCTAssertEqual(mismatches.values, [0])
    }

    /// Parallel `sgemm` (rows or columns split, forced by a zero minimum) against a
    /// double-precision triple loop, for every transpose pair, with alpha, beta and a C wider
    /// than n whose padding must stay untouched; on 2 threads and 1.
    func testSplitSgemmAgainstNaiveLoops() {
        let pool = WorkerPool.shared
        let before = (BLASRuntime.threads, pool.options)
        defer { BLASRuntime.setThreads(before.0); pool.options = before.1 }
        pool.options.gemmMinimumWork = 0
        var rng = RNG(seed: 17)
        // (m, n, k, splits on 2 threads): columns split (n ≫ m), rows split (m ≥ n), one row
        // (GEMV), too narrow.
        for (m, n, k, splits) in [(5, 70, 9, true), (41, 12, 7, true), (1, 50, 6, true), (3, 20, 4, false)] {
            let ldc = n + 3
            for threads in [2, 1] {
                BLASRuntime.setThreads(threads)
                for ta in [Transpose.none, .transpose] {
                    for tb in [Transpose.none, .transpose] {
                        let a = (0..<m * k).map { _ in rng.uniform(-1, 1) }
                        let b = (0..<k * n).map { _ in rng.uniform(-1, 1) }
                        let c0 = (0..<m * ldc).map { _ in rng.uniform(-1, 1) }
                        var c = c0
                        let jobs = pool.jobsOnSeveralThreads
                        sgemm(ta, tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: ta == .none ? k : m,
                              b: b, ldb: tb == .none ? n : k, beta: 2, c: &c, ldc: ldc)
                        XCTAssertEqual(pool.jobsOnSeveralThreads - jobs, splits && threads == 2 ? 1 : 0,
                                       "\(m)x\(n)x\(k) split on \(threads) threads")
                        for i in 0..<m {
                            for j in 0..<ldc {
                                guard j < n else {
                                    XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j], "padding of C untouched")
                                    continue
                                }
                                var s = 0.0
                                for p in 0..<k {
                                    let x = ta == .none ? a[i * k + p] : a[p * m + i]
                                    let y = tb == .none ? b[p * n + j] : b[j * k + p]
                                    s += Double(x) * Double(y)
                                }
                                let expected = Float(0.5 * s + 2 * Double(c0[i * ldc + j]))
                                XCTAssertEqual(c[i * ldc + j], expected, accuracy: 1e-5,
                                               "\(m)x\(n)x\(k), \(threads) threads, \(ta) \(tb), C[\(i), \(j)]")
                            }
                        }
                    }
                }
            }
        }
    }

    /// The tests' `ParallelOptions.splittingEverything` (`onTwoThreadsSplittingEverything`)
    /// splits tiny elementwise passes and products and packs the LSTM's weights for a window of one
    /// row, which the default options leave on one thread and to OpenBLAS.
    func testTestSettingsSplitTinyWork() {
        let pool = WorkerPool.shared
        let before = BLASRuntime.threads
        defer { BLASRuntime.setThreads(before) }
        BLASRuntime.setThreads(2)
        let store = ParameterStore()
        _ = store.register("w", shape: [3])
        let lstm = LSTM(inputSize: 2, hiddenSize: 3, batchSize: 1, maxSteps: 2)
        let a = [Float](repeating: 1, count: 5 * 9), b = [Float](repeating: 1, count: 9 * 70)
        var c = [Float](repeating: 0, count: 5 * 70)
        /// Jobs that `body` ran on several threads.
        func splitJobs(_ body: () -> Void) -> Int {
            let jobs = pool.jobsOnSeveralThreads
            body()
            return pool.jobsOnSeveralThreads - jobs
        }
        func work() -> (sgd: Int, gemm: Int, packed: Bool) {
            (splitJobs { SGD().step(store, learningRate: 0.1) },
             splitJobs { sgemm(.none, .none, m: 5, n: 70, k: 9, a: a, lda: 9, b: b, ldb: 70, beta: 0, c: &c, ldc: 70) },
             lstm.usePackedWeights(steps: 1))
        }
        let defaults = work()
        XCTAssertEqual(defaults.sgd, 0)
        XCTAssertEqual(defaults.gemm, 0)
        XCTAssertFalse(defaults.packed)
        let everything = onTwoThreadsSplittingEverything { work() }
        XCTAssertEqual(everything.sgd, 1)
        XCTAssertEqual(everything.gemm, 1)
        XCTAssertTrue(everything.packed)
        XCTAssertEqual(pool.options, .default, "restored")
    }

    /// The split chosen for the language model's shapes.
    func testSplitDecision() {
        XCTAssertEqual(GEMMSplit(m: 20, n: 2600, k: 650, options: .default), .columns)   // recurrent step
        XCTAssertEqual(GEMMSplit(m: 700, n: 10_000, k: 200, options: .default), .columns) // decoder forward
        XCTAssertEqual(GEMMSplit(m: 10_000, n: 200, k: 700, options: .default), .rows)    // decoder dW
        XCTAssertNil(GEMMSplit(m: 4, n: 8, k: 8, options: .default))                      // too little work
    }
}

/// Integers that several threads update (under a lock).
private final class Counters: @unchecked Sendable {
    private let slots: Mutex<[Int]>
    init(count: Int) { slots = Mutex(Array(repeating: 0, count: count)) }
    func add(_ i: Int) { slots.withLock { $0[i] += 1 } }
    func set(_ i: Int, _ v: Int) { slots.withLock { $0[i] = v } }
    func get(_ i: Int) -> Int { slots.withLock { $0[i] } }
    var values: [Int] { slots.withLock { $0 } }
}
