import CLinux
import Glibc

/// A child process that dies with its parent. A parent that starts lmtool as a step (ablate)
/// puts its pid in the child's environment under `LMTOOL_PARENT_PID`; the child, at startup,
/// asks the kernel (`prctl(PR_SET_PDEATHSIG)`) for SIGTERM when that parent dies — killed with
/// SIGKILL included — and then checks the parent is still the one named (it may have died
/// before the request). A training child treats SIGTERM as "save and stop" (`StopRequest`).
///
///     // the parent
///     posix_spawn(&pid, exe, nil, &attributes, argv, ParentDeath.childEnvironment())
///     // the child, first thing in main
///     ParentDeath.applyFromEnvironment()
public enum ParentDeath {
    public static let environmentKey = "LMTOOL_PARENT_PID"

    /// This process's environment (`KEY=VALUE` strings) with `LMTOOL_PARENT_PID` set to our pid.
    public static func childEnvironment() -> [String] {
        var entries: [String] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if !s.hasPrefix(environmentKey + "=") { entries.append(s) }
            p += 1
        }
        return entries + ["\(environmentKey)=\(getpid())"]
    }

    /// If `LMTOOL_PARENT_PID` is set: SIGTERM to this process when that parent dies, at once if
    /// it is already gone. The variable is then removed, so processes this one starts do not
    /// take it as their own parent.
    public static func applyFromEnvironment() {
        guard let value = getenv(environmentKey) else { return }
        let parent = pid_t(String(cString: value))
        unsetenv(environmentKey)
        guard let parent, parent > 0 else { return }
        _ = lmtool_set_parent_death_signal(SIGTERM)
        if getppid() != parent { kill(getpid(), SIGTERM) }
    }
}
