import ArgumentParser
import Foundation
import NN

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Show the BLAS library, its kernel set (core type) and thread count.",
        discussion: """
            If the core type is Haswell on a CPU with AVX-512, matrix products run at about half \
            speed: check that OPENBLAS_CORETYPE is not set to a weaker value. --json prints the same \
            as one JSON object (keys lmtoolVersion, blasConfig, library, coreType, \
            coreTypeVariable, threads, warning; null where unset).
            """)

    @Flag(help: "Print JSON instead of text.")
    var json = false

    /// What `doctor --json` prints.
    struct Report: Encodable {
        var lmtoolVersion: String
        var blasConfig: String
        var library: String
        var coreType: String
        /// OPENBLAS_CORETYPE as set in the environment (null: unset).
        var coreTypeVariable: String?
        /// lmtool's compute threads (OpenBLAS runs one thread per call).
        var threads: Int
        /// The core type warning, if any (null: none).
        var warning: String?

        func encode(to encoder: Encoder) throws {
            enum Key: String, CodingKey { case lmtoolVersion, blasConfig, library, coreType, coreTypeVariable, threads, warning }
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(lmtoolVersion, forKey: .lmtoolVersion)
            try c.encode(blasConfig, forKey: .blasConfig)
            try c.encode(library, forKey: .library)
            try c.encode(coreType, forKey: .coreType)
            try c.encode(coreTypeVariable, forKey: .coreTypeVariable)   // null when unset, not absent
            try c.encode(threads, forKey: .threads)
            try c.encode(warning, forKey: .warning)
        }
    }

    func run() throws {
        let info = BLASRuntime.info
        let version = LMTool.configuration.version
        let warning = BLASRuntime.currentCoreTypeWarning
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let report = Report(lmtoolVersion: version, blasConfig: info.config, library: info.library, coreType: info.coreName,
                                coreTypeVariable: info.coreTypeVariable, threads: info.threads, warning: warning)
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        print("lmtool     \(version)")
        print("BLAS       \(info.config)")
        print("library    \(info.library)")
        print("core type  \(info.coreName) (OPENBLAS_CORETYPE=\(info.coreTypeVariable ?? "unset"))")
        print("threads    \(info.threads) (lmtool's worker pool; OpenBLAS runs one thread per call)")
        if let warning { print("warning    \(warning)") }
    }
}
