import Corpus
import GLoMoGraph
import Support

/// The `lmtool train` options an ablation passes to every run (`"train"` in a spec): flag name
/// without `--` → value, each checked against the type `lmtool train` gives it when the spec is
/// read or a value is set, so that a bad value is refused naming the field (`train.batching`)
/// before anything runs. `arguments` renders them, the one place a run's train flags are written.
///
///     "train": {"preset": "tiny", "epochs": 2, "lr": 0.002, "tie-weights": false}
///
/// In a spec a value is a string, a number or a boolean: `true` stands for a bare flag
/// (`"tie-weights": true`), `false` leaves it out. Values are kept as given (`"lr": 0.002` is
/// `0.002`), so plans and `ablation.json` read as they always have.
public struct TrainOverrides: Codable, Equatable, Sendable, ExpressibleByDictionaryLiteral {
    /// What a flag takes.
    public enum Kind: Equatable, Sendable {
        /// Nothing: a bare flag (value `true`).
        case bare
        case integer
        case number
        /// One of these words.
        case choice([String])
        /// `TrainingConfig.Schedule(parsing:)`'s forms.
        case schedule
        /// `SoftmaxChoice(parsing:)`'s forms.
        case softmax
        /// `TrainingConfig.seconds(parsing:)`'s forms (`1800`, `30m`).
        case duration
    }

    /// The flags of `lmtool train` a spec may set (those ablate sets itself are `setByAblate`).
    public static let kinds: [String: Kind] = [
        "preset": .choice(Preset.allCases.map(\.rawValue)),
        "embedding-size": .integer, "hidden-size": .integer, "layers": .integer, "dropout": .number,
        "tie-weights": .bare, "no-tie-weights": .bare, "init-range": .number, "softmax": .softmax,
        "batching": .choice(TrainingConfig.Batching.allCases.map(\.rawValue)), "bptt": .integer, "batch-size": .integer,
        "optimizer": .choice(TrainingConfig.OptimizerKind.allCases.map(\.rawValue)), "lr": .number, "momentum": .number,
        "weight-decay": .number, "clip": .number, "schedule": .schedule, "epochs": .integer, "patience": .integer, "time-limit": .duration,
        "train-tokens": .integer, "threads": .integer, "checkpoint-every": .number, "stop-after-steps": .integer,
        "glomo-weights": .choice(GraphMixWeighting.allCases.map(\.rawValue)), "min-count": .integer, "max-size": .integer,
        "format": .choice(RecordFormat.allCases.map(\.rawValue)), "tokenizer": .choice(TokenizerKind.allCases.map(\.rawValue)),
        "lowercase": .bare, "sentences": .bare, "replace-invalid": .bare, "max-line-bytes": .integer,
    ]

    /// The `lmtool train` flags every run gets from ablate: a spec may not set them.
    public static let setByAblate = ["run", "corpus", "train", "valid", "test", "vocab", "seed", "embeddings", "embedding-mode",
                                     "glomo", "glomo-on", "resume", "force"]

    /// Flag → value as given (`"true"` for a bare flag).
    public private(set) var values: [String: String]

    /// Unchecked (`check()` checks them; `AblationSpec.validate()` calls it).
    public init(_ values: [String: String] = [:]) { self.values = values }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(Dictionary(elements, uniquingKeysWith: { $1 }))
    }

    public subscript(flag: String) -> String? { values[flag] }

    public var isEmpty: Bool { values.isEmpty }

    /// Sets `flag` to `value` (nil removes it), after checking it.
    public mutating func set(_ flag: String, _ value: String?) throws {
        if let value { try TrainOverrides.check(flag, value) }
        values[flag] = value
    }

    /// Throws the first flag (in sorted order) that a spec may not set or whose value does not
    /// have its type: `train.batching: 'diagonal' is not one of discourse, sentence`.
    public func check() throws {
        for flag in values.keys.sorted() { try TrainOverrides.check(flag, values[flag]!) }
    }

    /// Errors quote the flag and value with control characters escaped: always one line.
    static func check(_ flag: String, _ value: String) throws {
        let shownFlag = escapeControlCharacters(flag), shown = "'" + escapeControlCharacters(value) + "'"
        func fail(_ problem: String) throws { throw AblationError("train.\(shownFlag): \(problem)") }
        if setByAblate.contains(flag) { throw AblationError("train option --\(flag) is set by ablate itself") }
        guard let kind = kinds[flag] else {
            return try fail("not an lmtool train option a spec may set (known: \(kinds.keys.sorted().joined(separator: ", ")))")
        }
        switch kind {
        case .bare: if value != "true" { try fail("a flag without a value: true or false, not \(shown)") }
        case .integer: if Int(value) == nil { try fail("\(shown) is not an integer") }
        case .number: if Float(value) == nil { try fail("\(shown) is not a number") }
        case .choice(let words): if !words.contains(value) { try fail("\(shown) is not one of \(words.joined(separator: ", "))") }
        case .schedule: do { _ = try TrainingConfig.Schedule(parsing: value) } catch { try fail(escapeControlCharacters("\(error)")) }
        case .softmax: do { _ = try SoftmaxChoice(parsing: value) } catch { try fail(escapeControlCharacters("\(error)")) }
        case .duration: if TrainingConfig.seconds(parsing: value) == nil { try fail("\(shown) is not a duration (seconds, or a number with s, m or h: 90s, 30m)") }
        }
    }

    /// The preset (`small` when none is given).
    public var preset: Preset { values["preset"].flatMap(Preset.init(rawValue:)) ?? .small }

    /// The value of an integer flag (nil when not set or not an integer).
    public func integer(_ flag: String) -> Int? { values[flag].flatMap { Int($0) } }

    /// The `lmtool train` arguments: the flags in sorted order, `--preset small` when no preset
    /// is given, a bare flag alone.
    public var arguments: [String] {
        var all = values
        if all["preset"] == nil { all["preset"] = Preset.small.rawValue }
        return all.keys.sorted().flatMap { key in all[key] == "true" ? ["--" + key] : ["--" + key, all[key]!] }
    }

    /// A JSON scalar: string, number or boolean (`false`: left out).
    struct Scalar: Decodable {
        var flagValue: String?
        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let b = try? c.decode(Bool.self) { flagValue = b ? "true" : nil }
            else if let i = try? c.decode(Int.self) { flagValue = String(i) }
            else if let x = try? c.decode(Double.self) { flagValue = String(x) }
            else { flagValue = try c.decode(String.self) }
        }
    }

    /// Reads the object of a spec and checks every value.
    public init(from decoder: Decoder) throws {
        values = try decoder.singleValueContainer().decode([String: Scalar].self).compactMapValues(\.flagValue)
        try check()
    }

    /// Written as an object of strings (`ablation.json`).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(values)
    }
}
