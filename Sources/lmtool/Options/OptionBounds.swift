import ArgumentParser
import Foundation

/// Ranges shared by the numeric options, checked in the commands' `validate()` (or first thing in
/// `run()`) before any work. Every numeric option is declared with `parsing: .unconditional`, so
/// that a negative number (`--max-line-bytes -1`) is read as the option's value and refused by
/// its range check with one line, instead of being taken for a flag.
enum OptionBounds {
    /// The most compute threads an option accepts: 4 × the processors this process may use.
    /// More threads only wait for each other (and 100000 of them never finish starting).
    static var maxThreads: Int { 4 * ProcessInfo.processInfo.activeProcessorCount }

    /// The help text's statement of the `--threads` range.
    static let threadsRange = "1 to 4 × the processor count"

    /// Throws unless `threads` (when given) is in 1...`maxThreads`.
    static func checkThreads(_ threads: Int?, flag: String = "--threads") throws {
        guard let threads else { return }
        if !(1...maxThreads).contains(threads) {
            throw ValidationError("\(flag) must be in 1...\(maxThreads) (4 × \(ProcessInfo.processInfo.activeProcessorCount) processors), got \(threads)")
        }
    }

    /// Throws unless `value` (when given) is in `range`.
    static func checkRange(_ range: ClosedRange<Int>, _ value: Int?, _ flag: String) throws {
        if let value, !range.contains(value) {
            throw ValidationError("\(flag) must be in \(range.lowerBound)...\(range.upperBound), got \(value)")
        }
    }

    /// Throws unless every path given for `flag` is non-empty: an empty path names no file, and
    /// would otherwise fail only after the work (or leave a lock file beside it).
    static func checkPaths(_ flag: String, _ values: [String?]) throws {
        if values.contains(where: { $0?.isEmpty == true }) { throw ValidationError("\(flag) must not be empty: give a path") }
    }

    /// Throws unless `value` (when given) is at least `minimum`.
    static func checkAtLeast(_ minimum: Int, _ value: Int?, _ flag: String) throws {
        if let value, value < minimum { throw ValidationError("\(flag) must be at least \(minimum), got \(value)") }
    }
}
