import Glibc

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
/// What the destination names decides how it is written:
/// - a regular file, or nothing yet: replaced atomically as above (an existing file keeps its
///   permission bits, a new one gets 0644);
/// - a symbolic link (or a chain of them): the file it points to is replaced atomically in that
///   file's own folder; the link stays a link;
/// - `-`, `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`: the open descriptor is
///   written to, at its offset, and left open;
/// - anything else that exists and is not a regular file (a device such as `/dev/null`, a
///   FIFO, a socket): opened and written through, never renamed over.
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
    /// the destination is left untouched and the temporary file is removed (a stream or a
    /// device has then received what was written before the error).
    public static func write(to path: String, _ body: (Sink) throws -> Void) throws {
        switch try Destination(path) {
        case .descriptor(let fd):
            try writeThrough(fd: fd, path: path, body)
        case .stream(let target):
            let fd = Glibc.open(target, O_WRONLY | O_CLOEXEC)
            if fd < 0 { throw FileError.posix(path, "cannot open for writing") }
            defer { close(fd) }
            try writeThrough(fd: fd, path: path, body)
        case .file(let target, let mode):
            try replace(target, reportedAs: path, mode: mode, body)
        }
    }

    /// Whether `path` names something written through rather than replaced: standard output or
    /// another open descriptor, a device, a FIFO (see the type's documentation).
    public static func isStream(_ path: String) -> Bool {
        switch try? Destination(path) {
        case .descriptor?, .stream?: return true
        case .file?, nil: return false
        }
    }

    /// Whether `path` names standard output (`-`, `/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1`).
    public static func isStandardOutput(_ path: String) -> Bool { Destination.descriptorNumber(path) == 1 }

    /// Writes what `body` writes to `fd`; no fsync (devices and pipes refuse it), no rename.
    private static func writeThrough(fd: Int32, path: String, _ body: (Sink) throws -> Void) throws {
        let sink = Sink(fd: fd, path: path)
        try body(sink)
        try sink.flush()
    }

    /// The temporary-file-and-rename write of the regular file `target` (errors name `path`, the
    /// name the caller gave).
    private static func replace(_ target: String, reportedAs path: String, mode: mode_t, _ body: (Sink) throws -> Void) throws {
        let (directory, name) = splitPath(target)
        var template = Array("\(directory)/.\(name).tmp-XXXXXX".utf8CString)
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
            fchmod(fd, mode)
            if fsync(fd) != 0 { throw FileError.posix(path, "cannot flush to disk") }
        } catch {
            close(fd)
            throw error
        }
        if close(fd) != 0 { throw FileError.posix(path, "cannot close") }
        if rename(temporary, target) != 0 { throw FileError.posix(path, "cannot rename \(temporary) into place") }
        committed = true
        // Make the rename itself durable.
        let dfd = open(directory, O_RDONLY)
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

/// Where a write to a path goes (see `AtomicFile`).
enum Destination {
    /// An already open descriptor: `-` is 1, `/dev/stdout` 1, `/dev/stderr` 2, `/dev/fd/N` N.
    case descriptor(Int32)
    /// An existing file that is not a regular file (a device, a FIFO), written through.
    case stream(String)
    /// A regular file (existing or not) with symbolic links resolved, and the permission bits
    /// the replacement gets.
    case file(String, mode: mode_t)

    init(_ path: String) throws {
        if let fd = Destination.descriptorNumber(path) {
            self = .descriptor(fd)
            return
        }
        var st = stat()
        if stat(path, &st) == 0 {
            switch st.st_mode & S_IFMT {
            case S_IFREG:
                self = .file(Destination.resolvedPath(path), mode: st.st_mode & 0o7777)
            case S_IFDIR:
                throw FileError(path: path, message: "is a directory")
            default:
                self = .stream(path)
            }
        } else if errno == ENOENT {
            self = .file(Destination.resolvedPath(path), mode: 0o644)
        } else {
            throw FileError.posix(path, "cannot write")
        }
    }

    /// The descriptor a path names by convention, if it does.
    static func descriptorNumber(_ path: String) -> Int32? {
        switch path {
        case "-", "/dev/stdout": return 1
        case "/dev/stderr": return 2
        default:
            for prefix in ["/dev/fd/", "/proc/self/fd/"] where path.hasPrefix(prefix) {
                return Int32(path.dropFirst(prefix.count))
            }
            return nil
        }
    }

    /// `path` with every symbolic link resolved, as far as the path exists: an existing file's
    /// real path, or for a name not created yet (perhaps the target of a dangling link) the real
    /// path of its folder joined with the name. Unresolvable parts are kept as given.
    static func resolvedPath(_ path: String) -> String {
        var current = path
        for _ in 0..<40 {
            if let real = realPath(current) { return real }
            // Nothing there yet. A dangling symbolic link? Follow it to the file to create.
            var st = stat()
            if lstat(current, &st) == 0 && st.st_mode & S_IFMT == S_IFLNK, let target = readLink(current) {
                current = target.hasPrefix("/") ? target : splitPath(current).directory + "/" + target
                continue
            }
            let (directory, name) = splitPath(current)
            return (realPath(directory) ?? directory) + "/" + name
        }
        return path
    }

    private static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    private static func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// The folder and the last component of `path` (`a/b` → `a`, `b`; `b` → `.`, `b`; `/b` → `/`, `b`).
func splitPath(_ path: String) -> (directory: String, name: String) {
    var p = path
    while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
    guard let slash = p.lastIndex(of: "/") else { return (".", p) }
    let directory = String(p[..<slash])
    return (directory.isEmpty ? "/" : directory, String(p[p.index(after: slash)...]))
}
