import Corpus
import Embeddings
import NN
import Support

/// How a language model uses a pretrained embedding table (`lmtool train --embedding-mode`).
///
/// - `frozen`: the table is the input embedding and never changes (D must equal E).
/// - `finetune`: the table initialises the input embedding, which then trains (D must equal E).
/// - `concat`: each input vector is a learned projection of `[pretrained (D, frozen) ; trainable (E)]`
///   to E, so any D fits.
public enum EmbeddingMode: String, CaseIterable, Codable, Sendable {
    case frozen, finetune, concat
}

/// An input representation read from a pretrained embedding file: frozen, fine-tuned, or
/// concatenated with a trainable table and projected.
///
/// Parameters (all in the model's `ParameterStore`, so `model.safetensors` holds them and a saved
/// run reloads without the embeddings file — except `concat`, see `InputFactory.make`):
///
///     frozen     encoder.weight              [V, E]       frozen (optimizers skip it)
///     finetune   encoder.weight              [V, E]       trainable (as TrainableEmbedding)
///     concat     encoder.pretrained.weight   [V, D]       frozen
///                encoder.weight              [V, E]       trainable
///                encoder.projection.weight   [E, D + E]   trainable, no bias
///
/// `concat` computes, for a token id `w`, `x = P · [pretrained[w] ; trainable[w]]`: the
/// concatenation is always wider (D + E) than the LSTM input (E), so the projection is always
/// there. The LSTM's input size stays `--embedding-size` in every mode, so every arm of an
/// ablation has the same LSTM. `finetune` can be tied to the decoder like the default embedding;
/// `frozen` and `concat` cannot (tying would freeze the decoder, or there is no single `[V, E]`
/// table to tie), and `InputFactory.prepare` refuses `--tie-weights` with them.
///
/// Values are not set here: the model initialises every parameter uniform in ±initRange, then
/// `InputFactory.initialize` copies the pretrained rows of the words the file has (see
/// `PretrainedInput.load(into:...)`).
///
///     let input = PretrainedInput(mode: .concat, vocabularySize: V, pretrainedSize: 300, embeddingSize: 64)
///     let model = LanguageModel(config: config, input: input, batchSize: 32, maxSteps: 35, rng: &rng)
public final class PretrainedInput: InputRepresentation {
    public let mode: EmbeddingMode
    /// V.
    public let vocabularySize: Int
    /// D, the width of the pretrained vectors (= E for frozen and finetune).
    public let pretrainedSize: Int
    /// E, the width of the vectors given to the LSTM.
    public let embeddingSize: Int

    /// The table that receives the pretrained rows: `encoder.weight` (frozen, finetune) or
    /// `encoder.pretrained.weight` (concat).
    public private(set) var pretrained: ParameterView?
    /// concat: the trainable table `encoder.weight [V, E]`.
    public private(set) var trainable: ParameterView?
    /// concat: `encoder.projection.weight [E, D + E]`.
    public private(set) var projection: ParameterView?

    private let projectionLayer: Linear?
    // concat buffers, grown to the largest `count` seen (allocation only when growing).
    private var concatenated: UnsafeMutablePointer<Float>?   // [capacity, D + E]
    private var dconcatenated: UnsafeMutablePointer<Float>?  // [capacity, D + E]
    private var capacity = 0

    /// A representation of the given shape; `pretrainedSize` must equal `embeddingSize` unless
    /// `mode` is `concat` (a programming error otherwise: `InputFactory` checks user input first).
    public init(mode: EmbeddingMode, vocabularySize: Int, pretrainedSize: Int, embeddingSize: Int) {
        precondition(vocabularySize > 0 && pretrainedSize > 0 && embeddingSize > 0, "PretrainedInput: sizes must be positive")
        precondition(mode == .concat || pretrainedSize == embeddingSize,
                     "PretrainedInput: \(mode.rawValue) needs pretrainedSize == embeddingSize")
        self.mode = mode
        self.vocabularySize = vocabularySize
        self.pretrainedSize = pretrainedSize
        self.embeddingSize = embeddingSize
        projectionLayer = mode == .concat ? Linear(inputSize: pretrainedSize + embeddingSize, outputSize: embeddingSize) : nil
    }

    deinit {
        concatenated?.deallocate()
        dconcatenated?.deallocate()
    }

    public var outputSize: Int { embeddingSize }

    /// Only a fine-tuned table can serve as the tied decoder weight.
    public var tiedWeight: ParameterView? { mode == .finetune ? pretrained : nil }

    public func register(in store: ParameterStore) {
        let V = vocabularySize, D = pretrainedSize, E = embeddingSize
        switch mode {
        case .frozen:
            pretrained = store.register("encoder.weight", shape: [V, E], frozen: true)
        case .finetune:
            pretrained = store.register("encoder.weight", shape: [V, E])
        case .concat:
            pretrained = store.register("encoder.pretrained.weight", shape: [V, D], frozen: true)
            trainable = store.register("encoder.weight", shape: [V, E])
            projection = store.register("encoder.projection.weight", shape: [E, D + E])
        }
    }

    public func forward(output: UnsafeMutablePointer<Float>,  // [count, E]
                        ids: UnsafePointer<Int32>,            // [count]
                        count: Int, store: ParameterStore) {
        guard let pretrained else { preconditionFailure("PretrainedInput: forward before register(in:)") }
        let p = store.values.baseAddress!
        let V = vocabularySize, D = pretrainedSize, E = embeddingSize, W = D + E
        guard mode == .concat, let trainable, let projection, let projectionLayer else {
            Embedding(vocabularySize: V, embeddingSize: E).forward(output: output, ids: ids, weight: p + pretrained.offset, n: count)
            return
        }
        reserve(count)
        let cat = concatenated!  // [count, D + E]
        let pre = p + pretrained.offset, tr = p + trainable.offset
        for r in 0..<count {
            let id = Int(ids[r])
            precondition(id >= 0 && id < V, "PretrainedInput: id \(id) outside 0..<\(V)")
            (cat + r * W).update(from: pre + id * D, count: D)
            (cat + r * W + D).update(from: tr + id * E, count: E)
        }
        projectionLayer.forward(output: output, input: cat, weight: p + projection.offset, bias: nil, n: count)
    }

    public func backward(doutput: UnsafePointer<Float>,  // [count, E]
                         ids: UnsafePointer<Int32>,      // [count]
                         count: Int, store: ParameterStore) {
        guard let pretrained else { preconditionFailure("PretrainedInput: backward before register(in:)") }
        let g = store.gradients.baseAddress!
        let V = vocabularySize, D = pretrainedSize, E = embeddingSize, W = D + E
        switch mode {
        case .frozen:
            return  // nothing trains
        case .finetune:
            Embedding(vocabularySize: V, embeddingSize: E).backward(dweight: g + pretrained.offset, doutput: doutput, ids: ids, n: count)
        case .concat:
            guard let trainable, let projection, let projectionLayer, let cat = concatenated, let dcat = dconcatenated,
                  count <= capacity else { preconditionFailure("PretrainedInput: backward without forward") }
            // dcat [count, D + E] = doutput · P; dP += doutputᵀ · cat. Only the trainable half of
            // dcat flows on (the pretrained half is frozen).
            dcat.update(repeating: 0, count: count * W)
            projectionLayer.backward(dinput: dcat, dweight: g + projection.offset, dbias: nil, doutput: doutput,
                                     input: cat, weight: store.values.baseAddress! + projection.offset, n: count)
            let dtr = g + trainable.offset
            for r in 0..<count {
                let dst = dtr + Int(ids[r]) * E, src = dcat + r * W + D
                for j in 0..<E { dst[j] += src[j] }
            }
        }
    }

    private func reserve(_ count: Int) {
        guard count > capacity else { return }
        concatenated?.deallocate()
        dconcatenated?.deallocate()
        let n = count * (pretrainedSize + embeddingSize)
        concatenated = .allocate(capacity: n)
        concatenated!.initialize(repeating: 0, count: n)
        dconcatenated = .allocate(capacity: n)
        dconcatenated!.initialize(repeating: 0, count: n)
        capacity = count
    }

    /// Copies the rows of `table` for the vocabulary words it has into the pretrained parameter
    /// of `store` (whose other rows, the missing words, keep their values) and returns what was
    /// found. Lookup as `EmbeddingTable.aligned(to:missing:)`: exact, `<eos>` also as `</s>`, then
    /// lowercased.
    public func load(_ table: EmbeddingTable, vocabulary: Vocabulary, into store: ParameterStore) -> AlignmentReport {
        precondition(table.dimension == pretrainedSize && vocabulary.count == vocabularySize,
                     "PretrainedInput: table or vocabulary does not fit")
        guard let pretrained else { preconditionFailure("PretrainedInput: load before register(in:)") }
        let (aligned, report) = table.aligned(to: vocabulary, missing: .zero)
        var missing = Set<Int>()
        for word in report.missingWords { missing.insert(Int(vocabulary.id(word))) }
        let D = pretrainedSize
        let dst = store.values(pretrained)
        aligned.vectors.withUnsafeBufferPointer { src in
            for row in 0..<vocabularySize where !missing.contains(row) {
                for j in 0..<D { dst[row * D + j] = src[row * D + j] }
            }
        }
        return report
    }
}

// MARK: - Run configuration

extension PretrainedInput {
    /// The representation a run's recorded input describes (`kind` other than `random`, with a
    /// `path` and a `mode`). frozen and finetune have D = E; concat takes D from the recorded
    /// `dimension` (runs made before it was recorded read it from the embeddings file's header).
    static func make(_ input: RunConfig.InputSource, model: ModelConfig) throws -> PretrainedInput {
        let (path, mode) = try pathAndMode(input)
        let D = mode == .concat ? try input.dimension ?? pretrainedWidth(path: path) : model.embeddingSize
        try checkFit(mode: mode, dimension: D, model: model, path: path)
        // A width read from a file sizes [V, D] and [E, D + E]: bounded as `RunConfig.checkSizes()` bounds the rest.
        let V = Double(model.vocabularySize), E = Double(model.embeddingSize)
        if !(D >= 1 && V * Double(D) + E * (Double(D) + E) <= RunConfig.maxFloats) {
            throw CorpusError(file: path, "\(D)-dimensional vectors do not fit a model (at least 1, and at most 2^32 floats with vocabulary \(model.vocabularySize) and embedding size \(model.embeddingSize))")
        }
        return PretrainedInput(mode: mode, vocabularySize: model.vocabularySize, pretrainedSize: D, embeddingSize: model.embeddingSize)
    }

    /// Reads and checks the embeddings file a new run names; fills `contentHash` (SHA-256 of the
    /// file), `mode` (default `frozen`) and `frozen`.
    static func prepare(_ input: inout RunConfig.InputSource, model: ModelConfig, vocabulary: Vocabulary) throws {
        if input.mode == nil { input.mode = .frozen }
        let (path, mode) = try pathAndMode(input)
        let table = try EmbeddingFile.read(path)
        try checkFit(mode: mode, dimension: table.dimension, model: model, path: path)
        let (_, report) = table.aligned(to: vocabulary, missing: .zero)
        if report.found + report.caseInsensitiveHits == 0 {
            throw CorpusError(file: path, "none of the \(vocabulary.count) vocabulary words is in the file (a different tokenization or case?)")
        }
        input.contentHash = try fileSHA256(path)
        input.frozen = mode != .finetune
        input.mode = mode
        input.dimension = table.dimension
    }

    /// Copies the pretrained rows into a freshly initialised model; returns the report lines.
    static func initialize(_ model: LanguageModel, input: RunConfig.InputSource, vocabulary: Vocabulary) throws -> [String] {
        let (path, mode) = try pathAndMode(input)
        guard let pretrainedInput = model.input as? PretrainedInput else {
            throw InputFactoryError(message: "the model's input is not a pretrained embedding (\(type(of: model.input)))")
        }
        let table = try EmbeddingFile.read(path)
        if let expected = input.contentHash, try fileSHA256(path) != expected {
            throw CorpusError(file: path, "the file changed since the run was configured (SHA-256 differs from config.json)")
        }
        try checkFit(mode: mode, dimension: table.dimension, model: model.config, path: path)
        let report = pretrainedInput.load(table, vocabulary: vocabulary, into: model.store)
        let fallbacks = try fallbackWords(table, vocabulary: vocabulary, path: path)
        // Fallback rows are not counted as found, whether found exactly or by lowercase.
        let found = report.found + report.caseInsensitiveHits - fallbacks.words.count
        let byLowercase = Set(report.caseInsensitiveWords).subtracting(fallbacks.words).count
        let examples = report.missingWords.prefix(8).joined(separator: " ")
        var lines = ["\(found) of \(vocabulary.count) vocabulary words found in \(path) (\(byLowercase) by lowercase), "
            + "\(report.missing) missing, initialised as the model's random init (uniform in ±\(model.config.initRange))"
            + (report.missing > 0 ? "; missing: \(examples)\(report.missing > 8 ? " ..." : "")" : "")
            + (fallbacks.words.isEmpty ? "" : "; \(fallbacks.words.count) more are fallback rows in the file (\(fallbacks.why): "
                + fallbacks.words.prefix(8).joined(separator: " ") + (fallbacks.words.count > 8 ? " ..." : "")
                + "), not counted as found, loaded as the file has them")]
        let V = vocabulary.count, D = pretrainedInput.pretrainedSize, E = pretrainedInput.embeddingSize
        switch mode {
        case .frozen: lines.append("embedding mode frozen: encoder.weight [\(V), \(E)] is not trained")
        case .finetune: lines.append("embedding mode finetune: encoder.weight [\(V), \(E)] starts from the file and trains")
        case .concat: lines.append("embedding mode concat: [encoder.pretrained.weight [\(V), \(D)] frozen ; encoder.weight [\(V), \(E)]] → encoder.projection.weight [\(E), \(D + E)]")
        }
        return lines
    }

    /// The vocabulary words whose row in `table` (read from `path`) is a fallback row there
    /// (`EmbeddingFallbacks.alignedFallbacks`, with the file's `FILE.fallbacks.txt` if any).
    static func fallbackWords(_ table: EmbeddingTable, vocabulary: Vocabulary, path: String) throws -> (words: [String], why: String) {
        EmbeddingFallbacks.alignedFallbacks(of: table, listed: try EmbeddingFallbacks.read(for: path) ?? [], vocabulary: vocabulary,
                                            sidecar: EmbeddingFallbacks.sidecarPath(for: path))
    }

    static func pathAndMode(_ input: RunConfig.InputSource) throws -> (String, EmbeddingMode) {
        guard let path = input.path, !path.isEmpty else {
            throw InputFactoryError(message: "input representation '\(input.kind)' names no embeddings file")
        }
        return (path, input.mode ?? .frozen)
    }

    /// Whether `dimension`-wide vectors fit `mode` in a model of `model`'s shape.
    static func checkFit(mode: EmbeddingMode, dimension D: Int, model: ModelConfig, path: String) throws {
        let E = model.embeddingSize
        if mode != .concat && D != E {
            throw CorpusError(file: path, "\(D)-dimensional vectors do not fit --embedding-mode \(mode.rawValue) with --embedding-size \(E) (frozen and finetune need the same size; use --embedding-size \(D) or --embedding-mode concat)")
        }
        if model.tieWeights && mode != .finetune {
            throw CorpusError(file: path, "--tie-weights cannot be used with --embedding-mode \(mode.rawValue) (a tied decoder would be frozen, or there is no single [V, E] table); use --no-tie-weights or --embedding-mode finetune")
        }
    }

    /// D of an embeddings file, from its header when it has one (word2vec text and binary), else
    /// by reading it.
    static func pretrainedWidth(path: String) throws -> Int {
        switch try EmbeddingFile.detectFormat(path: path) {
        case .word2vecText, .word2vecBinary:
            let (source, _) = try openByteSource(path: path)
            var head = [UInt8](repeating: 0, count: 128)
            let n = try head.withUnsafeMutableBytes { try source.read(into: $0) }
            let line = head[..<n].prefix { $0 != UInt8(ascii: "\n") }
            let fields = line.split(whereSeparator: { $0 == 32 || $0 == 9 || $0 == 13 })
            if fields.count == 2, let d = Int(String(decoding: fields[1], as: UTF8.self)), d > 0 { return d }
            return try EmbeddingFile.read(path).dimension
        case .glove, .safetensors:
            return try EmbeddingFile.read(path).dimension
        }
    }
}

/// The SHA-256 of a file's bytes (as stored, compressed or not), lowercase hex.
func fileSHA256(_ path: String) throws -> String {
    let source = try FileByteSource(path: path)
    var hash = SHA256()
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    defer { buffer.deallocate() }
    while true {
        let n = try source.read(into: buffer)
        if n == 0 { break }
        hash.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
    }
    return hash.hexDigest()
}
