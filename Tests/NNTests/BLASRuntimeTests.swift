import XCTest
@testable import NN

final class BLASRuntimeTests: XCTestCase {
    let avx512: Set<String> = ["fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"]

    func testRestartsOnlyOnAVX512WithoutUserSettingOrGuard() {
        XCTAssertEqual(BLASRuntime.coreTypeDecision(cpuFlags: avx512, environment: [:], currentCore: "Haswell"),
                       .reexec(coreType: "SkylakeX"))
        // Never override the user's choice.
        XCTAssertEqual(BLASRuntime.coreTypeDecision(cpuFlags: avx512, environment: ["OPENBLAS_CORETYPE": "Haswell"],
                                                    currentCore: "Haswell"),
                       .keep(reason: "OPENBLAS_CORETYPE is set to Haswell by the user"))
        // The guard stops a loop.
        guard case .keep = BLASRuntime.coreTypeDecision(cpuFlags: avx512, environment: [BLASRuntime.guardVariable: "1"],
                                                        currentCore: "Haswell")
        else { return XCTFail("restarted despite the guard") }
        // One missing flag (avx512bw) is enough to stay.
        XCTAssertEqual(BLASRuntime.coreTypeDecision(cpuFlags: avx512.subtracting(["avx512bw"]), environment: [:],
                                                    currentCore: "Haswell"),
                       .keep(reason: "CPU lacks avx512bw"))
        // Nothing to gain if OpenBLAS already uses AVX-512 kernels.
        guard case .keep = BLASRuntime.coreTypeDecision(cpuFlags: avx512, environment: [:], currentCore: "SkylakeX")
        else { return XCTFail("restarted although SkylakeX is in use") }
    }

    func testWarnsOnlyWhenTheUsersCoreTypeWastesAVX512() {
        let forced = ["OPENBLAS_CORETYPE": "Haswell"]
        let warning = BLASRuntime.coreTypeWarning(cpuFlags: avx512, environment: forced, currentCore: "Haswell")
        XCTAssertEqual(warning, "OPENBLAS_CORETYPE=Haswell keeps OpenBLAS on Haswell kernels although this CPU has AVX-512: "
                       + "matrix products run at about half speed; unset it to let lmtool choose")
        // No warning: the variable unset, an AVX-512 core chosen, or a CPU without AVX-512.
        XCTAssertNil(BLASRuntime.coreTypeWarning(cpuFlags: avx512, environment: [:], currentCore: "Haswell"))
        XCTAssertNil(BLASRuntime.coreTypeWarning(cpuFlags: avx512, environment: ["OPENBLAS_CORETYPE": "SkylakeX"], currentCore: "SkylakeX"))
        XCTAssertNil(BLASRuntime.coreTypeWarning(cpuFlags: ["fma", "avx2"], environment: forced, currentCore: "Haswell"))
    }

    func testCPUFlagsParsing() {
        let text = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx512f avx512bw\nbugs\t\t: none\n"
            + "processor\t: 1\nflags\t\t: fpu\n"
        XCTAssertEqual(BLASRuntime.cpuFlags(cpuinfo: text), ["fpu", "avx2", "avx512f", "avx512bw"])
        XCTAssertEqual(BLASRuntime.cpuFlags(cpuinfo: ""), [])
    }

    func testReexecReturnsWhenNotNeeded() throws {
        // In the test process either the CPU lacks AVX-512, or the variable/guard is set, or
        // OpenBLAS already uses SkylakeX: never restart a test runner.
        let env = BLASRuntime.environment()
        let flags = BLASRuntime.cpuFlags(cpuinfo: try BLASRuntime.readTextFile("/proc/cpuinfo"))
        let decision = BLASRuntime.coreTypeDecision(cpuFlags: flags, environment: env, currentCore: BLASRuntime.coreName)
        guard case .keep = decision else { throw XCTSkip("this machine would restart the test runner: \(decision)") }
        XCTAssertEqual(BLASRuntime.reexecWithBestCoreTypeIfNeeded(), decision)
    }

    /// OPENBLAS_NUM_THREADS wins over OMP_NUM_THREADS; values that are not a positive integer
    /// are ignored (as OpenBLAS ignores them), leaving the default.
    func testThreadsFromEnvironment() {
        XCTAssertEqual(BLASRuntime.threadsFromEnvironment(["OPENBLAS_NUM_THREADS": "3", "OMP_NUM_THREADS": "5"]), 3)
        XCTAssertEqual(BLASRuntime.threadsFromEnvironment(["OMP_NUM_THREADS": "5"]), 5)
        XCTAssertEqual(BLASRuntime.threadsFromEnvironment(["OPENBLAS_NUM_THREADS": "abc", "OMP_NUM_THREADS": "2"]), 2)
        XCTAssertNil(BLASRuntime.threadsFromEnvironment(["OPENBLAS_NUM_THREADS": "0"]))
        XCTAssertNil(BLASRuntime.threadsFromEnvironment(["OPENBLAS_NUM_THREADS": "-1"]))
        XCTAssertNil(BLASRuntime.threadsFromEnvironment([:]))
    }

    func testInfoAndThreads() {
        let info = BLASRuntime.info
        XCTAssertTrue(info.config.contains("OpenBLAS"), info.config)
        XCTAssertTrue(info.library.contains("blas"), info.library)
        XCTAssertFalse(info.coreName.isEmpty)
        let before = BLASRuntime.threads
        BLASRuntime.setThreads(1)
        XCTAssertEqual(BLASRuntime.threads, 1)
        XCTAssertEqual(BLASRuntime.info.threads, 1)
        XCTAssertTrue(BLASRuntime.info.description.contains("1 thread;"))
        BLASRuntime.setThreads(before)
    }

    func testGEMMBenchmarkOnSmallShapes() {
        let shapes = [GEMMBenchmark.Shape("tiny", .none, .transpose, m: 8, n: 16, k: 4),
                      GEMMBenchmark.Shape("tiny dW", .transpose, .none, m: 16, n: 4, k: 8)]
        let results = GEMMBenchmark.run(shapes, repeats: 2, minSecondsPerRepeat: 0.001)
        XCTAssertEqual(results.map(\.shape.name), ["tiny", "tiny dW"])
        XCTAssertEqual(shapes[0].flops, 2 * 8 * 16 * 4)
        XCTAssertEqual(shapes[0].form, "A·Bᵀ")
        XCTAssertEqual(shapes[1].form, "Aᵀ·B")
        for r in results {
            XCTAssertGreaterThan(r.seconds, 0)
            XCTAssertEqual(r.gflops, r.shape.flops / r.seconds / 1e9, accuracy: 1e-9)
            XCTAssertTrue(r.description.contains("GFLOP/s"))
        }
        // The LM shapes cover forward, Aᵀ·B and A·B forms of each product.
        XCTAssertEqual(Set(GEMMBenchmark.lmShapes.map(\.form)), ["A·Bᵀ", "Aᵀ·B", "A·B"])
        XCTAssertTrue(GEMMBenchmark.lmShapes.contains { $0.m == 700 && $0.n == 10_000 && $0.k == 200 })
        XCTAssertEqual(String(format1: 101.26), "101.3")
    }
}
