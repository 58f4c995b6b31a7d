#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

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

/// Reads a file with POSIX `read`, in the caller's buffer; the file is closed on deinit.
public final class FileByteSource: ByteSource {
    public let path: String
    private let fd: Int32
    /// Bytes read so far (the offset of the next byte in the file).
    public private(set) var offset = 0

    public init(path: String) throws {
        self.path = path
        var st = stat()
        if stat(path, &st) != 0 {
            throw CorpusError(file: path, errno == ENOENT ? "no such file or directory" : "cannot read: \(String(cString: strerror(errno)))")
        }
        if st.st_mode & S_IFMT == S_IFDIR { throw CorpusError(file: path, "is a directory") }
        fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw CorpusError(file: path, "cannot open: \(String(cString: strerror(errno)))") }
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)
    }

    deinit { close(fd) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 {
                offset += n
                return n
            }
            if errno == EINTR { continue }
            throw CorpusError(file: path, position: .byte(offset), "read error: \(String(cString: strerror(errno)))")
        }
    }
}

/// Opens `path` and returns a source of its (decompressed) bytes, with the compression
/// detected from the first bytes: `data.txt`, `data.txt.zst` and a gzip file misnamed `.zst` all
/// just work.
public func openByteSource(path: String) throws -> (source: ByteSource, compression: Compression) {
    let head: [UInt8] = try {
        let probe = try FileByteSource(path: path)
        var bytes = [UInt8](repeating: 0, count: 4)
        var filled = 0
        while filled < 4 {
            let n = try bytes.withUnsafeMutableBytes { try probe.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
            if n == 0 { break }
            filled += n
        }
        return Array(bytes.prefix(filled))
    }()
    let compression = Compression.detect(head)
    let file = try FileByteSource(path: path)
    switch compression {
    case .none: return (file, .none)
    case .zstd: return (try ZstdByteSource(file), .zstd)
    case .gzip: return (try GzipByteSource(file), .gzip)
    }
}
