import XCTest
import Support

final class EscapingTests: XCTestCase {
    func testControlCharactersAreEscapedAndOtherTextIsKept() {
        XCTAssertEqual(escapeControlCharacters("a\nb\rc\td\0e"), #"a\nb\rc\td\0e"#)
        XCTAssertEqual(escapeControlCharacters("bell\u{7} esc\u{1B} del\u{7F} nel\u{85} ls\u{2028}"),
                       #"bell\u{7} esc\u{1B} del\u{7F} nel\u{85} ls\u{2028}"#)
        let plain = #"runs/été 2026/C:\back\slash "quoted".txt"#
        XCTAssertEqual(escapeControlCharacters(plain), plain, "no control character: unchanged")
        XCTAssertEqual(escapeControlCharacters(escapeControlCharacters("x\ny")), escapeControlCharacters("x\ny"), "idempotent")
    }

    /// A file name with a newline (or a message quoting one) cannot break a FileError over two lines.
    func testFileErrorIsOneLineWhateverThePath() {
        let error = FileError(path: "/tmp/evil\nError: fake second line", message: "cannot open: No such file or directory")
        XCTAssertEqual(error.description, #"/tmp/evil\nError: fake second line: cannot open: No such file or directory"#)
        XCTAssertEqual(FileError(path: "a", message: "got \"x\ty\"").description, #"a: got "x\ty""#)
        XCTAssertEqual(FileError.posix("dir\r/f", "cannot open", errno: ENOENT).description, #"dir\r/f: cannot open: No such file or directory"#)
    }
}
