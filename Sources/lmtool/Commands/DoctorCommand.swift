import ArgumentParser
import NN

struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Show the BLAS library, its kernel set (core type) and thread count.",
        discussion: """
            If the core type is Haswell on a CPU with AVX-512, matrix products run at about half \
            speed: check that OPENBLAS_CORETYPE is not set to a weaker value.
            """)

    func run() throws {
        let info = BLASRuntime.info
        print("lmtool     \(LMTool.configuration.version)")
        print("BLAS       \(info.config)")
        print("library    \(info.library)")
        print("core type  \(info.coreName) (OPENBLAS_CORETYPE=\(info.coreTypeVariable ?? "unset"))")
        print("threads    \(info.threads) (lmtool's worker pool; OpenBLAS runs one thread per call)")
        if let warning = BLASRuntime.currentCoreTypeWarning { print("warning    \(warning)") }
    }
}
