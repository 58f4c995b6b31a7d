import Glibc

/// Seconds on the monotonic clock (`CLOCK_MONOTONIC`): for durations and rates, never for dates.
public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
