// The FMA peak of one core in float32 GFLOP/s, with 256-bit (AVX2) and, where the CPU has them,
// 512-bit (AVX-512) fused multiply-adds: 12 independent accumulators (enough to hide the FMA
// latency on the machines BENCHMARKS.md names), no memory traffic. The ceiling the GEMM figures
// of `lmtool bench gemm` are measured against (BENCHMARKS.md, "The AVX-512 machine's peak").
//
//   gcc -O2 scripts/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak
//
// Each width is compiled for its own instruction set (target attributes) and run only where the
// CPU reports it, so the same binary runs on a CPU without AVX-512.
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

#define FMA12(REG)                                                                                  \
    __asm__ volatile(                                                                               \
        "vfmadd213ps %[y], %[x], %[a0]\n\t vfmadd213ps %[y], %[x], %[a1]\n\t"                       \
        "vfmadd213ps %[y], %[x], %[a2]\n\t vfmadd213ps %[y], %[x], %[a3]\n\t"                       \
        "vfmadd213ps %[y], %[x], %[a4]\n\t vfmadd213ps %[y], %[x], %[a5]\n\t"                       \
        "vfmadd213ps %[y], %[x], %[a6]\n\t vfmadd213ps %[y], %[x], %[a7]\n\t"                       \
        "vfmadd213ps %[y], %[x], %[a8]\n\t vfmadd213ps %[y], %[x], %[a9]\n\t"                       \
        "vfmadd213ps %[y], %[x], %[a10]\n\t vfmadd213ps %[y], %[x], %[a11]\n\t"                     \
        : [a0] "+" REG(a0), [a1] "+" REG(a1), [a2] "+" REG(a2), [a3] "+" REG(a3), [a4] "+" REG(a4), \
          [a5] "+" REG(a5), [a6] "+" REG(a6), [a7] "+" REG(a7), [a8] "+" REG(a8), [a9] "+" REG(a9), \
          [a10] "+" REG(a10), [a11] "+" REG(a11)                                                    \
        : [x] REG(x), [y] REG(y))

#define RUN(TYPE, SET1, REG, LANES, NAME)                                                           \
    do {                                                                                            \
        TYPE x = SET1(1.0000001f), y = SET1(-1e-7f);                                                \
        TYPE a0 = SET1(1), a1 = SET1(2), a2 = SET1(3), a3 = SET1(4), a4 = SET1(5), a5 = SET1(6);    \
        TYPE a6 = SET1(7), a7 = SET1(8), a8 = SET1(9), a9 = SET1(10), a10 = SET1(11), a11 = SET1(12); \
        double best = 0;                                                                            \
        for (int round = 0; round < 3; round++) {                                                   \
            double t = now();                                                                       \
            for (long i = 0; i < iterations; i++) FMA12(REG);                                       \
            t = now() - t;                                                                          \
            double gflops = iterations * 12.0 * 2 * LANES / t / 1e9;                                \
            if (gflops > best) best = gflops;                                                       \
        }                                                                                           \
        float keep[LANES];                                                                          \
        TYPE sum = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11;                    \
        __builtin_memcpy(keep, &sum, sizeof keep);                                                  \
        printf("%-8s %6.1f GFLOP/s  (best of 3; checksum %g)\n", NAME, best, keep[0]);              \
    } while (0)

static const long iterations = 100000000;

__attribute__((target("avx2,fma"))) static void run256(void) { RUN(__m256, _mm256_set1_ps, "x", 8, "AVX2"); }

__attribute__((target("avx512f"))) static void run512(void) { RUN(__m512, _mm512_set1_ps, "v", 16, "AVX-512"); }

int main(void) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("no AVX2 and FMA on this CPU\n");
        return 0;
    }
    run256();
    if (__builtin_cpu_supports("avx512f")) {
        run512();
    } else {
        printf("AVX-512  not on this CPU\n");
    }
    return 0;
}
