import Glibc
import Foundation
import Synchronization

/// A stream of bytes: a plain file, or the decompressed contents of a zstd or gzip file.
public protocol ByteSource: AnyObject {
    /// Fills the front of `buffer` with the next bytes and returns how many; 0 means the end.
    /// Throws a `CorpusError` for an unreadable, truncated or corrupt input.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// The compression of a file, detected from its first bytes (never from its name).
public enum Compression: String, Sendable {
    case none, zstd, gzip

    /// Detects the compression from the first bytes of a file.
    ///
    /// zstd frames start with `28 B5 2F FD` (skippable frames with `5? 2A 4D 18`); gzip members
    /// with `1F 8B`.
    public static func detect(_ head: some Collection<UInt8>) -> Compression {
        let b = Array(head.prefix(4))
        if b.count >= 4, b == [0x28, 0xB5, 0x2F, 0xFD] { return .zstd }
        if b.count >= 4, b[0] & 0xF0 == 0x50, b[1] == 0x2A, b[2] == 0x4D, b[3] == 0x18 { return .zstd }
        if b.count >= 2, b[0] == 0x1F, b[1] == 0x8B { return .gzip }
        return .none
    }
}

/// The path that means standard input wherever lmtool reads a file.
public let standardInputPath = "-"

/// Reads a file with POSIX `read`, in the caller's buffer; the file is closed on deinit.
///
/// The path is opened exactly once, so pipes, `/dev/stdin`, process substitution (`<(...)`)
/// and FIFOs read like files; `-` reads standard input (which is not closed). A directory is
/// refused.
public final class FileByteSource: ByteSource {
    public let path: String
    private let fd: Int32
    private let ownsDescriptor: Bool
    /// Bytes read so far (the offset of the next byte in the file).
    public private(set) var offset = 0
    /// Whether the path is a regular file (which, unlike a pipe, could be read again).
    public let isRegularFile: Bool

    public init(path: String) throws {
        self.path = path
        try StreamInputs.claim(path)
        if path == standardInputPath {
            fd = STDIN_FILENO
            ownsDescriptor = false
        } else {
            // Opened once, its kind checked on the descriptor (a second open of a FIFO would
            // wait for a second writer).
            fd = open(path, O_RDONLY | O_CLOEXEC)
            if fd < 0 {
                let code = errno
                throw CorpusError(file: path, code == ENOENT ? "no such file or directory" : "cannot open: \(String(cString: strerror(code)))")
            }
            ownsDescriptor = true
        }
        var st = stat()
        if fstat(fd, &st) != 0 {
            let code = errno
            if ownsDescriptor { close(fd) }
            throw CorpusError(file: path, "cannot read: \(String(cString: strerror(code)))")
        }
        if st.st_mode & S_IFMT == S_IFDIR {
            if ownsDescriptor { close(fd) }
            throw CorpusError(file: path, "is a directory")
        }
        isRegularFile = st.st_mode & S_IFMT == S_IFREG
        if isRegularFile { _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) }
    }

    deinit { if ownsDescriptor { close(fd) } }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 {
                offset += n
                return n
            }
            if errno == EINTR { continue }
            let reason = errno == EISDIR ? "is a directory" : "read error: \(String(cString: strerror(errno)))"
            throw CorpusError(file: path, position: .byte(offset), reason)
        }
    }
}

/// The pipes and FIFOs this process has opened. A stream can be read only once: a second read
/// would see what is left (nothing, or the middle of the data) and a FIFO's second open waits
/// forever for a writer. Opening one again is an error instead.
enum StreamInputs {
    struct Key: Hashable {
        var device: UInt64, inode: UInt64
        /// A FIFO named in the file system is keyed by its path too (its inode number may be
        /// reused once it is deleted); a pipe (`-`, `/dev/stdin`, `<(...)`) by its inode alone.
        var path: String?
    }

    private static let opened = Mutex<Set<Key>>([])

    /// Records that `path` is being opened; throws if it is a pipe or FIFO opened before, or
    /// `-` read before (standard input is consumed even when it is a redirected file).
    static func claim(_ path: String) throws {
        var keys: [Key] = []
        if path == standardInputPath { keys.append(Key(device: 0, inode: 0, path: standardInputPath)) }
        var st = stat()
        let found = path == standardInputPath ? fstat(STDIN_FILENO, &st) == 0 : stat(path, &st) == 0
        var named = false
        if found, st.st_mode & S_IFMT == S_IFIFO || st.st_mode & S_IFMT == S_IFSOCK {
            var link = stat()
            named = path != standardInputPath && lstat(path, &link) == 0 && link.st_mode & S_IFMT == S_IFIFO
            keys.append(Key(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), path: named ? path : nil))
        }
        try opened.withLock { opened in
            if keys.contains(where: opened.contains) {
                let what = named ? "a FIFO" : "a pipe or standard input"
                throw CorpusError(file: path, "is \(what), which can be read only once, and it is needed again here (a second pass, or the same input given twice); save it to a file first")
            }
            opened.formUnion(keys)
        }
    }
}

/// A source that can look ahead: `peek` reads the first bytes and keeps them, and `read` hands
/// them out again before the rest. This is how a stream that cannot be reopened (a pipe) is
/// sniffed for compression and encoding.
public final class PeekableByteSource: ByteSource {
    public let base: ByteSource
    private var pending: [UInt8] = []
    private var pendingStart = 0

    public init(_ base: ByteSource) { self.base = base }

    /// The next `count` bytes (fewer at the end of the stream), without consuming them.
    public func peek(_ count: Int) throws -> [UInt8] {
        if pendingStart > 0 {
            pending.removeFirst(pendingStart)
            pendingStart = 0
        }
        var chunk = [UInt8](repeating: 0, count: max(0, count - pending.count))
        var filled = 0
        while pending.count + filled < count {
            let n = try chunk.withUnsafeMutableBytes { try base.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
            if n == 0 { break }
            filled += n
        }
        pending.append(contentsOf: chunk[..<filled])
        return Array(pending.prefix(count))
    }

    /// Drops the next `count` bytes (at most what `peek` returned).
    public func skip(_ count: Int) {
        precondition(count <= pending.count - pendingStart, "skip only what was peeked")
        pendingStart += count
    }

    /// Hands out the peeked bytes first, then (in the same call, if there is room) what the
    /// base source gives: the first read returns as much as it would have without the peek.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        guard pendingStart < pending.count else { return try base.read(into: buffer) }
        let n = min(buffer.count, pending.count - pendingStart)
        pending.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress! + pendingStart, byteCount: n) }
        pendingStart += n
        guard pendingStart == pending.count else { return n }
        pending = []
        pendingStart = 0
        if n == buffer.count { return n }
        return n + (try base.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[n...])))
    }
}

/// Opens `path` (`-` for standard input) exactly once and returns a source of its
/// (decompressed) bytes, with the compression detected from the first bytes: `data.txt`,
/// `data.txt.zst` and a gzip file misnamed `.zst` all just work, from a file or a pipe.
public func openByteSource(path: String) throws -> (source: ByteSource, compression: Compression) {
    try decompressing(PeekableByteSource(try FileByteSource(path: path)), path: path)
}

/// The decompressed bytes of `stored`, with the compression detected from its first bytes
/// (peeked, so nothing is lost from a pipe); `path` names it in errors. `openByteSource` on a
/// source its caller has already looked into (as the embedding reader does for safetensors).
public func decompressing(_ stored: PeekableByteSource, path: String) throws -> (source: ByteSource, compression: Compression) {
    let compression = Compression.detect(try stored.peek(4))
    switch compression {
    case .none: return (stored, .none)
    case .zstd: return (try ZstdByteSource(stored, path: path), .zstd)
    case .gzip: return (try GzipByteSource(stored, path: path), .gzip)
    }
}

/// Opens a text file like `openByteSource` and checks its encoding on the first (decompressed)
/// bytes: a UTF-8 byte order mark is skipped; UTF-16 and UTF-32 (by their byte order mark, or
/// by the NUL bytes of ASCII text in them) are refused with an error saying so.
///
/// - Returns: the source, positioned after any byte order mark, and that mark's length (0 or 3).
public func openTextSource(path: String) throws -> (source: ByteSource, skippedBOM: Int) {
    let source = PeekableByteSource(try openByteSource(path: path).source)
    return (source, try checkTextEncoding(source, path: path))
}

/// The encoding check of `openTextSource` on a source already open: skips a UTF-8 byte order
/// mark (returning its length, 3, else 0) or throws for UTF-16/32.
public func checkTextEncoding(_ source: PeekableByteSource, path: String) throws -> Int {
    let head = try source.peek(4)
    switch TextEncodingSniffer.sniff(head) {
    case .utf8WithBOM:
        source.skip(3)
        return 3
    case .utf8:
        return 0
    case .unsupported(let name):
        throw CorpusError(file: path, "looks like \(name) text; lmtool reads UTF-8 only (convert it, e.g. iconv -f \(name) -t UTF-8)")
    }
}

/// Reads all of a text file (see `openTextSource`) into memory: for small inputs such as a
/// vocabulary or a spec. More than `maxBytes` is an error.
public func readTextFile(path: String, maxBytes: Int = 1 << 30) throws -> [UInt8] {
    let (source, _) = try openTextSource(path: path)
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = try chunk.withUnsafeMutableBytes { try source.read(into: $0) }
        if n == 0 { return result }
        if result.count + n > maxBytes { throw CorpusError(file: path, "larger than \(maxBytes) bytes") }
        result.append(contentsOf: chunk[0..<n])
    }
}

/// Recognises the text encodings lmtool does not read, from a file's first bytes.
enum TextEncodingSniffer {
    enum Verdict: Equatable {
        case utf8, utf8WithBOM
        /// The name `iconv` knows the encoding by.
        case unsupported(String)
    }

    /// Byte order marks first (UTF-32 LE before UTF-16 LE, whose mark it starts with), then the
    /// NUL pattern of ASCII characters in UTF-16/32 without a mark (text in UTF-8 has no NULs).
    static func sniff(_ b: [UInt8]) -> Verdict {
        if b.starts(with: [0xEF, 0xBB, 0xBF]) { return .utf8WithBOM }
        if b.starts(with: [0xFF, 0xFE, 0x00, 0x00]) { return .unsupported("UTF-32LE") }
        if b.starts(with: [0x00, 0x00, 0xFE, 0xFF]) { return .unsupported("UTF-32BE") }
        if b.starts(with: [0xFF, 0xFE]) { return .unsupported("UTF-16LE") }
        if b.starts(with: [0xFE, 0xFF]) { return .unsupported("UTF-16BE") }
        guard b.count == 4 else { return .utf8 }
        let zero = b.map { $0 == 0 }
        switch (zero[0], zero[1], zero[2], zero[3]) {
        case (false, true, true, true): return .unsupported("UTF-32LE")
        case (true, true, true, false): return .unsupported("UTF-32BE")
        case (false, true, false, true): return .unsupported("UTF-16LE")
        case (true, false, true, false): return .unsupported("UTF-16BE")
        default: return .utf8
        }
    }
}
