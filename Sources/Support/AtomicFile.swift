#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// An error from a file operation, with the path and what went wrong, ready to print as one line
/// (control characters in either, such as a newline in a file name, are escaped).
public struct FileError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    /// An error for the current `errno`, e.g. `FileError.posix(path, "cannot open")`.
    public static func posix(_ path: String, _ what: String, errno code: Int32 = errno) -> FileError {
        FileError(path: path, message: "\(what): \(String(cString: strerror(code)))")
    }

    public var description: String { escapeControlCharacters("\(path): \(message)") }
}

/// Writes files atomically: the bytes go to a temporary file in the same directory, which is
/// flushed to disk (`fsync`) and then renamed over the destination. A reader (or a crash at any
/// moment) sees either the old file or the complete new one, never a half-written one.
///
///     try AtomicFile.write(to: "run/vocab.txt") { sink in
///         try sink.write(Array("hello\t3\n".utf8))
///     }
public enum AtomicFile {
    /// A sink that buffers writes to the temporary file.
    public final class Sink {
        fileprivate let fd: Int32
        fileprivate let path: String
        private var buffer: [UInt8] = []

        fileprivate init(fd: Int32, path: String) {
            self.fd = fd
            self.path = path
            buffer.reserveCapacity(1 << 16)
        }

        public func write(_ bytes: [UInt8]) throws {
            buffer.append(contentsOf: bytes)
            if buffer.count >= 1 << 16 { try flush() }
        }

        public func write(_ string: String) throws {
            try write(Array(string.utf8))
        }

        public func write(_ bytes: UnsafeRawBufferPointer) throws {
            if bytes.count >= 1 << 16 {
                try flush()
                try writeAll(bytes)
            } else {
                buffer.append(contentsOf: bytes)
                if buffer.count >= 1 << 16 { try flush() }
            }
        }

        fileprivate func flush() throws {
            try buffer.withUnsafeBytes { try writeAll($0) }
            buffer.removeAll(keepingCapacity: true)
        }

        private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw FileError.posix(path, "cannot write")
                }
                offset += n
            }
        }
    }

    /// Creates (or replaces) the file at `path` with whatever `body` writes. If `body` throws,
    /// the destination is left untouched and the temporary file is removed.
    public static func write(to path: String, _ body: (Sink) throws -> Void) throws {
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let name = path.split(separator: "/").last.map(String.init) ?? path
        var template = Array("\(directory.isEmpty ? "/" : directory)/.\(name).tmp-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if fd < 0 { throw FileError.posix(path, "cannot create a temporary file in \(directory)") }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var committed = false
        defer {
            if !committed { unlink(temporary) }
        }
        do {
            let sink = Sink(fd: fd, path: path)
            try body(sink)
            try sink.flush()
            fchmod(fd, 0o644)
            if fsync(fd) != 0 { throw FileError.posix(path, "cannot flush to disk") }
        } catch {
            close(fd)
            throw error
        }
        if close(fd) != 0 { throw FileError.posix(path, "cannot close") }
        if rename(temporary, path) != 0 { throw FileError.posix(path, "cannot rename \(temporary) into place") }
        committed = true
        // Make the rename itself durable.
        let dfd = open(directory.isEmpty ? "/" : directory, O_RDONLY)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    /// Writes `bytes` to `path` atomically.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        try write(to: path) { try $0.write(bytes) }
    }
}
