import Foundation

/// One evaluation of a run, one line of its `metrics.jsonl`.
///
///     {"elapsed_seconds":61.2,"epoch":1,"loss":5.01,"lr":20,"ppl":149.9,"split":"valid","step":2983,
///      "tokens_per_second":6912.5,"wall_time":"2026-11-22T04:40:00Z"}
///
/// `loss` is the mean natural-log cross-entropy per token, `ppl` = exp(loss), `elapsed_seconds`
/// the training time since the run started (summed over resumed sessions), `wall_time` the UTC
/// time the line was written (ISO 8601). A non-finite loss is written as the string `"nan"`,
/// `"inf"` or `"-inf"`.
public struct MetricsRecord: Codable, Equatable, Sendable {
    public var epoch: Int
    /// Optimizer steps done so far in the whole run.
    public var step: Int
    /// `train`, `valid` or `test`.
    public var split: String
    public var loss: Double
    public var ppl: Double
    public var lr: Double
    public var tokensPerSecond: Double
    public var elapsedSeconds: Double
    public var wallTime: String

    public init(epoch: Int, step: Int, split: String, loss: Double, ppl: Double? = nil, lr: Double,
                tokensPerSecond: Double, elapsedSeconds: Double, wallTime: String = MetricsRecord.now()) {
        self.epoch = epoch
        self.step = step
        self.split = split
        self.loss = loss
        self.ppl = ppl ?? Foundation.exp(loss)
        self.lr = lr
        self.tokensPerSecond = tokensPerSecond
        self.elapsedSeconds = elapsedSeconds
        self.wallTime = wallTime
    }

    enum CodingKeys: String, CodingKey {
        case epoch, step, split, loss, ppl, lr
        case tokensPerSecond = "tokens_per_second"
        case elapsedSeconds = "elapsed_seconds"
        case wallTime = "wall_time"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epoch = try c.decode(Int.self, forKey: .epoch)
        step = try c.decode(Int.self, forKey: .step)
        split = try c.decode(String.self, forKey: .split)
        loss = try c.decode(Double.self, forKey: .loss)
        ppl = try c.decode(Double.self, forKey: .ppl)
        lr = try c.decode(Double.self, forKey: .lr)
        tokensPerSecond = try c.decode(Double.self, forKey: .tokensPerSecond)
        elapsedSeconds = try c.decode(Double.self, forKey: .elapsedSeconds)
        wallTime = try c.decode(String.self, forKey: .wallTime)
    }

    /// Encodes every field; a learning rate that is a `Float` widened to `Double` (the trainer's
    /// case) is written with `Float` digits, `0.143` rather than `0.14300000667572021`.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(step, forKey: .step)
        try c.encode(split, forKey: .split)
        try c.encode(loss, forKey: .loss)
        try c.encode(ppl, forKey: .ppl)
        if let narrow = Float(exactly: lr) { try c.encode(narrow, forKey: .lr) } else { try c.encode(lr, forKey: .lr) }
        try c.encode(tokensPerSecond, forKey: .tokensPerSecond)
        try c.encode(elapsedSeconds, forKey: .elapsedSeconds)
        try c.encode(wallTime, forKey: .wallTime)
    }

    /// The current UTC time in ISO 8601, e.g. `2026-11-22T04:40:00Z`.
    public static func now() -> String {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        return f.string(from: Date())
    }

    /// The record as one JSON line (sorted keys, ending with `"\n"`).
    public func jsonLine() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return Array(try encoder.encode(self)) + [10]
    }

    /// Decodes one line written by `jsonLine()`.
    public static func decode(line: some Collection<UInt8>) throws -> MetricsRecord {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(MetricsRecord.self, from: Data(line))
    }
}
