import Glibc
import Foundation

/// Real pipes for the readers' tests: bytes are written by another thread while the reader runs,
/// so a reader that opens its input twice, seeks or expects a size fails as it would on
/// `cat file | lmtool ...`.
public enum PipeFeeder {
    public struct Failure: Error { public var message: String }

    /// Calls `body` with `/dev/fd/N`, the read end of a pipe (as `<(...)` gives a command), while
    /// a thread writes `bytes` into it and closes it.
    public static func withPipe<R>(_ bytes: [UInt8], _ body: (String) throws -> R) throws -> R {
        signal(SIGPIPE, SIG_IGN)   // a reader that stops early must not kill the test process
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw Failure(message: "pipe: \(String(cString: strerror(errno)))") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        let finished = DispatchSemaphore(value: 0)
        let writeEnd = fds[1]
        Thread {
            writeAll(writeEnd, bytes)
            close(writeEnd)
            finished.signal()
        }.start()
        defer {
            close(fds[0])
            finished.wait()
        }
        return try body("/dev/fd/\(fds[0])")
    }

    /// Calls `body` with the path of a FIFO made at `path` (in the test's directory), while a
    /// thread opens it for writing, writes `bytes` and closes it.
    ///
    /// A reader that opens the FIFO a second time would wait forever for another writer; the
    /// thread then keeps opening and closing the write end, so that such a reader sees an empty
    /// stream and the test fails instead of hanging.
    public static func withFIFO<R>(at path: String, _ bytes: [UInt8], _ body: (String) throws -> R) throws -> R {
        signal(SIGPIPE, SIG_IGN)
        guard mkfifo(path, 0o600) == 0 else { throw Failure(message: "mkfifo \(path): \(String(cString: strerror(errno)))") }
        let finished = DispatchSemaphore(value: 0), stop = DispatchSemaphore(value: 0)
        Thread {
            let fd = open(path, O_WRONLY | O_CLOEXEC)   // waits for the reader
            if fd >= 0 {
                writeAll(fd, bytes)
                close(fd)
            }
            while stop.wait(timeout: .now() + 0.05) == .timedOut {
                let again = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)   // succeeds only if a reader waits
                if again >= 0 { close(again) }
            }
            finished.signal()
        }.start()
        defer {
            stop.signal()
            // If the reader never opened the FIFO, a reader opened (and closed) here lets the
            // writer's open return; its writes then fail and it finishes.
            let unblock = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            if unblock >= 0 { close(unblock) }
            finished.wait()
        }
        return try body(path)
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        bytes.withUnsafeBytes { raw in
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                offset += n
            }
        }
    }
}
