import Foundation

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

    /// Expands `arguments`: a file stands for itself (whatever its name); a directory for the
    /// corpus files under it (recursively, hidden entries skipped), sorted by path so the order
    /// never depends on the file system.
    public static func expand(_ arguments: [String]) throws -> [String] {
        if arguments.isEmpty { throw CorpusError(file: "(arguments)", "no corpus path given") }
        var files: [String] = []
        let fm = FileManager.default
        for argument in arguments {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: argument, isDirectory: &isDirectory) else {
                throw CorpusError(file: argument, "no such file or directory")
            }
            if !isDirectory.boolValue {
                files.append(argument)
                continue
            }
            guard let enumerator = fm.enumerator(atPath: argument) else {
                throw CorpusError(file: argument, "cannot list the directory")
            }
            var found: [String] = []
            while let relative = enumerator.nextObject() as? String {
                let name = (relative as NSString).lastPathComponent
                if name.hasPrefix(".") {
                    enumerator.skipDescendants()
                    continue
                }
                let full = argument.hasSuffix("/") ? argument + relative : argument + "/" + relative
                var sub: ObjCBool = false
                if fm.fileExists(atPath: full, isDirectory: &sub), !sub.boolValue, looksLikeCorpusFile(name) {
                    found.append(full)
                }
            }
            if found.isEmpty {
                throw CorpusError(file: argument, "no corpus files in this directory (expected names ending in .txt, .tokens, .raw, .jsonl, .json, optionally + .zst or .gz)")
            }
            files.append(contentsOf: found.sorted())
        }
        return files
    }
}
