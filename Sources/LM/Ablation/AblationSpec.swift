import Foundation
import Support
import Corpus
import GLoMoGraph

/// An error in an ablation specification or results directory, as one line naming its origin.
public struct AblationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where a run's input embedding comes from.
///
/// `random` (the baseline, no pretraining); `word2vec` (`lmtool embed word2vec` on the training
/// split); `word2vec-out` (the same on an out-of-domain corpus, `pretraining.outOfDomainCorpus`);
/// `bilm` (`lmtool embed bilm`, averaged BiLSTM LM states); `domain-paragraph` and
/// `domain-sentence` (the input embedding of a BiLSTM domain classifier trained on paragraphs or
/// sentences, `lmtool pretrain-domain`); their `-contextual` variants (the classifier's BiLSTM
/// states averaged per word type, `contextual.vec`); `file:PATH` (an external embedding file).
public enum EmbeddingSource: Hashable, Sendable, CustomStringConvertible {
    case random, word2vec, word2vecOut, bilm
    case domain(granularity: DocumentGranularity, contextual: Bool)
    case file(String)

    /// Parses `random`, `word2vec`, `word2vec-out`, `bilm`, `domain-paragraph`, `domain-sentence`,
    /// `domain-paragraph-contextual`, `domain-sentence-contextual` or `file:PATH`.
    public init?(_ text: String) {
        switch text {
        case "random": self = .random
        case "word2vec": self = .word2vec
        case "word2vec-out": self = .word2vecOut
        case "bilm": self = .bilm
        case "domain-paragraph": self = .domain(granularity: .paragraph, contextual: false)
        case "domain-sentence": self = .domain(granularity: .sentence, contextual: false)
        case "domain-paragraph-contextual": self = .domain(granularity: .paragraph, contextual: true)
        case "domain-sentence-contextual": self = .domain(granularity: .sentence, contextual: true)
        default:
            guard text.hasPrefix("file:"), text.count > 5 else { return nil }
            self = .file(String(text.dropFirst(5)))
        }
    }

    public static let names = ["random", "word2vec", "word2vec-out", "bilm", "domain-paragraph", "domain-sentence",
                               "domain-paragraph-contextual", "domain-sentence-contextual", "file:PATH"]

    public var description: String {
        switch self {
        case .random: return "random"
        case .word2vec: return "word2vec"
        case .word2vecOut: return "word2vec-out"
        case .bilm: return "bilm"
        case .domain(let g, let contextual): return "domain-\(g.rawValue)" + (contextual ? "-contextual" : "")
        case .file(let path): return "file:" + path
        }
    }

    /// The name used in run directory names. `file:PATH` becomes `file-<stem>-<tag>`: the file
    /// name without extensions (other characters than [A-Za-z0-9_] replaced by _), then `tag`,
    /// the first 8 hex digits of the file's SHA-256 (`AblationSpec.arms()` computes it), so two
    /// files with the same name in different directories are two arms, and a file whose content
    /// changed is a new arm.
    public func slug(contentTag: String? = nil) -> String {
        guard case .file(let path) = self else { return description }
        let base = (path as NSString).lastPathComponent.split(separator: ".").first.map(String.init) ?? "embeddings"
        let stem = "file-" + String(base.map { $0.isLetter && $0.isASCII || $0.isNumber && $0.isASCII || $0 == "_" ? $0 : "_" })
        return contentTag.map { stem + "-" + $0 } ?? stem
    }
}

/// Whether and where GLoMo graphs are used (`lmtool train --glomo-on`), and whether the graph
/// predictor was pretrained: the `-untrained` placements use a predictor saved at its
/// initialisation (`pretrain-glomo --steps 0`, same architecture and seed), the control that
/// separates what pretraining brings from what the extra mixing layer brings.
public enum GLoMoPlacement: String, CaseIterable, Codable, Sendable {
    case off, embeddings, hidden
    case embeddingsUntrained = "embeddings-untrained"
    case hiddenUntrained = "hidden-untrained"

    /// `lmtool train --glomo-on`: what the graphs mix (nil for `off`).
    public var site: GLoMoSite? {
        switch self {
        case .off: return nil
        case .embeddings, .embeddingsUntrained: return .embeddings
        case .hidden, .hiddenUntrained: return .hidden
        }
    }

    /// Whether the graph predictor is the untrained control.
    public var isUntrained: Bool { self == .embeddingsUntrained || self == .hiddenUntrained }
}

/// One arm of the grid: an embedding source, how it is used (nil for `random`), and GLoMo.
///
/// Its `name` names the run directories `RESULTS/runs/<name>-seed<k>`: `random`,
/// `domain-paragraph-frozen`, `word2vec-concat-glomo-hidden`, `file-glove-3f2a9c0d-finetune`.
public struct AblationArm: Hashable, Sendable {
    public var source: EmbeddingSource
    public var mode: EmbeddingMode?
    public var glomo: GLoMoPlacement
    /// For a `file:` source, the first 8 hex digits of the file's SHA-256 (part of the name).
    public var contentTag: String?

    public init(source: EmbeddingSource, mode: EmbeddingMode?, glomo: GLoMoPlacement, contentTag: String? = nil) {
        self.source = source
        self.mode = source == .random ? nil : mode
        self.glomo = glomo
        self.contentTag = contentTag
    }

    public var name: String {
        var parts = [source.slug(contentTag: contentTag)]
        if let mode { parts.append(mode.rawValue) }
        if glomo != .off { parts.append("glomo-" + glomo.rawValue) }
        return parts.joined(separator: "-")
    }
}

/// What `lmtool ablate` runs: the grid (sources × modes × GLoMo × seeds), the corpus and how it
/// is read, the shared vocabulary, the `lmtool train` options of every run, and the pretraining
/// settings. Read from a JSON file (`--spec`) and/or built from flags; flags override the file.
///
///     {
///       "corpus": ["corpora/default.jsonl.zst"],
///       "sources": ["random", "domain-paragraph"], "modes": ["frozen"], "glomo": ["off"], "seeds": 2,
///       "corpusOptions": {"tokenizer": "simple", "lowercase": true},
///       "vocabulary": {"maxSize": 10000},
///       "train": {"preset": "tiny", "epochs": 2, "train-tokens": 200000},
///       "pretraining": {"epochs": 1, "trainTokens": 200000, "glomoSteps": 300,
///                       "extra": {"pretrain-domain": ["--batch-size", "32"]}}
///     }
///
/// `train` maps `lmtool train` flag names (without `--`) to values of their types
/// (`TrainOverrides`); `true` stands for a bare flag (`"tie-weights": true`), `false` leaves it out.
public struct AblationSpec: Codable, Equatable, Sendable {
    /// Corpus options passed to every step (`CorpusOptions` of the CLI).
    public struct CorpusFlags: Codable, Equatable, Sendable {
        public var format: String?
        public var tokenizer: String?
        public var lowercase: Bool?
        public var sentences: Bool?
        public var replaceInvalid: Bool?
        public var maxLineBytes: Int?

        public init(format: String? = nil, tokenizer: String? = nil, lowercase: Bool? = nil, sentences: Bool? = nil,
                    replaceInvalid: Bool? = nil, maxLineBytes: Int? = nil) {
            self.format = format
            self.tokenizer = tokenizer
            self.lowercase = lowercase
            self.sentences = sentences
            self.replaceInvalid = replaceInvalid
            self.maxLineBytes = maxLineBytes
        }

        /// The flags, in a fixed order.
        public var arguments: [String] {
            var a: [String] = []
            if let format { a += ["--format", format] }
            if let tokenizer { a += ["--tokenizer", tokenizer] }
            if lowercase == true { a.append("--lowercase") }
            if sentences == true { a.append("--sentences") }
            if replaceInvalid == true { a.append("--replace-invalid") }
            if let maxLineBytes { a += ["--max-line-bytes", String(maxLineBytes)] }
            return a
        }
    }

    /// The one vocabulary of all arms: an existing file, or built once from the training split.
    public struct VocabularyOptions: Codable, Equatable, Sendable {
        public var file: String?
        public var minCount: Int?
        public var maxSize: Int?

        public init(file: String? = nil, minCount: Int? = nil, maxSize: Int? = nil) {
            self.file = file
            self.minCount = minCount
            self.maxSize = maxSize
        }
    }

    /// Sizes of the pretraining steps. Embedding sizes follow the LM's (`embeddingSize`);
    /// `hiddenSize` is the BiLSTM size of the domain classifier and the BiLM (default half the
    /// LM's embedding size, so contextual vectors, 2 × hidden wide, fit frozen/finetune).
    public struct PretrainingOptions: Codable, Equatable, Sendable {
        /// `--epochs` of pretrain-domain, embed bilm and embed word2vec.
        public var epochs: Int?
        /// `--train-tokens` of embed bilm and pretrain-glomo.
        public var trainTokens: Int?
        /// `--steps` of pretrain-glomo.
        public var glomoSteps: Int?
        public var hiddenSize: Int?
        /// `--seed` of every pretraining step (default 1).
        public var seed: Int?
        /// Extra arguments per command: keys `embed word2vec`, `embed bilm`, `pretrain-domain`, `pretrain-glomo`.
        public var extra: [String: [String]]?
        /// The corpus of the `word2vec-out` source: files read whole (no split), with the same
        /// corpus options as the rest.
        public var outOfDomainCorpus: [String]?

        public init(epochs: Int? = nil, trainTokens: Int? = nil, glomoSteps: Int? = nil, hiddenSize: Int? = nil,
                    seed: Int? = nil, extra: [String: [String]]? = nil, outOfDomainCorpus: [String]? = nil) {
            self.outOfDomainCorpus = outOfDomainCorpus
            self.epochs = epochs
            self.trainTokens = trainTokens
            self.glomoSteps = glomoSteps
            self.hiddenSize = hiddenSize
            self.seed = seed
            self.extra = extra
        }
    }

    public var corpus: [String]
    /// Split files (`--train/--valid/--test`, `"splits"` in a spec), each belonging to its split
    /// whole, as `lmtool train` takes them; instead of `corpus`.
    public var splits: SplitFiles
    public var sources: [String]
    public var modes: [String]
    public var glomo: [String]
    public var seeds: Int
    /// Blocks of the grid (`"grids"` in a spec), each sources × modes × GLoMo with its own seed
    /// count; the arms are their union. Empty: the one block of `sources`, `modes`, `glomo`, `seeds`.
    public var grids: [Grid]
    public var corpusOptions: CorpusFlags
    public var vocabulary: VocabularyOptions
    /// `lmtool train` flags without `--` → value (`"true"` = bare flag), checked when read.
    public var train: TrainOverrides
    public var pretraining: PretrainingOptions
    /// The arm the others are compared with (default `random`).
    public var baseline: String?
    /// Free text for the reader of a spec file (JSON has no comments): why these sizes, where
    /// the data comes from. A string or an array of lines; ablate ignores it.
    public var comment: [String]?
    /// The spec file this was read from (not encoded): `validate()` names it in its errors.
    public var origin: String?

    public init(corpus: [String] = [], sources: [String] = ["random", "domain-paragraph"], modes: [String] = ["frozen"],
                glomo: [String] = ["off"], seeds: Int = 3, corpusOptions: CorpusFlags = .init(),
                vocabulary: VocabularyOptions = .init(), train: TrainOverrides = [:],
                pretraining: PretrainingOptions = .init(), baseline: String? = nil, splits: SplitFiles = .init(),
                grids: [Grid] = []) {
        self.corpus = corpus
        self.grids = grids
        self.splits = splits
        self.sources = sources
        self.modes = modes
        self.glomo = glomo
        self.seeds = seeds
        self.corpusOptions = corpusOptions
        self.vocabulary = vocabulary
        self.train = train
        self.pretraining = pretraining
        self.baseline = baseline
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case corpus, splits, sources, modes, glomo, seeds, grids, corpusOptions, vocabulary, train, pretraining, baseline, comment
    }

    /// One block of the grid: `sources` × `modes` × `glomo`, each arm run with seeds 1…`seeds`.
    /// A missing field takes the spec's top-level value.
    ///
    ///     "grids": [{"sources": ["random", "domain-sentence"], "glomo": ["off", "hidden"], "seeds": 5},
    ///               {"sources": ["word2vec", "bilm"], "modes": ["frozen", "finetune", "concat"]}]
    public struct Grid: Codable, Equatable, Sendable {
        public var sources: [String]?
        public var modes: [String]?
        public var glomo: [String]?
        public var seeds: Int?

        public init(sources: [String]? = nil, modes: [String]? = nil, glomo: [String]? = nil, seeds: Int? = nil) {
            self.sources = sources
            self.modes = modes
            self.glomo = glomo
            self.seeds = seeds
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case sources, modes, glomo, seeds }

        /// Unknown fields are refused, as everywhere in a spec.
        public init(from decoder: Decoder) throws {
            let all = try decoder.container(keyedBy: AnyKey.self)
            try AblationSpec.checkFields(all, known: CodingKeys.allCases.map(\.rawValue), prefix: "grids[].")
            try AblationSpec.checkIntegers(all, prefix: "grids[].")
            let c = try decoder.container(keyedBy: CodingKeys.self)
            sources = try c.decodeIfPresent([String].self, forKey: .sources)
            modes = try c.decodeIfPresent([String].self, forKey: .modes)
            glomo = try c.decodeIfPresent([String].self, forKey: .glomo)
            seeds = try c.decodeIfPresent(Int.self, forKey: .seeds)
        }
    }

    /// `"splits": {"train": [...], "valid": [...], "test": [...]}`: whole files per split, the
    /// same lists a run records in its `config.json` (a missing split is empty).
    public typealias SplitFiles = RunConfig.CorpusPaths

    /// The fields of the objects inside a spec.
    static let nestedFields: [CodingKeys: [String]] = [
        .corpusOptions: ["format", "tokenizer", "lowercase", "sentences", "replaceInvalid", "maxLineBytes"],
        .vocabulary: ["file", "minCount", "maxSize"],
        .splits: ["train", "valid", "test"],
        .pretraining: ["epochs", "trainTokens", "glomoSteps", "hiddenSize", "seed", "extra", "outOfDomainCorpus"],
    ]

    /// Any key of a JSON object.
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }

    /// Refuses a key that is not a field (a misspelt `"sedes"` would otherwise be ignored and
    /// its default used).
    static func checkFields(_ container: KeyedDecodingContainer<AnyKey>, known: [String], prefix: String) throws {
        for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where !known.contains(key.stringValue) {
            throw AblationError("unknown field '\(prefix)\(escapeControlCharacters(key.stringValue))' (known: \(known.joined(separator: ", ")))")
        }
    }

    /// Refuses a number that no integer can hold (2.5, 1e30), naming the field: Foundation's
    /// decoder would say "The given data was not valid JSON" and name none. Every number of a
    /// spec outside `train` (which `TrainOverrides` checks) is an integer.
    static func checkIntegers(_ container: KeyedDecodingContainer<AnyKey>, prefix: String) throws {
        for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            guard let number = try? container.decode(Double.self, forKey: key), Int(exactly: number) == nil else { continue }
            let what = key.stringValue == "seeds" ? "an integer from 1 to \(maxSeeds)" : "an integer"
            throw AblationError("\(prefix)\(escapeControlCharacters(key.stringValue)) must be \(what), got \(number)")
        }
    }

    /// Every field is optional in the file; missing ones take the defaults of `init`; unknown
    /// ones, at any level, are refused, and so are numbers that are not integers.
    public init(from decoder: Decoder) throws {
        let all = try decoder.container(keyedBy: AnyKey.self)
        try AblationSpec.checkFields(all, known: CodingKeys.allCases.map(\.rawValue), prefix: "")
        try AblationSpec.checkIntegers(all, prefix: "")
        for (field, known) in AblationSpec.nestedFields.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            let key = AnyKey(stringValue: field.rawValue)
            if (try? all.decodeNil(forKey: key)) == false, let nested = try? all.nestedContainer(keyedBy: AnyKey.self, forKey: key) {
                try AblationSpec.checkFields(nested, known: known, prefix: field.rawValue + ".")
                try AblationSpec.checkIntegers(nested, prefix: field.rawValue + ".")
            }
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = AblationSpec()
        corpus = try c.decodeIfPresent([String].self, forKey: .corpus) ?? d.corpus
        if let files = try c.decodeIfPresent([String: [String]].self, forKey: .splits) {
            splits = SplitFiles(train: files["train"] ?? [], valid: files["valid"] ?? [], test: files["test"] ?? [])
        } else {
            splits = d.splits
        }
        sources = try c.decodeIfPresent([String].self, forKey: .sources) ?? d.sources
        modes = try c.decodeIfPresent([String].self, forKey: .modes) ?? d.modes
        glomo = try c.decodeIfPresent([String].self, forKey: .glomo) ?? d.glomo
        seeds = try c.decodeIfPresent(Int.self, forKey: .seeds) ?? d.seeds
        grids = try c.decodeIfPresent([Grid].self, forKey: .grids) ?? d.grids
        corpusOptions = try c.decodeIfPresent(CorpusFlags.self, forKey: .corpusOptions) ?? d.corpusOptions
        vocabulary = try c.decodeIfPresent(VocabularyOptions.self, forKey: .vocabulary) ?? d.vocabulary
        pretraining = try c.decodeIfPresent(PretrainingOptions.self, forKey: .pretraining) ?? d.pretraining
        baseline = try c.decodeIfPresent(String.self, forKey: .baseline)
        if let line = try? c.decodeIfPresent(String.self, forKey: .comment) { comment = [line] }
        else { comment = try c.decodeIfPresent([String].self, forKey: .comment) }
        train = try c.decodeIfPresent(TrainOverrides.self, forKey: .train) ?? d.train
    }

    /// Reads a spec file, which must be strict JSON (`StrictJSON`: no repeated key, no trailing
    /// comma); an error names the file, and so do those of `validate()` later.
    public static func load(from path: String) throws -> AblationSpec {
        let data: Data
        do {
            let bytes = try readTextFile(path: path, maxBytes: 1 << 24)
            try StrictJSON.checkFile(bytes, path: path)   // a repeated key, a trailing comma
            data = Data(bytes)
        } catch let error as CorpusError {
            throw AblationError(error.description)
        }
        var spec: AblationSpec
        do { spec = try JSONDecoder().decode(AblationSpec.self, from: data) } catch let error as AblationError {
            throw AblationError("\(path): \(error)")
        } catch {
            throw AblationError("\(path): not an ablation spec: \(RunDirectory.describe(error))")
        }
        spec.origin = path
        return spec
    }

    /// `error` as a spec error: prefixed with the spec file, if there is one.
    public func named(_ error: Error) -> Error {
        guard let origin, !"\(error)".hasPrefix(origin + ":") else { return error }
        return AblationError("\(origin): \(error)")
    }

    /// Pretty JSON with sorted keys.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    // MARK: - The grid

    /// The arms in grid order (blocks of `grids` in order; in each: sources, then modes, then
    /// GLoMo placements), `random` once per placement, duplicates removed (two `file:` sources
    /// with the same content are one arm; an arm in several blocks keeps its first place and
    /// the most seeds any block gives it). Reads every `file:` source to name its arm by
    /// content. Throws on an unknown name, an unreadable file or an empty block.
    public func seededArms() throws -> [(arm: AblationArm, seeds: Int)] {
        let blocks = grids.isEmpty ? [Grid(sources: sources, modes: modes, glomo: glomo, seeds: seeds)] : grids
        var result: [(arm: AblationArm, seeds: Int)] = [], index: [String: Int] = [:]
        for (i, block) in blocks.enumerated() {
            let where_ = grids.isEmpty ? "" : "grids[\(i)]: "
            let n = block.seeds ?? seeds
            if n < 1 { throw AblationError(where_ + "--seeds must be at least 1") }
            // Every seed is a planned training run per arm: a damaged count must not plan billions.
            if n > AblationSpec.maxSeeds { throw AblationError(where_ + "--seeds must be at most \(AblationSpec.maxSeeds), got \(n)") }
            let arms: [AblationArm]
            do {
                arms = try AblationSpec.arms(sources: block.sources ?? sources, modes: block.modes ?? modes, glomo: block.glomo ?? glomo)
            } catch let error as AblationError { throw AblationError(where_ + error.description) }
            for arm in arms {
                if let at = index[arm.name] {
                    result[at].seeds = max(result[at].seeds, n)
                } else {
                    index[arm.name] = result.count
                    result.append((arm, n))
                }
            }
        }
        return result
    }

    /// The arms of `seededArms()`, without their seed counts.
    public func arms() throws -> [AblationArm] { try seededArms().map(\.arm) }

    /// The arms of one block: sources × modes × GLoMo placements.
    static func arms(sources: [String], modes: [String], glomo: [String]) throws -> [AblationArm] {
        let parsedSources = try sources.map { s -> EmbeddingSource in
            guard let source = EmbeddingSource(s) else {
                throw AblationError("unknown embedding source '\(s)' (known: \(EmbeddingSource.names.joined(separator: ", ")))")
            }
            return source
        }
        let parsedModes = try modes.map { m -> EmbeddingMode in
            guard let mode = EmbeddingMode(rawValue: m) else {
                throw AblationError("unknown embedding mode '\(m)' (known: frozen, finetune, concat)")
            }
            return mode
        }
        let parsedGLoMo = try glomo.map { g -> GLoMoPlacement in
            guard let placement = GLoMoPlacement(rawValue: g) else {
                throw AblationError("unknown GLoMo placement '\(g)' (known: \(GLoMoPlacement.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return placement
        }
        if parsedSources.isEmpty || parsedGLoMo.isEmpty { throw AblationError("the grid is empty: give at least one source and one GLoMo placement") }
        if parsedModes.isEmpty && parsedSources.contains(where: { $0 != .random }) {
            throw AblationError("the grid is empty: pretrained sources need at least one mode")
        }
        var arms: [AblationArm] = [], seen = Set<String>()
        for source in parsedSources {
            var tag: String?
            if case .file(let path) = source {
                tag = String(try AblationPlan.fileHash(AblationPlan.absolute(path), what: "embedding source file:\(path)").prefix(8))
            }
            for mode in source == .random ? [nil] : parsedModes.map(Optional.some) {
                for g in parsedGLoMo {
                    let arm = AblationArm(source: source, mode: mode, glomo: g, contentTag: tag)
                    if seen.insert(arm.name).inserted { arms.append(arm) }
                }
            }
        }
        return arms
    }

    /// The most seeds (training runs per arm) an ablation may have.
    public static let maxSeeds = 1000

    /// The options `pretraining.extra` may pass, per command (option → takes a value). Only
    /// settings: nothing that names a file or directory (`--out`, `--vocab`, `--glomo`: an
    /// input's content would not be in the cache key, an output could land outside RESULTS),
    /// controls a run (`--resume`, `--force`, `--stop-after-steps`), or is set by ablate itself
    /// (`--threads`, `--seed`, the sizes, `--epochs`, `--train-tokens`, `--steps`).
    public static let extraOptions: [String: [String: Bool]] = [
        "embed word2vec": ["--window": true, "--negative": true, "--sample": true, "--alpha": true],
        "embed bilm": ["--batch-size": true, "--bptt": true, "--lr": true, "--samples": true, "--softmax": true, "--min-occurrences": true,
                       "--standardize": false, "--no-standardize": false],
        "pretrain-domain": ["--pooling": true, "--init-range": true, "--dropout": true, "--batch-size": true, "--lr": true,
                            "--clip": true, "--max-length": true, "--min-occurrences": true, "--patience": true],
        "pretrain-glomo": ["--channels": true, "--conv-layers": true, "--graph-layers": true, "--heads": true, "--head-size": true,
                           "--threshold": true, "--sequence-length": true, "--batch-size": true, "--predict": true,
                           "--positions": true, "--lr": true, "--clip": true, "--checkpoint-every": true,
                           "--valid-sequences": true, "--patience": true, "--softmax": true],
    ]

    /// Checks `pretraining.extra`: known commands, allowed options (`extraOptions`), each valued
    /// option followed by its value, nothing else (a stray word would be a positional argument).
    func validateExtra() throws {
        for command in (pretraining.extra ?? [:]).keys.sorted() {
            guard let allowed = AblationSpec.extraOptions[command] else {
                throw AblationError("pretraining.extra: unknown command '\(command)' (known: \(AblationSpec.extraOptions.keys.sorted().joined(separator: ", ")))")
            }
            let words = pretraining.extra![command]!
            var i = 0
            while i < words.count {
                let word = words[i]
                let name = word.split(separator: "=", maxSplits: 1).first.map(String.init) ?? word
                guard let takesValue = allowed[name] else {
                    throw AblationError("pretraining.extra[\"\(command)\"]: '\(word)' is not allowed (allowed: \(allowed.keys.sorted().joined(separator: ", ")))")
                }
                if takesValue && !word.contains("=") {
                    guard i + 1 < words.count else { throw AblationError("pretraining.extra[\"\(command)\"]: \(word) needs a value") }
                    i += 1
                } else if !takesValue && word.contains("=") {
                    throw AblationError("pretraining.extra[\"\(command)\"]: \(name) takes no value")
                }
                i += 1
            }
        }
    }

    /// Checks what `arms()` cannot: seeds, corpus, sizes, `pretraining.extra`, the baseline;
    /// returns the arms. Errors name the spec file (`origin`), if any.
    @discardableResult
    public func validate() throws -> [AblationArm] {
        do { return try validateFields() } catch { throw named(error) }
    }

    func validateFields() throws -> [AblationArm] {
        if corpus.isEmpty && splits.isEmpty {
            throw AblationError("no corpus: give --corpus PATH... or --train/--valid/--test PATH... (or \"corpus\" or \"splits\" in the spec)")
        }
        if !corpus.isEmpty && !splits.isEmpty {
            throw AblationError("--corpus and --train/--valid/--test exclude each other in ablate: give one kind of data")
        }
        if !splits.isEmpty && (splits.train.isEmpty || splits.valid.isEmpty) {
            throw AblationError("split files need --train PATH... and --valid PATH... (--test is optional)")
        }
        if seeds < 1 { throw AblationError("--seeds must be at least 1") }
        if seeds > AblationSpec.maxSeeds { throw AblationError("--seeds must be at most \(AblationSpec.maxSeeds), got \(seeds)") }
        if let v = vocabulary.minCount, v < 1 { throw AblationError("--min-count must be at least 1") }
        if let v = vocabulary.maxSize, v < 2 { throw AblationError("--max-size must be at least 2") }
        if vocabulary.file != nil && (vocabulary.minCount != nil || vocabulary.maxSize != nil) {
            throw AblationError("--vocab and --min-count/--max-size exclude each other")
        }
        try train.check()
        try validateExtra()
        let arms = try arms()
        if arms.contains(where: { $0.source == .word2vecOut }) && (pretraining.outOfDomainCorpus ?? []).isEmpty {
            throw AblationError("source word2vec-out needs an out-of-domain corpus: --out-of-domain-corpus PATH... (\"pretraining\": {\"outOfDomainCorpus\": [...]} in a spec)")
        }
        if let baseline, !arms.contains(where: { $0.name == baseline }) {
            throw AblationError("baseline '\(baseline)' is not an arm of the grid (arms: \(arms.map(\.name).joined(separator: ", ")))")
        }
        return arms
    }

    /// The LM's embedding size: `train["embedding-size"]`, else that of `train["preset"]`
    /// (default `small`).
    public func embeddingSize() throws -> Int {
        if let e = train["embedding-size"] {
            guard let n = Int(e), n > 0 else { throw AblationError("--embedding-size must be a positive integer, not '\(e)'") }
            return n
        }
        let name = train["preset"] ?? "small"
        guard let preset = Preset(rawValue: name) else { throw AblationError("unknown preset '\(name)' (known: tiny, small, medium)") }
        return preset.model(vocabularySize: 2).embeddingSize
    }
}

extension RunConfig.CorpusPaths {
    public var isEmpty: Bool { train.isEmpty && valid.isEmpty && test.isEmpty }

    /// The `lmtool train` arguments: `--train F... --valid F... --test F...`.
    public var arguments: [String] {
        (train.isEmpty ? [] : ["--train"] + train) + (valid.isEmpty ? [] : ["--valid"] + valid) + (test.isEmpty ? [] : ["--test"] + test)
    }

    /// Every path made absolute with `transform`.
    public func map(_ transform: (String) -> String) -> Self {
        Self(train: train.map(transform), valid: valid.map(transform), test: test.map(transform))
    }
}
