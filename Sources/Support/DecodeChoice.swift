import Foundation

// Enums read from JSON files (config.json, specs): an unknown value is refused with a one-line
// error that names the field (through the decoding error's path) and lists the choices.

extension KeyedDecodingContainer {
    /// Decodes `key` as one of `T`'s raw values. An unknown value throws a one-line error that
    /// quotes it (escaped) and lists the choices; the decoding error's path names the field.
    public func decodeChoice<T: RawRepresentable & CaseIterable>(_ type: T.Type, forKey key: Key) throws -> T where T.RawValue == String {
        let raw = try decode(String.self, forKey: key)
        guard let value = T(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: unknownChoice(raw, of: T.self))
        }
        return value
    }

    /// `decodeChoice`, or nil when `key` is absent or null.
    public func decodeChoiceIfPresent<T: RawRepresentable & CaseIterable>(_ type: T.Type, forKey key: Key) throws -> T? where T.RawValue == String {
        try contains(key) && !decodeNil(forKey: key) ? decodeChoice(type, forKey: key) : nil
    }
}

extension SingleValueDecodingContainer {
    /// Decodes one of `T`'s raw values: an unknown value throws the one-line error of
    /// `KeyedDecodingContainer.decodeChoice` (for an enum's own `init(from:)`).
    public func decodeChoice<T: RawRepresentable & CaseIterable>(_ type: T.Type) throws -> T where T.RawValue == String {
        let raw = try decode(String.self)
        guard let value = T(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(in: self, debugDescription: unknownChoice(raw, of: T.self))
        }
        return value
    }
}

/// `unknown value "melted" (expected one of frozen, finetune, concat)`: the value quoted and
/// escaped, so the message stays one line.
private func unknownChoice<T: RawRepresentable & CaseIterable>(_ raw: String, of type: T.Type) -> String where T.RawValue == String {
    "unknown value \(String(reflecting: raw)) (expected one of \(T.allCases.map(\.rawValue).joined(separator: ", ")))"
}
