/// `text` with every control character written as an escape (`\n`, `\r`, `\t`, `\0`, else
/// `\u{1B}`), so that a file name or a quoted piece of content cannot break a one-line error
/// message. Other characters, backslashes included, are kept as they are: text without control
/// characters comes back unchanged, so escaping twice is the same as escaping once.
///
///     escapeControlCharacters("a\nb.txt")   // a\nb.txt (a backslash and an n, one line)
public func escapeControlCharacters(_ text: String) -> String {
    guard text.unicodeScalars.contains(where: isControl) else { return text }
    var out = ""
    for u in text.unicodeScalars {
        switch u {
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\0": out += "\\0"
        default:
            if isControl(u) {
                out += "\\u{" + String(u.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(u)
            }
        }
    }
    return out
}

/// C0 and C1 control characters, DEL, and the Unicode line and paragraph separators: anything a
/// terminal or a log reader may take as the end of a line or as a command.
private func isControl(_ u: Unicode.Scalar) -> Bool {
    u.value < 0x20 || (0x7F...0x9F).contains(u.value) || u.value == 0x2028 || u.value == 0x2029
}
