import Glibc
import Synchronization

/// A team of threads that run one job at a time: the calling thread plus `threads - 1`
/// persistent workers. lmtool's own parallelism (split GEMMs, the LSTM's time loop, the softmax)
/// runs on `WorkerPool.shared`; OpenBLAS itself is kept single-threaded.
///
/// Why not OpenBLAS's threads or Dispatch: an LSTM step is a ~20-row GEMM followed by pointwise
/// gate math, a few microseconds to a millisecond of work, hundreds of times per window. OpenBLAS
/// threads each call on its own (and packs all of B for few rows); waking Dispatch workers costs
/// tens of microseconds; and two thread systems on two cores fight over them (measured: two
/// threads slower than one). Here the workers spin for `spinMicroseconds` after a job before they
/// sleep, a job starts with one atomic increment, and `Member.sync()` is a spinning barrier, so one
/// job can cover a whole BPTT window with a barrier per step.
///
/// Jobs do not nest: a `run` from inside a job, or from another thread while a job runs, runs
/// its body on the calling thread alone (`count == 1`), so bodies must work for any count.
///
///     WorkerPool.shared.run { member in
///         let rows = member.share(of: n)          // this thread's rows
///         for r in rows { ... }
///         member.sync()                           // every thread has done its rows
///     }
// @unchecked: the job closure, `threads`, `options` and the pthread mutex are shared by hand (`busy`, `generation`).
public final class WorkerPool: @unchecked Sendable {
    /// The pool lmtool uses; its size is set by `BLASRuntime.setThreads` (`--threads`).
    public static let shared = WorkerPool(threads: 1)

    /// Busy-wait this long after a job before a worker sleeps (a job usually follows soon).
    static let spinMicroseconds: Int = 300

    /// One thread's view of a running job.
    public struct Member: Sendable {
        /// 0 for the calling thread, 1… for the workers.
        public let index: Int
        /// How many threads run this job.
        public let count: Int
        let barrier: Barrier?

        /// The caller running a job by itself.
        static let alone = Member(index: 0, count: 1, barrier: nil)

        /// Waits until every thread of the job has reached this call (a no-op for a job of one).
        public func sync() { barrier?.wait(count: count) }

        /// This thread's contiguous share of `0..<n`, cut at multiples of `alignment` (the last
        /// share takes the remainder); shares of all members partition `0..<n`.
        public func share(of n: Int, alignment: Int = 1) -> Range<Int> {
            WorkerPool.share(of: n, part: index, parts: count, alignment: alignment)
        }
    }

    /// Part `part` of `parts` of `0..<n`, cut at multiples of `alignment`.
    static func share(of n: Int, part: Int, parts: Int, alignment: Int) -> Range<Int> {
        let units = (n + alignment - 1) / alignment
        func cut(_ p: Int) -> Int { min(n, (units * p / parts) * alignment) }
        return cut(part)..<(part == parts - 1 ? n : cut(part + 1))
    }

    private let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let generation = Atomic<Int>(0)  // bumped to start a job
    private let remaining = Atomic<Int>(0)   // workers of the current job still running
    private let sleepers = Atomic<Int>(0)    // workers waiting on `wake`
    private let busy = Atomic<Bool>(false)   // a job is running
    private let barrier = Barrier()
    // Written by the starting thread before `generation` is bumped, read by the workers after.
    private var job: ((Member) -> Void)?
    private let jobCount = Atomic<Int>(1)
    private var workers = 0

    /// A pool of `threads` threads (the caller and `threads - 1` workers, started on first use)
    /// that splits work from the sizes in `options`.
    public init(threads: Int, options: ParallelOptions = .default) {
        precondition(threads >= 1, "WorkerPool: need at least one thread")
        self.threads = threads
        self.options = options
        pthread_mutex_init(lock, nil)
        pthread_cond_init(wake, nil)
    }

    /// Threads a job runs on (the caller included). Set it while no job runs; workers beyond a
    /// smaller count stay asleep.
    public var threads: Int {
        didSet { precondition(threads >= 1, "WorkerPool: need at least one thread") }
    }

    /// The sizes from which the kernels that run on this pool split their work. Set it while no
    /// job runs.
    public var options: ParallelOptions

    /// Jobs that have run on more than one thread: lets tests check that a path they force to
    /// split did split.
    public private(set) var jobsOnSeveralThreads = 0

    /// Runs `body` on `threads` threads at once (on the caller alone if a job is already running
    /// or `threads` is 1) and returns when all have finished.
    public func run(_ body: (Member) -> Void) {
        let count = threads
        guard count > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            body(.alone)
            return
        }
        startWorkers(upTo: count - 1)
        jobsOnSeveralThreads += 1  // only the thread that set `busy` gets here
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            jobCount.store(count, ordering: .relaxed)
            remaining.store(count - 1, ordering: .relaxed)
            generation.wrappingAdd(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(lock)
                pthread_cond_broadcast(wake)
                pthread_mutex_unlock(lock)
            }
            escapable(Member(index: 0, count: count, barrier: barrier))
            var spins = 0
            while remaining.load(ordering: .acquiring) > 0 {
                spins += 1
                if spins & 4095 == 0 { sched_yield() }  // a worker descheduled on a busy machine
            }
            job = nil
        }
        busy.store(false, ordering: .releasing)
    }

    /// `run(body)` when `split` is true, else `body` on the caller alone (`count == 1`): for
    /// work that is only worth splitting when large.
    public func runSplitting(_ split: Bool, _ body: (Member) -> Void) {
        if split { run(body) } else { body(.alone) }
    }

    /// Calls `body` with each thread's share of `0..<n` (cut at multiples of `alignment`), on the
    /// pool's threads when `n >= minimumCount`, else once with the whole range on the caller:
    /// for elementwise passes whose elements are independent.
    ///
    ///     let pool = WorkerPool.shared
    ///     pool.forEachShare(of: count, minimumCount: pool.options.elementwiseMinimum) { range in
    ///         for i in range { p[i] -= lr * g[i] }
    ///     }
    public func forEachShare(of n: Int, minimumCount: Int, alignment: Int = 1, _ body: (Range<Int>) -> Void) {
        guard n > 0 else { return }
        runSplitting(n >= minimumCount) { member in
            let r = member.share(of: n, alignment: alignment)
            if !r.isEmpty { body(r) }
        }
    }

    /// Starts workers until there are `n`. They live as long as the process, and so does a pool
    /// that has started any (they hold it).
    private func startWorkers(upTo n: Int) {
        while workers < n {
            workers += 1
            // The worker waits for jobs after the current one (read now, before it starts).
            let context = WorkerContext(pool: self, index: workers, seen: generation.load(ordering: .acquiring))
            var thread = pthread_t()
            let box = Unmanaged.passRetained(context).toOpaque()
            let rc = pthread_create(&thread, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                context.pool.workerLoop(index: context.index, seen: context.seen)
                return nil
            }, box)
            precondition(rc == 0, "WorkerPool: pthread_create failed (\(rc))")
            pthread_detach(thread)
        }
    }

    private final class WorkerContext {
        let pool: WorkerPool
        let index: Int
        let seen: Int
        init(pool: WorkerPool, index: Int, seen: Int) { self.pool = pool; self.index = index; self.seen = seen }
    }

    private func workerLoop(index: Int, seen start: Int) {
        var seen = start
        while true {
            waitForJob(after: seen)
            seen = generation.load(ordering: .acquiring)
            let count = jobCount.load(ordering: .relaxed)
            if index < count {
                runJob(index: index, count: count)
                remaining.subtract(1, ordering: .releasing)
            }
        }
    }

    /// Calls the current job. Not inlined, so that the worker holds no reference to the job once
    /// it returns (`run` checks that the closure did not escape).
    @inline(never)
    private func runJob(index: Int, count: Int) {
        job?(Member(index: index, count: count, barrier: barrier))
    }

    /// Spins for `spinMicroseconds`, then sleeps until `generation` moves past `seen`.
    private func waitForJob(after seen: Int) {
        let start = WorkerPool.microseconds()
        var spins = 0
        while generation.load(ordering: .acquiring) == seen {
            spins += 1
            if spins & 1023 == 0 && WorkerPool.microseconds() - start > WorkerPool.spinMicroseconds {
                pthread_mutex_lock(lock)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(wake, lock) }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(lock)
                return
            }
        }
    }

    static func microseconds() -> Int {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return t.tv_sec * 1_000_000 + t.tv_nsec / 1000
    }

    /// A reusable spinning barrier (sense by phase number) for the threads of one job.
    final class Barrier: Sendable {
        private let arrived = Atomic<Int>(0)
        private let phase = Atomic<Int>(0)

        func wait(count: Int) {
            guard count > 1 else { return }
            let p = phase.load(ordering: .acquiring)
            if arrived.add(1, ordering: .acquiringAndReleasing).newValue == count {
                arrived.store(0, ordering: .relaxed)
                phase.store(p &+ 1, ordering: .releasing)
            } else {
                var spins = 0
                while phase.load(ordering: .acquiring) == p {
                    spins += 1
                    if spins & 4095 == 0 { sched_yield() }  // an oversubscribed machine
                }
            }
        }
    }
}

extension Range where Bound == Int {
    /// The range moved by `offset` (a share of `0..<n` placed inside a larger range).
    func shifted(by offset: Int) -> Range<Int> { (lowerBound + offset)..<(upperBound + offset) }
}
