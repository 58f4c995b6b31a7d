import Glibc
import Dispatch
import NN
import Corpus

/// Settings of `Word2Vec.train`; defaults are those of the original C tool's skip-gram.
public struct Word2VecOptions: Sendable, Equatable {
    /// D, the vector size.
    public var dimension = 100
    /// Largest distance between center and context; each center word draws its own window in `1...window`.
    public var window = 5
    /// Negative samples per (center, context) pair, drawn from the unigram distribution to the 0.75.
    public var negative = 5
    /// Passes over the corpus.
    public var epochs = 5
    /// Hogwild threads, each over its own contiguous part of the corpus.
    public var threads = 2
    /// Subsampling threshold t (0 disables): a word of count f among `total` is kept with
    /// probability `(sqrt(f / (t·total)) + 1) · t·total / f`.
    public var sample = 1e-3
    /// Starting learning rate, decayed linearly to `learningRate · 1e-4` over all epochs.
    public var learningRate: Float = 0.025
    /// Seeds the initial vectors and every thread's random numbers (thread i uses seed + i).
    public var seed: UInt64 = 1

    public init(dimension: Int = 100, window: Int = 5, negative: Int = 5, epochs: Int = 5, threads: Int = 2,
                sample: Double = 1e-3, learningRate: Float = 0.025, seed: UInt64 = 1) {
        self.dimension = dimension
        self.window = window
        self.negative = negative
        self.epochs = epochs
        self.threads = threads
        self.sample = sample
        self.learningRate = learningRate
        self.seed = seed
    }
}

/// A progress report of `Word2Vec.train`, sent about twice a second from the first thread.
public struct Word2VecProgress: Sendable {
    /// Corpus words processed so far (counting those dropped by subsampling), over all threads.
    public var wordsProcessed: Int
    /// `epochs ×` trainable words in the corpus.
    public var totalWords: Int
    public var wordsPerSecond: Double
    public var learningRate: Float
    public var seconds: Double
}

/// Skip-gram with negative sampling (SGNS), as Mikolov's word2vec C tool trains it.
///
/// For each center word w and each context word c within a randomly shrunk window of the same
/// sentence, the input vector of c (`syn0`) and the output vectors (`syn1neg`) of w and of
/// `negative` words drawn from the unigram^0.75 table take one SGD step on
/// `log σ(in_c · out_w) + Σ_n log σ(−in_c · out_n)`. Frequent words are subsampled, the
/// learning rate decays linearly, threads update the shared matrices without locks (Hogwild),
/// and σ comes from a 1000-entry table over [−6, 6] (clipped outside), as in the C tool.
///
/// Sentences end at `<eos>` (which, like the C tool's `</s>`, is never trained); `<unk>` tokens
/// are dropped. The result has one row per vocabulary word, in vocabulary order, carrying the
/// vocabulary's hash; `<unk>`, `<eos>` and words absent from `ids` keep their random initial
/// vectors. With `threads: 1` the result is a deterministic function of the inputs and seed.
///
///     let encoded = try EncodedCorpus(reader, vocabulary: vocab)
///     let table = Word2Vec.train(ids: encoded.ids, vocabulary: vocab, options: Word2VecOptions(epochs: 1))
///     try EmbeddingFile.write(table, to: "w2v.safetensors")
public enum Word2Vec {
    static let maxSentenceLength = 1000
    static let expTableSize = 1000
    static let maxExp: Float = 6

    /// Trains SGNS vectors on `ids` (a corpus encoded with `vocabulary`, `<eos>` ending sentences).
    public static func train(ids: [Int32], vocabulary: Vocabulary, options: Word2VecOptions,
                             progress: (@Sendable (Word2VecProgress) -> Void)? = nil) -> EmbeddingTable {
        precondition(options.dimension > 0 && options.window > 0 && options.negative >= 0 && options.epochs >= 0 && options.threads > 0)
        let v = vocabulary.count, d = options.dimension
        // Counts over the training ids themselves (they may be one split of the vocabulary's corpus).
        var counts = [Int](repeating: 0, count: v)
        for id in ids { counts[Int(id)] += 1 }
        counts[Int(Vocabulary.unknownID)] = 0
        counts[Int(Vocabulary.endOfSentenceID)] = 0
        let trainWords = counts.reduce(0, +)

        // syn0[V, D] uniform in [-0.5/D, 0.5/D]; syn1neg[V, D] zero.
        var syn0 = initialVectors(count: v, dimension: d, seed: options.seed)
        var syn1neg = [Float](repeating: 0, count: v * d)
        let table = unigramTable(counts: counts)
        let keep = keepProbabilities(counts: counts, total: trainWords, sample: options.sample)
        var expTable = [Float](repeating: 0, count: expTableSize + 1)
        for i in 0...expTableSize {
            let e = expf((Float(i) / Float(expTableSize) * 2 - 1) * maxExp)
            expTable[i] = e / (e + 1)
        }

        if trainWords > 0 && !table.isEmpty && options.epochs > 0 {
            let threads = min(options.threads, max(1, ids.count / 1000))
            let processed = UnsafeMutablePointer<Int>.allocate(capacity: threads)
            processed.initialize(repeating: 0, count: threads)
            defer { processed.deallocate() }
            let start = DispatchTime.now().uptimeNanoseconds
            syn0.withUnsafeMutableBufferPointer { s0 in
                syn1neg.withUnsafeMutableBufferPointer { s1 in
                    ids.withUnsafeBufferPointer { corpus in
                        table.withUnsafeBufferPointer { tab in
                            keep.withUnsafeBufferPointer { kp in
                                expTable.withUnsafeBufferPointer { ex in
                                    let shared = Shared(syn0: s0.baseAddress!, syn1neg: s1.baseAddress!, corpus: corpus, table: tab,
                                                        keep: kp.baseAddress!, expTable: ex.baseAddress!, processed: processed,
                                                        threads: threads, total: options.epochs * trainWords, start: start)
                                    DispatchQueue.concurrentPerform(iterations: threads) { t in
                                        trainThread(t, shared, options, progress: t == 0 ? progress : nil)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return try! EmbeddingTable(words: vocabulary.tokens, vectors: syn0, dimension: d, vocabularyHash: vocabulary.contentHash)
    }

    /// The input vectors before training, `[count, D]`: uniform in ±0.5/D, as the C tool.
    static func initialVectors(count: Int, dimension d: Int, seed: UInt64) -> [Float] {
        var rng = RNG(seed: seed)
        return (0..<(count * d)).map { _ in (rng.uniform() - 0.5) / Float(d) }
    }

    /// The rows of `table` (trained by `train` with `seed`) that training never changed: still
    /// bit for bit their random initial vectors (fallback rows, see `EmbeddingFallbacks`). These
    /// are `<unk>`, `<eos>`, words absent from the corpus, and words never used as a context
    /// (e.g. only in one-word sentences, or always subsampled away). In row order.
    public static func untrainedRows(of table: EmbeddingTable, seed: UInt64) -> [Int] {
        let d = table.dimension
        let initial = initialVectors(count: table.count, dimension: d, seed: seed)
        return (0..<table.count).filter { row in
            (0..<d).allSatisfy { table.vectors[row * d + $0].bitPattern == initial[row * d + $0].bitPattern }
        }
    }

    /// Pointers shared by the training threads (Hogwild: no locks around the matrices).
    struct Shared: @unchecked Sendable {
        let syn0: UnsafeMutablePointer<Float>       // [V, D]
        let syn1neg: UnsafeMutablePointer<Float>    // [V, D]
        let corpus: UnsafeBufferPointer<Int32>
        let table: UnsafeBufferPointer<Int32>
        let keep: UnsafePointer<Float>              // [V]
        let expTable: UnsafePointer<Float>          // [expTableSize + 1]
        let processed: UnsafeMutablePointer<Int>    // [threads], each thread writes its own
        let threads: Int
        let total: Int
        let start: UInt64
    }

    static func trainThread(_ t: Int, _ s: Shared, _ o: Word2VecOptions, progress: (@Sendable (Word2VecProgress) -> Void)?) {
        let d = o.dimension, window = o.window
        let n = s.corpus.count
        let lo = n * t / s.threads, hi = n * (t + 1) / s.threads
        let sentence = UnsafeMutablePointer<Int32>.allocate(capacity: maxSentenceLength)
        let neu1e = UnsafeMutablePointer<Float>.allocate(capacity: d)
        let targets = UnsafeMutablePointer<Int>.allocate(capacity: max(o.negative, 1))
        var touch: Float = 0   // keeps the early row loads alive
        defer {
            sentence.deallocate(); neu1e.deallocate(); targets.deallocate()
            if touch.isNaN { s.processed[t] += 0 }
        }
        var random = o.seed &+ UInt64(t)
        var alpha = o.learningRate
        var wordCount = 0, lastWordCount = 0
        var lastReport = s.start
        let tableSize = UInt64(s.table.count)
        let corpus = s.corpus.baseAddress!
        let sampling = o.sample > 0

        for _ in 0..<o.epochs {
            var pos = lo
            while pos < hi {
                // Learning-rate decay (and progress) every 10,000 words, from all threads' counts.
                if wordCount - lastWordCount > 10_000 {
                    s.processed[t] += wordCount - lastWordCount
                    lastWordCount = wordCount
                    var all = 0
                    for i in 0..<s.threads { all += s.processed[i] }
                    alpha = max(o.learningRate * (1 - Float(all) / Float(s.total + 1)), o.learningRate * 1e-4)
                    if let progress {
                        let now = DispatchTime.now().uptimeNanoseconds
                        if now - lastReport > 500_000_000 {
                            lastReport = now
                            let seconds = Double(now - s.start) / 1e9
                            progress(Word2VecProgress(wordsProcessed: all, totalWords: s.total,
                                                      wordsPerSecond: Double(all) / seconds, learningRate: alpha, seconds: seconds))
                        }
                    }
                }
                // Read one sentence (up to <eos> or 1000 kept words), subsampling frequent words.
                var length = 0
                while pos < hi && length < maxSentenceLength {
                    let w = corpus[pos]
                    pos += 1
                    if w == Vocabulary.endOfSentenceID { break }
                    if w == Vocabulary.unknownID { continue }
                    wordCount += 1
                    if sampling {
                        random = random &* 25214903917 &+ 11
                        if s.keep[Int(w)] < Float(random & 0xFFFF) / 65536 { continue }
                    }
                    sentence[length] = w
                    length += 1
                }
                // Skip-gram over the sentence.
                for i in 0..<length {
                    let word = Int(sentence[i])
                    random = random &* 25214903917 &+ 11
                    let b = Int(random % UInt64(window))
                    for a in b..<(2 * window + 1 - b) where a != window {
                        let c = i - window + a
                        if c < 0 || c >= length { continue }
                        let l1 = s.syn0 + Int(sentence[c]) * d
                        for j in 0..<d { neu1e[j] = 0 }
                        // Draw the negatives first (the same random sequence as the C tool) so their
                        // table and row loads overlap instead of missing the cache one at a time.
                        for k in 0..<o.negative {
                            random = random &* 25214903917 &+ 11
                            targets[k] = Int(s.table[tableIndex(random, tableSize)])
                            touch += s.syn1neg[targets[k] * d]
                        }
                        update(input: l1, output: s.syn1neg + word * d, label: 1, alpha: alpha,
                               gradient: neu1e, dimension: d, expTable: s.expTable)
                        for k in 0..<o.negative where targets[k] != word {
                            update(input: l1, output: s.syn1neg + targets[k] * d, label: 0, alpha: alpha,
                                   gradient: neu1e, dimension: d, expTable: s.expTable)
                        }
                        axpy(l1, 1, neu1e, d)
                    }
                }
            }
        }
        s.processed[t] += wordCount - lastWordCount
    }

    /// One SGNS term for one (input, output) pair: with `g = alpha · (label − σ(in · out))`,
    /// adds `g · out` to `gradient` (to be added to `in` after all terms) and `g · in` to `out`.
    ///
    /// This is a gradient-ascent step on `label · log σ(in·out) + (1 − label) · log σ(−in·out)`.
    /// `expTable` nil means the exact σ (for tests); otherwise the C tool's table, whose terms
    /// with `|in·out| > 6` use σ = 0 or 1.
    @inline(__always)
    static func update(input: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, label: Float, alpha: Float,
                       gradient: UnsafeMutablePointer<Float>, dimension d: Int, expTable: UnsafePointer<Float>?) {
        let f = dot(input, output, d)
        let g: Float
        if let expTable {
            if f > maxExp {
                g = (label - 1) * alpha
            } else if f < -maxExp {
                g = label * alpha
            } else {
                g = (label - expTable[Int((f + maxExp) * (Float(expTableSize) / maxExp / 2))]) * alpha
            }
        } else {
            g = (label - 1 / (1 + expf(-f))) * alpha
        }
        axpy(gradient, g, output, d)
        axpy(output, g, input, d)
    }

    /// A table index in `0..<size` from bits 16–47 of an LCG state (multiply-shift, no division).
    @inline(__always)
    static func tableIndex(_ random: UInt64, _ size: UInt64) -> Int {
        Int((((random >> 16) & 0xFFFF_FFFF) &* size) >> 32)
    }

    /// `a · b` over `n` floats, 8 lanes at a time.
    @inline(__always)
    static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD8<Float>()
        var i = 0
        while i + 8 <= n {
            acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self)
            i += 8
        }
        var sum = acc.sum()
        while i < n {
            sum += a[i] * b[i]
            i += 1
        }
        return sum
    }

    /// `y += alpha · x` over `n` floats.
    @inline(__always)
    static func axpy(_ y: UnsafeMutablePointer<Float>, _ alpha: Float, _ x: UnsafePointer<Float>, _ n: Int) {
        var i = 0
        let a = SIMD8<Float>(repeating: alpha)
        while i + 8 <= n {
            let r = UnsafeMutableRawPointer(y + i)
            r.storeBytes(of: r.loadUnaligned(as: SIMD8<Float>.self) + a * UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self),
                         as: SIMD8<Float>.self)
            i += 8
        }
        while i < n {
            y[i] += alpha * x[i]
            i += 1
        }
    }

    /// The negative-sampling table: word ids in proportion to count^0.75 (words of count 0 never appear).
    static func unigramTable(counts: [Int]) -> [Int32] {
        let words = counts.indices.filter { counts[$0] > 0 }
        if words.isEmpty { return [] }
        // The C tool's 1e8 entries (400 MB) miss the cache on every draw; 2M entries (8 MB) stay
        // in L3 here and give every word of frequency above 5e-7 its share within one entry.
        let size = min(2_000_000, max(100_000, 1000 * words.count))
        var table = [Int32](repeating: 0, count: size)
        let power = 0.75
        let total = words.reduce(0.0) { $0 + pow(Double(counts[$1]), power) }
        var w = 0
        var cumulative = pow(Double(counts[words[0]]), power) / total
        table.withUnsafeMutableBufferPointer { t in
            for a in 0..<size {
                t[a] = Int32(words[w])
                if Double(a) / Double(size) > cumulative && w < words.count - 1 {
                    w += 1
                    cumulative += pow(Double(counts[words[w]]), power) / total
                }
            }
        }
        return table
    }

    /// Keep probability of each word under subsampling threshold `sample` (values above 1 always keep).
    static func keepProbabilities(counts: [Int], total: Int, sample: Double) -> [Float] {
        counts.map { c in
            guard c > 0, sample > 0 else { return 1 }
            let f = Double(c), tt = sample * Double(total)
            return Float(((f / tt).squareRoot() + 1) * tt / f)
        }
    }
}
