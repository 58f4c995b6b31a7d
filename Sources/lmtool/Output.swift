import Foundation
import Support

func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count) }
func lpad(_ s: String, _ width: Int) -> String { s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s }

func jsonString<T: Encodable>(_ value: T) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// The process's peak resident set size (VmHWM in /proc/self/status), where Linux provides it.
func peakResidentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ").compactMap { Int($0) }.first
        return kb.map { $0 * 1024 }
    }
    return nil
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

/// Prints a command's status line (`wrote FILE: ...`): on standard error when `out` is
/// standard output itself (`--out -`), so the written data stays alone on stdout.
func printStatus(_ line: String, output out: String) {
    if AtomicFile.isStandardOutput(out) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    } else {
        print(line)
    }
}

/// A progress line redrawn in place on standard error (`\r`), ended by `end()` before the next
/// status line; `draw` may be called from any thread.
final class ProgressLine: @unchecked Sendable {
    private let lock = NSLock()
    private var open = false

    func draw(_ text: String) {
        lock.withLock {
            FileHandle.standardError.write(Data(("\r" + text).utf8))
            open = true
        }
    }

    func end() {
        lock.withLock {
            if open { FileHandle.standardError.write(Data("\n".utf8)) }
            open = false
        }
    }
}
