@preconcurrency import Glibc  // stdout, a C global that Swift 6 cannot check (written from one thread)
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

/// A write to standard output failed: the output a script reads is incomplete.
struct StandardOutputError: Error, CustomStringConvertible {
    /// Why, as `strerror` says it ("No space left on device", "Broken pipe").
    let reason: String
    var description: String { "cannot write to standard output: \(reason)" }
}

/// Flushes standard output and throws `StandardOutputError` if this or any earlier write to it
/// failed. Every command prints its results with `print`, which writes to C stdio's `stdout`
/// buffer: a write error (a full disk, a closed pipe) is noticed by stdio but reported nowhere,
/// so `main` calls this before exiting, and a command that streams (`generate`) calls it as it
/// goes, to stop early. Status lines and notes go to standard error, unbuffered.
func flushStandardOutput() throws {
    if fflush(stdout) != 0 { throw StandardOutputError(reason: String(cString: strerror(errno))) }
    // The error was in a write stdio made earlier, when its buffer filled; errno is long gone.
    if ferror(stdout) != 0 { throw StandardOutputError(reason: "an earlier write failed") }
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
