import Glibc
import NN

/// Training and evaluation throughput of `LanguageModel` on random ids, for the presets of the
/// benchmark (same sizes as scripts/bench_lm_pytorch.py), optionally with another vocabulary
/// size and an adaptive softmax.
///
/// With a full softmax the ids are uniform (its cost does not depend on them). With an adaptive
/// softmax the cost does: the ids follow Zipf's law (p(k) ∝ 1/(k+1), id 0 the most frequent),
/// as a frequency-sorted vocabulary of real text does, and the cutoffs are chosen from those
/// frequencies by `AdaptiveLogSoftmax.chooseCutoffs` (scripts/bench_lm_pytorch.py draws and
/// chooses the same way).
///
/// Training times `steps` windows of forward + backward + gradient clipping (0.25) + an SGD
/// step (lr 20), the state carried between windows, as pytorch/examples' `main.py`;
/// evaluation times `steps` forward-only windows without dropout. Each phase runs two
/// untimed warm-up windows first. Peak RSS is the process's high-water mark, reset (through
/// /proc/self/clear_refs) before each configuration where the kernel allows it.
///
///     let r = LanguageModelBenchmark.run(.small, steps: 50)
///     print(r)   // small  train 9876 tok/s  eval 30123 tok/s  peak RSS 123 MB
public enum LanguageModelBenchmark {
    /// One benchmark configuration (issue 3): model preset, vocabulary, BPTT and batch size.
    public struct Setup: Sendable {
        public let name: String
        public let model: ModelConfig
        public let bptt: Int
        public let batchSize: Int

        /// tiny: vocab 5k, 64/64, 1 layer, BPTT 35, batch 32; small: vocab 10k, 200/200,
        /// 2 layers, BPTT 20, batch 20; medium: vocab 10k, 650/650, 2 layers, BPTT 35, batch 20
        /// (dropout 0.5). `vocabularySize` replaces the preset's vocabulary; `adaptive` gives the
        /// model an adaptive softmax with cutoffs from the Zipf frequencies (`zipfCutoffs`).
        /// The name says what differs from the preset (`small V=100000 adaptive`).
        public init(_ preset: Preset, vocabularySize: Int? = nil, adaptive: Bool = false) throws {
            let vocabulary = vocabularySize ?? (preset == .tiny ? 5_000 : 10_000)
            var model = preset.model(vocabularySize: vocabulary)
            if adaptive { model.softmax = .adaptive(cutoffs: try Setup.zipfCutoffs(vocabularySize: vocabulary)) }
            self.model = model
            name = preset.rawValue + (vocabularySize.map { " V=\($0)" } ?? "") + (adaptive ? " adaptive" : "")
            bptt = preset.training.bptt
            batchSize = preset.training.batchSize
        }

        /// `chooseCutoffs` on Zipf counts `⌊10⁹ / (k + 1)⌋` for ids k < V.
        public static func zipfCutoffs(vocabularySize V: Int) throws -> [Int] {
            try AdaptiveLogSoftmax.chooseCutoffs(counts: (0..<V).map { 1_000_000_000 / ($0 + 1) })
        }
    }

    /// Which phases to time.
    public enum Phases: String, Sendable, CaseIterable {
        case both, train, eval
    }

    /// Throughput of one configuration; nil for a phase that was not run.
    public struct Result: Sendable, CustomStringConvertible {
        public let name: String
        public let trainTokensPerSecond: Double?
        public let evalTokensPerSecond: Double?
        /// The same per second of this process's CPU time (all threads): steadier than wall
        /// time when other jobs share the machine.
        public let trainTokensPerCPUSecond: Double?
        public let evalTokensPerCPUSecond: Double?
        /// Peak resident set size in bytes (nil if /proc is unavailable).
        public let peakRSS: Int?

        /// `small    train 9876 tok/s  eval 30123 tok/s  peak RSS 87 MB  cpu: ...`; a phase not
        /// run shows as `-`.
        public var description: String {
            let rss = peakRSS.map { "\($0 / 1_048_576) MB" } ?? "n/a"
            func f(_ x: Double?) -> String { x.map { "\(Int($0.rounded()))" } ?? "-" }
            return "\(name.padding(8)) train \(f(trainTokensPerSecond)) tok/s  eval \(f(evalTokensPerSecond)) tok/s  "
                + "peak RSS \(rss)  cpu: train \(f(trainTokensPerCPUSecond)) tok/s  eval \(f(evalTokensPerCPUSecond)) tok/s"
        }
    }

    /// Runs `steps` timed windows of training and/or of evaluation for `preset`.
    public static func run(_ preset: Preset, steps: Int, phases: Phases = .both, seed: UInt64 = 1) -> Result {
        run(try! Setup(preset), steps: steps, phases: phases, seed: seed)
    }

    /// Runs `steps` timed windows of training and/or of evaluation for `setup`.
    public static func run(_ setup: Setup, steps: Int, phases: Phases = .both, seed: UInt64 = 1) -> Result {
        precondition(steps > 0, "LanguageModelBenchmark: steps must be positive")
        resetPeakRSS()
        let T = setup.bptt, B = setup.batchSize, V = setup.model.vocabularySize, N = T * B
        var rng = RNG(seed: seed)
        let model = LanguageModel(config: setup.model, batchSize: B, maxSteps: T, rng: &rng)
        let windows = steps + 2
        // A random token stream cut into windows: inputs are tokens [w·N, (w+1)·N), targets the
        // same shifted by one batch row (the next step of every column). Uniform ids for a full
        // softmax, Zipf-distributed ids for an adaptive one.
        let stream: [Int32]
        if setup.model.isAdaptive {
            var cumulative = [Double](repeating: 0, count: V)   // Σ_{j ≤ k} 1/(j+1)
            var total = 0.0
            for k in 0..<V { total += 1 / Double(k + 1); cumulative[k] = total }
            stream = (0..<(windows * N + B)).map { _ in
                let u = Double(rng.next() >> 11) * 0x1p-53 * total
                var lo = 0, hi = V - 1   // the first k with cumulative[k] > u
                while lo < hi { let mid = (lo + hi) / 2; if cumulative[mid] > u { hi = mid } else { lo = mid + 1 } }
                return Int32(lo)
            }
        } else {
            stream = (0..<(windows * N + B)).map { _ in Int32(rng.int(below: V)) }
        }
        let sgd = SGD()

        func train(_ w: Int) {
            stream.withUnsafeBufferPointer { s in
                let x = UnsafeBufferPointer(rebasing: s[(w * N)..<((w + 1) * N)])
                let y = UnsafeBufferPointer(rebasing: s[(w * N + B)..<((w + 1) * N + B)])
                model.store.zeroGradients()
                model.forward(inputs: x, targets: y, mask: nil, steps: T, training: true, rng: &rng)
                model.backward()
                model.store.clipGradientNorm(maxNorm: 0.25)
                sgd.step(model.store, learningRate: 20)
            }
        }
        func evaluate(_ w: Int) {
            stream.withUnsafeBufferPointer { s in
                let x = UnsafeBufferPointer(rebasing: s[(w * N)..<((w + 1) * N)])
                let y = UnsafeBufferPointer(rebasing: s[(w * N + B)..<((w + 1) * N + B)])
                model.evaluate(inputs: x, targets: y, mask: nil, steps: T)
            }
        }

        /// Tokens per second of wall-clock and of CPU time over windows 2..<windows, after two
        /// untimed warm-up windows.
        func timed(_ window: (Int) -> Void) -> (wall: Double, cpu: Double) {
            window(0); window(1)
            let start = now(), startCPU = now(CLOCK_PROCESS_CPUTIME_ID)
            for w in 2..<windows { window(w) }
            let tokens = Double(steps * N)
            return (tokens / (now() - start), tokens / (now(CLOCK_PROCESS_CPUTIME_ID) - startCPU))
        }

        let training = phases == .eval ? nil : timed(train)
        model.resetState()
        let evaluation = phases == .train ? nil : timed(evaluate)
        return Result(name: setup.name, trainTokensPerSecond: training?.wall,
                      evalTokensPerSecond: evaluation?.wall,
                      trainTokensPerCPUSecond: training?.cpu, evalTokensPerCPUSecond: evaluation?.cpu,
                      peakRSS: peakRSS())
    }

    /// Seconds on `clock` (monotonic wall time by default).
    static func now(_ clock: clockid_t = CLOCK_MONOTONIC) -> Double {
        var ts = timespec()
        clock_gettime(clock, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// The process's peak RSS (`VmHWM` in /proc/self/status), in bytes.
    public static func peakRSS() -> Int? {
        guard let f = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), f) != nil {
            let s = String(cString: line)
            if s.hasPrefix("VmHWM:") {
                let digits = s.dropFirst(6).filter { $0.isNumber }
                return Int(digits).map { $0 * 1024 }
            }
        }
        return nil
    }

    /// Resets the peak-RSS mark to the current RSS (`echo 5 > /proc/self/clear_refs`); best effort.
    static func resetPeakRSS() {
        guard let f = fopen("/proc/self/clear_refs", "w") else { return }
        fputs("5", f)
        fclose(f)
    }
}

private extension String {
    func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}
