import Glibc
import Foundation
import Support

/// Turns corpus arguments (files and directories) into the list of files to read.
public enum CorpusFiles {
    /// File names that count as corpus files inside a directory: a text or JSONL extension,
    /// optionally followed by a compression extension, or a bare compression extension.
    static let textExtensions: Set<String> = ["txt", "text", "tokens", "raw", "jsonl", "json", "ndjson"]
    static let compressionExtensions: Set<String> = ["zst", "zstd", "gz"]

    static func looksLikeCorpusFile(_ name: String) -> Bool {
        if name.hasPrefix(".") { return false }
        let parts = name.lowercased().split(separator: ".").map(String.init)
        guard parts.count >= 2, let last = parts.last else { return false }
        if textExtensions.contains(last) || compressionExtensions.contains(last) { return true }
        return false
    }

    /// A directory entry that was not read, and why.
    public struct Skipped: Sendable, Equatable, CustomStringConvertible {
        public var path: String
        /// Why, e.g. "a FIFO".
        public var reason: String

        public var description: String {
            "\(escapeControlCharacters(path)): skipped, \(reason)" + (Skipped.notRegular.contains(reason) ? " (only regular files in a directory are read)" : "")
        }

        /// The reasons of entries with a corpus file's name that are not regular files.
        static let notRegular: Set<String> = ["a broken symbolic link", "cannot be read", "a FIFO", "a socket", "a device", "not a regular file"]
        static let hidden = "a hidden entry (its name starts with '.')"
        static let notCorpusName = "its name has no corpus file extension (.txt, .text, .tokens, .raw, .jsonl, .json, .ndjson, optionally + .zst, .zstd or .gz): give it as an argument to read it"
        static let linkedDirectory = "a symbolic link to a directory, not followed: give it as an argument to read it"
    }

    /// Expands `arguments`: a file stands for itself (whatever its name or kind: `-` for
    /// standard input, a pipe or FIFO named on purpose); a directory for the regular corpus
    /// files under it (recursively, hidden entries skipped), sorted by path so the order never
    /// depends on the file system.
    public static func expand(_ arguments: [String]) throws -> [String] {
        try expandReportingSkipped(arguments).files
    }

    /// Like `expand`, and also returns every entry of the directories that is not read, for the
    /// caller to tell the user (nothing is dropped silently): hidden entries; names without a
    /// corpus file extension (`part-00001`, `data.txt.bz2`); symbolic links to directories (not
    /// followed: no cycles, no file read twice); and entries with a corpus file's name that are
    /// not regular files (FIFOs, sockets, devices, broken links), as reading one could block
    /// forever. Real subdirectories are descended.
    public static func expandReportingSkipped(_ arguments: [String]) throws -> (files: [String], skipped: [Skipped]) {
        if arguments.isEmpty { throw CorpusError(file: "(arguments)", "no corpus path given") }
        var files: [String] = []
        var skipped: [Skipped] = []
        let fm = FileManager.default
        for argument in arguments {
            if argument == standardInputPath {
                files.append(argument)
                continue
            }
            var st = stat()
            guard stat(argument, &st) == 0 else {
                let code = errno
                throw CorpusError(file: argument, code == ENOENT ? "no such file or directory" : "cannot read: \(String(cString: strerror(code)))")
            }
            if st.st_mode & S_IFMT != S_IFDIR {
                files.append(argument)
                continue
            }
            // A directory given through a symbolic link is listed at its real path (the
            // enumerator does not follow links), its files named under the path given.
            let real = realpath(argument, nil).map { p in defer { free(p) }; return String(cString: p) } ?? argument
            guard let enumerator = fm.enumerator(atPath: real) else {
                throw CorpusError(file: argument, "cannot list the directory")
            }
            var found: [String] = []
            while let relative = enumerator.nextObject() as? String {
                let name = (relative as NSString).lastPathComponent
                let full = argument.hasSuffix("/") ? argument + relative : argument + "/" + relative
                if name.hasPrefix(".") {
                    enumerator.skipDescendants()
                    skipped.append(Skipped(path: full, reason: Skipped.hidden))
                    continue
                }
                var entry = stat(), link = stat()
                let target = stat(full, &entry) == 0
                if target && entry.st_mode & S_IFMT == S_IFDIR {
                    // A real directory is descended by the enumerator; a link to one is not.
                    if lstat(full, &link) == 0 && link.st_mode & S_IFMT == S_IFLNK {
                        skipped.append(Skipped(path: full, reason: Skipped.linkedDirectory))
                    }
                    continue
                }
                guard looksLikeCorpusFile(name) else {
                    skipped.append(Skipped(path: full, reason: Skipped.notCorpusName))
                    continue
                }
                if !target {
                    skipped.append(Skipped(path: full, reason: lstat(full, &entry) == 0 ? "a broken symbolic link" : "cannot be read"))
                    continue
                }
                switch entry.st_mode & S_IFMT {
                case S_IFREG: found.append(full)
                case S_IFIFO: skipped.append(Skipped(path: full, reason: "a FIFO"))
                case S_IFSOCK: skipped.append(Skipped(path: full, reason: "a socket"))
                case S_IFCHR, S_IFBLK: skipped.append(Skipped(path: full, reason: "a device"))
                default: skipped.append(Skipped(path: full, reason: "not a regular file"))
                }
            }
            if found.isEmpty {
                throw CorpusError(file: argument, "no corpus files in this directory (expected regular files with names ending in .txt, .tokens, .raw, .jsonl, .json, optionally + .zst or .gz)")
            }
            files.append(contentsOf: found.sorted())
        }
        return (files, skipped.sorted { $0.path < $1.path })
    }
}
