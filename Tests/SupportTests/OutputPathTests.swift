import Foundation
import XCTest
@testable import Support

/// Where `AtomicFile` writes: through devices, FIFOs and open descriptors (never renamed
/// over), through symbolic links to the file they name (the link stays).
final class OutputPathTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("outpath-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: directory) }

    func listing(_ path: String) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }

    func fileType(_ path: String) -> mode_t {
        var st = stat()
        XCTAssertEqual(lstat(path, &st), 0, path)
        return st.st_mode & S_IFMT
    }

    /// A character device with /dev/null's numbers (1, 3): written through, still the device after.
    func testDeviceNodeIsWrittenThroughNotReplaced() throws {
        let null = directory + "/null"
        // glibc's makedev(1, 3) for small numbers: major << 8 | minor.
        guard mknod(null, S_IFCHR | 0o666, 1 << 8 | 3) == 0 else {
            throw XCTSkip("mknod failed (\(String(cString: strerror(errno)))): creating a device node needs root")
        }
        try AtomicFile.write(to: null) { sink in
            try sink.write("discarded\n")
            try sink.write([UInt8](repeating: 7, count: 200_000))
        }
        var st = stat()
        XCTAssertEqual(lstat(null, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFCHR, "still a character device")
        XCTAssertEqual(st.st_rdev, 1 << 8 | 3)
        XCTAssertEqual(try listing(directory), ["null"], "no temporary file left beside it")
        XCTAssertTrue(AtomicFile.isStream(null))
    }

    /// A FIFO with a reader: the reader gets every byte, the FIFO stays a FIFO.
    func testFIFOIsWrittenThroughToItsReader() throws {
        let fifo = directory + "/pipe"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        final class Received: @unchecked Sendable { var data = Data() }
        let received = Received()
        let done = DispatchSemaphore(value: 0)
        let reader = Thread {
            received.data = FileHandle(forReadingAtPath: fifo)?.readDataToEndOfFile() ?? Data()
            done.signal()
        }
        reader.start()
        let payload = Array("through the pipe\n".utf8) + [UInt8](repeating: 65, count: 150_000)
        try AtomicFile.write(payload, to: fifo)
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success, "the reader never saw the end of the data")
        XCTAssertEqual(received.data, Data(payload))
        XCTAssertEqual(fileType(fifo), S_IFIFO)
        XCTAssertEqual(try listing(directory), ["pipe"])
    }

    /// `/dev/fd/N` is the open descriptor N (as `-` and `/dev/stdout` are 1): written at its
    /// offset, left open.
    func testDescriptorPathWritesToTheOpenDescriptor() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        try AtomicFile.write(Array("to the descriptor\n".utf8), to: "/dev/fd/\(fds[1])")
        XCTAssertNotEqual(fcntl(fds[1], F_GETFD), -1, "the descriptor stays open")
        close(fds[1])
        let data = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile()
        XCTAssertEqual(String(decoding: data, as: UTF8.self), "to the descriptor\n")
        for stdout in ["-", "/dev/stdout", "/proc/self/fd/1"] { XCTAssertTrue(AtomicFile.isStream(stdout), stdout) }
        XCTAssertFalse(AtomicFile.isStream(directory + "/plain.txt"))
    }

    /// A symbolic link: its target is replaced atomically in the target's own folder, the link
    /// is left as it was (also a link into another folder, a chain of links, a dangling link).
    func testSymbolicLinkKeepsTheLinkAndReplacesItsTarget() throws {
        try FileManager.default.createDirectory(atPath: directory + "/elsewhere", withIntermediateDirectories: true)
        let target = directory + "/elsewhere/vocab.txt"
        try AtomicFile.write(Array("old\n".utf8), to: target)
        XCTAssertEqual(symlink("elsewhere/vocab.txt", directory + "/link"), 0)
        XCTAssertEqual(symlink("link", directory + "/link2"), 0)

        try AtomicFile.write(Array("new\n".utf8), to: directory + "/link")
        XCTAssertEqual(fileType(directory + "/link"), S_IFLNK, "the link is still a link")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: directory + "/link"), "elsewhere/vocab.txt")
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "new\n")

        try AtomicFile.write(Array("newer\n".utf8), to: directory + "/link2")
        XCTAssertEqual(fileType(directory + "/link2"), S_IFLNK)
        XCTAssertEqual(fileType(directory + "/link"), S_IFLNK)
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "newer\n")
        XCTAssertEqual(try listing(directory + "/elsewhere"), ["vocab.txt"], "no temporary file left")

        XCTAssertEqual(symlink("elsewhere/created.txt", directory + "/dangling"), 0)
        try AtomicFile.write(Array("created\n".utf8), to: directory + "/dangling")
        XCTAssertEqual(fileType(directory + "/dangling"), S_IFLNK)
        XCTAssertEqual(try String(contentsOfFile: directory + "/elsewhere/created.txt", encoding: .utf8), "created\n")
        XCTAssertEqual(try listing(directory), ["dangling", "elsewhere", "link", "link2"])
    }

    /// Replacing a file keeps its permission bits (a new file gets 0644).
    func testReplacingKeepsThePermissions() throws {
        let path = directory + "/secret.txt"
        try AtomicFile.write(Array("a".utf8), to: path)
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o644)
        XCTAssertEqual(chmod(path, 0o600), 0)
        try AtomicFile.write(Array("b".utf8), to: path)
        XCTAssertEqual(stat(path, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600)
    }

    func testADirectoryIsAnError() {
        XCTAssertThrowsError(try AtomicFile.write([1], to: directory)) { error in
            XCTAssertEqual("\(error)", directory + ": is a directory")
        }
    }
}
