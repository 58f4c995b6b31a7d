import CBLAS
import Glibc

/// Controls of the OpenBLAS library at run time: kernel choice, threads, and a description.
///
/// Debian's OpenBLAS 0.3.21 does not recognise AMD Zen 4/5 as AVX-512 capable and picks its
/// Haswell (AVX2) kernels; its SkylakeX kernels are about twice as fast there
/// (see docs/nn-core.md). OpenBLAS reads `OPENBLAS_CORETYPE` only when it is loaded, before
/// `main`, so the executable restarts itself once with the variable set:
///
///     @main struct LMTool {
///         static func main() {
///             BLASRuntime.reexecWithBestCoreTypeIfNeeded()   // first thing: may not return
///             BLASRuntime.applyDefaultThreads()
///             …
///         }
///     }
public enum BLASRuntime {
    /// Set in the restarted process so that it never restarts again.
    public static let guardVariable = "LMTOOL_BLAS_REEXEC"
    /// The CPU flags that OpenBLAS's SkylakeX kernels need.
    public static let avx512Flags: Set<String> = ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]
    /// The core names of OpenBLAS builds that already use AVX-512 kernels.
    static let avx512Cores: Set<String> = ["skylakex", "cooperlake", "sapphirerapids"]

    /// The thread count used unless the user sets `OPENBLAS_NUM_THREADS` (or `OMP_NUM_THREADS`):
    /// one per online processor. Measured on the language model's shapes (BENCHMARKS.md,
    /// docs/nn-core.md): on an otherwise idle 2-core machine two threads run the LM at ~1.6-1.9x
    /// one thread; on a machine busy with other work they can be slower, so there set
    /// `OPENBLAS_NUM_THREADS=1` (or `--threads 1` where a command offers it).
    public static var defaultThreads: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// What `reexecWithBestCoreTypeIfNeeded` decided.
    public enum CoreTypeDecision: Equatable, Sendable {
        /// Restart with `OPENBLAS_CORETYPE` set to this value.
        case reexec(coreType: String)
        /// Keep running as is, for this reason.
        case keep(reason: String)
    }

    /// The decision, from the CPU's flags, the environment and the core OpenBLAS picked.
    /// Pure, so that it can be tested on any machine.
    public static func coreTypeDecision(cpuFlags: Set<String>, environment: [String: String],
                                        currentCore: String) -> CoreTypeDecision {
        if let set = environment["OPENBLAS_CORETYPE"] {
            return .keep(reason: "OPENBLAS_CORETYPE is set to \(set) by the user")
        }
        if environment[guardVariable] != nil {
            return .keep(reason: "already restarted once (\(guardVariable) is set)")
        }
        let missing = avx512Flags.subtracting(cpuFlags)
        if !missing.isEmpty {
            return .keep(reason: "CPU lacks \(missing.sorted().joined(separator: ", "))")
        }
        if avx512Cores.contains(currentCore.lowercased()) {
            return .keep(reason: "OpenBLAS already uses \(currentCore) kernels")
        }
        return .reexec(coreType: "SkylakeX")
    }

    /// A warning for `lmtool doctor` when the user's `OPENBLAS_CORETYPE` keeps OpenBLAS on kernels
    /// without AVX-512 on a CPU that has it (GEMM then runs at about half speed: BENCHMARKS.md);
    /// nil otherwise. Pure, like `coreTypeDecision`.
    public static func coreTypeWarning(cpuFlags: Set<String>, environment: [String: String],
                                       currentCore: String) -> String? {
        guard let set = environment["OPENBLAS_CORETYPE"], avx512Flags.isSubset(of: cpuFlags),
              !avx512Cores.contains(currentCore.lowercased()) else { return nil }
        return "OPENBLAS_CORETYPE=\(set) keeps OpenBLAS on \(currentCore) kernels although this CPU has AVX-512: "
            + "matrix products run at about half speed; unset it to let lmtool choose"
    }

    /// `coreTypeWarning` for this machine, its environment and the kernels OpenBLAS loaded.
    public static var currentCoreTypeWarning: String? {
        coreTypeWarning(cpuFlags: cpuFlags, environment: environment(), currentCore: coreName)
    }

    /// The flags of this machine's first processor (empty when /proc/cpuinfo is unreadable).
    static var cpuFlags: Set<String> { cpuFlags(cpuinfo: (try? readTextFile("/proc/cpuinfo")) ?? "") }

    /// The flags of the first processor in a `/proc/cpuinfo` text.
    public static func cpuFlags(cpuinfo: String) -> Set<String> {
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }

    /// Restarts the process with `OPENBLAS_CORETYPE=SkylakeX` if the CPU has AVX-512, the user
    /// has not set the variable, OpenBLAS did not already pick AVX-512 kernels, and the process
    /// was not restarted before. On success it does not return. Every failure (no
    /// /proc/cpuinfo, `execv` failing) falls back to returning the decision and running on.
    @discardableResult
    public static func reexecWithBestCoreTypeIfNeeded() -> CoreTypeDecision {
        let decision = coreTypeDecision(cpuFlags: cpuFlags, environment: environment(),
                                        currentCore: coreName)
        guard case .reexec(let coreType) = decision else { return decision }
        setenv("OPENBLAS_CORETYPE", coreType, 1)
        setenv(guardVariable, "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Still here: execv failed. Undo, and run on with the kernels already loaded.
        let reason = "execv failed: \(String(cString: strerror(errno)))"
        unsetenv("OPENBLAS_CORETYPE")
        unsetenv(guardVariable)
        return .keep(reason: reason)
    }

    /// Sets the number of threads lmtool computes on (`WorkerPool.shared`, which splits large
    /// GEMMs and runs the LSTM's time loop); OpenBLAS itself is kept at one thread per call, so
    /// that two thread systems never compete for the same cores.
    public static func setThreads(_ n: Int) {
        precondition(n >= 1, "BLASRuntime.setThreads: need at least one thread")
        WorkerPool.shared.threads = n
        openblas_set_num_threads(1)
    }

    /// The thread count lmtool computes on.
    public static var threads: Int { WorkerPool.shared.threads }

    /// Sets the thread count from `OPENBLAS_NUM_THREADS` or `OMP_NUM_THREADS` when the user set
    /// one (a positive integer), else `defaultThreads`.
    public static func applyDefaultThreads() {
        setThreads(threadsFromEnvironment(environment()) ?? defaultThreads)
    }

    /// The thread count the environment asks for, if any.
    static func threadsFromEnvironment(_ env: [String: String]) -> Int? {
        for name in ["OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"] {
            if let v = env[name], let n = Int(v), n >= 1 { return n }
        }
        return nil
    }

    /// The kernel set OpenBLAS chose, e.g. "Haswell" or "SkylakeX".
    public static var coreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

    /// A description of the BLAS library in use.
    public struct Info: Sendable, CustomStringConvertible {
        /// The shared library file, resolved through symlinks (Debian's alternatives).
        public let library: String
        /// `openblas_get_config()`, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64".
        public let config: String
        /// `openblas_get_corename()`.
        public let coreName: String
        /// The thread count in force.
        public let threads: Int
        /// `OPENBLAS_CORETYPE` as set in the environment, if any.
        public let coreTypeVariable: String?

        public var description: String {
            "\(config); core \(coreName); \(threads) thread\(threads == 1 ? "" : "s"); "
                + "OPENBLAS_CORETYPE=\(coreTypeVariable ?? "(unset)"); \(library)"
        }
    }

    /// The BLAS library in use now.
    public static var info: Info {
        Info(library: libraryPath(), config: openblas_get_config().map { String(cString: $0) } ?? "unknown",
             coreName: coreName, threads: threads, coreTypeVariable: environment()["OPENBLAS_CORETYPE"])
    }

    /// The mapped OpenBLAS (or other BLAS) shared library, from `/proc/self/maps`, resolved
    /// through symlinks (Debian's alternatives).
    static func libraryPath() -> String {
        guard let maps = try? readTextFile("/proc/self/maps") else { return "unknown" }
        for line in maps.split(separator: "\n") {
            guard let slash = line.firstIndex(of: "/") else { continue }
            let path = String(line[slash...])
            let file = path.split(separator: "/").last.map(String.init) ?? ""
            guard file.hasPrefix("libopenblas") || file.hasPrefix("libblas") || file.hasPrefix("libblis") else { continue }
            guard let resolved = realpath(path, nil) else { return path }
            defer { free(resolved) }
            return String(cString: resolved)
        }
        return "unknown"
    }

    static func environment() -> [String: String] {
        var env: [String: String] = [:]
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
            p += 1
        }
        return env
    }

    static func readTextFile(_ path: String) throws -> String {
        guard let f = fopen(path, "r") else { throw CheckpointError("cannot open \(path)") }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
