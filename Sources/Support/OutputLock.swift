import Glibc
import Synchronization

/// One writer per output: a command that writes a run directory, a results directory or an
/// output file first takes this lock, and holds it until the process ends. A second process
/// asking for the same output gets a one-line error naming it and the holder's pid, instead of
/// both writing into it.
///
/// The lock is `flock(2)` on a hidden lock file beside the output: `.NAME.lock` in the folder
/// that holds `NAME` (`runs/.tiny.lock` for `runs/tiny`), so nothing is created inside a run
/// directory and a command that fails before it starts leaves no directory behind. The holder
/// writes its pid into the lock file. The kernel releases the lock when the holder exits or is
/// killed (even by SIGKILL), so a dead holder never blocks; the lock file is left in place
/// (removing it could let two processes hold locks on two different files).
///
///     try OutputLock.acquire("runs/tiny")   // at the start of `lmtool train --run runs/tiny`
///
/// Within one process the lock is re-entrant: acquiring an output again is a no-op. The
/// descriptor is close-on-exec, so child processes (ablate's steps) do not inherit the lock.
public enum OutputLock {
    /// The lock file of `path`: `.NAME.lock` beside it, after resolving symbolic links (two
    /// names of one directory share one lock).
    public static func lockFilePath(for path: String) -> String {
        let (directory, name) = splitPath(Destination.resolvedPath(path))
        return (directory == "/" ? "" : directory) + "/." + name + ".lock"
    }

    /// Locks `path` (a directory or a file, which need not exist yet) for the rest of the
    /// process, creating its parent folders if needed. Standard output, a device or a FIFO
    /// (written through, see `AtomicFile`) need no lock: nothing is done for them.
    ///
    /// - Throws: `FileError` naming `path` when another process holds the lock
    ///   (`runs/tiny: in use by another lmtool process (pid 4242; lock file runs/.tiny.lock)`),
    ///   or when the lock file cannot be created.
    public static func acquire(_ path: String) throws {
        if AtomicFile.isStream(path) { return }
        try makeDirectories(splitPath(path).directory)
        let lockPath = lockFilePath(for: path)
        try held.withLock { held in
            if let fd = held[lockPath], sameFile(fd, lockPath) { return }
            // Retry when the lock file was replaced between our open and our flock.
            for _ in 0..<10 {
                let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
                if fd < 0 { throw FileError.posix(lockPath, "cannot create the lock file") }
                while flock(fd, LOCK_EX | LOCK_NB) != 0 {
                    if errno == EINTR { continue }
                    let code = errno
                    let holder = readPid(fd)
                    close(fd)
                    if code == EWOULDBLOCK {
                        throw FileError(path: path, message: "in use by another lmtool process (\(holder.map { "pid \($0)" } ?? "pid unknown"); lock file \(lockPath))")
                    }
                    throw FileError.posix(lockPath, "cannot lock", errno: code)
                }
                guard sameFile(fd, lockPath) else {
                    close(fd)
                    continue
                }
                let pid = Array("\(getpid())\n".utf8)
                _ = ftruncate(fd, 0)
                _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, 0) }
                if let old = held[lockPath] { close(old) }
                held[lockPath] = fd
                return
            }
            throw FileError(path: lockPath, message: "cannot lock: the lock file keeps being replaced")
        }
    }

    /// The pid a lock file holds, if it holds one.
    private static func readPid(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, 0) }
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[..<n], as: UTF8.self).trimmingSpaces)
    }

    /// Whether `fd` is still the file at `path` (not removed or replaced since it was opened).
    private static func sameFile(_ fd: Int32, _ path: String) -> Bool {
        var a = stat(), b = stat()
        return fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    /// `mkdir -p`.
    private static func makeDirectories(_ path: String) throws {
        var st = stat()
        if stat(path, &st) == 0 { return }
        let parent = splitPath(path).directory
        if parent != path { try makeDirectories(parent) }
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw FileError.posix(path, "cannot create the directory") }
    }

    /// Lock file path → open descriptor holding its lock.
    private static let held = Mutex<[String: Int32]>([:])
}

private extension String {
    var trimmingSpaces: String {
        String(unicodeScalars.filter { $0 != " " && $0 != "\n" && $0 != "\t" })
    }
}
