import Foundation

/// A training run that cannot start as asked (missing data, bad settings): one line.
///
/// The library names settings by their fields (`model.embeddingSize`, `data.corpus`, see
/// `TrainingRequest`), listed in `fields`; a command line tool puts its own names in with
/// `naming(_:)` (`lmtool train` its flags: `--embedding-size must be at least 1, got 0`).
public struct TrainingSetupError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    /// The fields `message` names, as written there.
    public var fields: [String]
    public init(_ message: String, fields: [String] = []) {
        self.message = message
        self.fields = fields
    }
    public var description: String { message }

    /// The error with each of its fields replaced by `name(field)` (a field without a name is kept).
    public func naming(_ name: (String) -> String?) -> TrainingSetupError {
        var text = message
        // Longest first, so that no field is replaced inside a longer one.
        for field in fields.sorted(by: { $0.count > $1.count }) {
            if let replacement = name(field) { text = text.replacingOccurrences(of: field, with: replacement) }
        }
        return TrainingSetupError(text)
    }
}
