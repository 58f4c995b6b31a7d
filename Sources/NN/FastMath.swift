/// Fast, branch-free approximations of `tanh`, the logistic sigmoid and `exp` for Float.
///
/// libm's `tanhf`/`expf` cost ~60 ns per call on this machine and do not vectorize; these
/// functions are plain arithmetic plus selects, so loops over buffers auto-vectorize in release
/// builds (`-O`). Accuracy, measured against libm in `FastMathTests`:
///
/// - `FastMath.tanh`: absolute error < 1e-6 over all finite floats (rational 13/6 approximation
///   on [-7.9, 7.9], saturating to ±1 beyond, ±1 at ±infinity).
/// - `FastMath.sigmoid`: `0.5 * tanh(x / 2) + 0.5`, absolute error < 1e-6.
/// - `FastMath.exp`: relative error < 1e-6 on [-87.3, 88.7] (Cody–Waite range reduction and a
///   degree-6 polynomial); returns +infinity above 88.72, 0 below -87.33 (results that would be
///   subnormal are flushed to zero), 1 at 0.
///
/// NaN propagates through all three (a NaN input gives a NaN output).
///
///     let y = FastMath.tanh(0.5)          // 0.46211717
///     FastMath.sigmoid(out, x, count: n)   // out[i] = σ(x[i]), vectorized
public enum FastMath {
    /// How a kernel multiplies and adds: `fused` multiply-adds (one rounding) or a `separate`
    /// multiply and add. Results differ in the last bits, so both are tested.
    public enum Accumulation: Sendable {
        case fused
        case separate

        /// `fused` in builds for FMA hardware (`-DLMTOOL_FMA`, which `make build` adds on AVX2 +
        /// FMA CPUs), else `separate`: without FMA instructions a fused multiply-add is a slow
        /// libm `fmaf` call per lane.
        @inlinable
        public static var native: Accumulation {
#if LMTOOL_FMA
            .fused
#else
            .separate
#endif
        }
    }

    /// `a · b + c`, fused or not.
    @_transparent @usableFromInline
    static func multiplyAdd(_ a: Float, _ b: Float, _ c: Float, _ accumulation: Accumulation) -> Float {
        accumulation == .fused ? c.addingProduct(a, b) : a * b + c
    }

    /// `a · b + c` lane-wise, fused or not.
    @_transparent @usableFromInline
    static func multiplyAdd(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>, _ accumulation: Accumulation) -> SIMD8<Float> {
        accumulation == .fused ? c.addingProduct(a, b) : a * b + c
    }

    /// Inputs beyond ±clamp give tanh = ±(1 - 3e-7), rounded to ±1 in Float.
    @usableFromInline static let tanhClamp: Float = 7.90531110763549805

    /// Hyperbolic tangent, absolute error < 1e-6; saturates to ±1, NaN in → NaN out.
    @inlinable @inline(__always)
    public static func tanh(_ x: Float) -> Float {
        // Eigen's generic_fast_tanh_float: tanh(x) ≈ x·P(x²)/Q(x²) on the clamped input.
        let c = tanhClamp
        let xc = Swift.min(Swift.max(x, -c), c)  // NaN stays NaN (Swift's min/max keep the NaN in x)
        let x2 = xc * xc
        var p: Float = -2.76076847742355e-16
        p = p * x2 + 2.00018790482477e-13
        p = p * x2 + -8.60467152213735e-11
        p = p * x2 + 5.12229709037114e-08
        p = p * x2 + 1.48572235717979e-05
        p = p * x2 + 6.37261928875436e-04
        p = p * x2 + 4.89352455891786e-03
        p = p * xc
        var q: Float = 1.19825839466702e-06
        q = q * x2 + 1.18534705686654e-04
        q = q * x2 + 2.26843463243900e-03
        q = q * x2 + 4.89352518554385e-03
        return p / q
    }

    /// Logistic sigmoid 1 / (1 + e^-x) as 0.5·tanh(x/2) + 0.5, absolute error < 1e-6.
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Float) -> Float {
        0.5 * tanh(0.5 * x) + 0.5
    }

    /// The argument reduction every exponential here shares, for `xc` in [−87.34, 88.73]:
    /// `shifted` = 1.5·2^23 + n with n = round(xc / ln 2), the integer landing in the low mantissa
    /// bits (no Float→Int conversion, which would trap on NaN), and r = xc − n·ln2 in two
    /// pieces (Cody–Waite), |r| ≤ ln2 / 2; then e^xc = e^r · 2^n.
    @_transparent @usableFromInline
    static func reduce(_ xc: Float, _ accumulation: Accumulation) -> (shifted: Float, r: Float) {
        let magic: Float = 12_582_912
        let shifted = multiplyAdd(xc, 1.44269504088896341, magic, accumulation)
        let z = shifted - magic
        let r = multiplyAdd(z, -0.693359375, xc, accumulation)
        return (shifted, multiplyAdd(z, 2.12194440e-4, r, accumulation))
    }

    /// Lane-wise `reduce`.
    @_transparent @usableFromInline
    static func reduce(_ xc: SIMD8<Float>, _ accumulation: Accumulation) -> (shifted: SIMD8<Float>, r: SIMD8<Float>) {
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = multiplyAdd(xc, SIMD8(repeating: 1.44269504088896341), magic, accumulation)
        let z = shifted - magic
        let r = multiplyAdd(z, SIMD8(repeating: -0.693359375), xc, accumulation)
        return (shifted, multiplyAdd(z, SIMD8(repeating: 2.12194440e-4), r, accumulation))
    }

    /// e^x with relative error < 1e-6; +inf above 88.72, 0 below -87.33, NaN in → NaN out.
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(x, .native) }

    /// `exp` with the multiply-adds of its polynomial `fused` or `separate` (tests check both).
    @_transparent
    public static func exp(_ x: Float, _ accumulation: Accumulation) -> Float {
        let hi: Float = 88.72283
        let lo: Float = -87.33654
        let xc = Swift.min(Swift.max(x, lo), hi)
        let (shifted, r) = reduce(xc, accumulation)
        let n = Int32(bitPattern: shifted.bitPattern &- Float(12_582_912).bitPattern)
        let r2 = r * r
        var p: Float = 1.9875691500e-4
        p = multiplyAdd(p, r, 1.3981999507e-3, accumulation)
        p = multiplyAdd(p, r, 8.3334519073e-3, accumulation)
        p = multiplyAdd(p, r, 4.1665795894e-2, accumulation)
        p = multiplyAdd(p, r, 1.6666665459e-1, accumulation)
        p = multiplyAdd(p, r, 5.0000001201e-1, accumulation)
        p = multiplyAdd(p, r2, r, accumulation) + 1
        // 2^n built from bits; n is in [-126, 128] after clamping. Split so that n = 128 works.
        let half = n >> 1
        let s1 = Float(bitPattern: UInt32(bitPattern: (half &+ 127) &<< 23))
        let s2 = Float(bitPattern: UInt32(bitPattern: ((n &- half) &+ 127) &<< 23))
        let y = p * s1 * s2
        return x > hi ? .infinity : (x < lo ? 0 : y)
    }

    // MARK: Eight lanes at a time
    //
    // Explicit SIMD8 versions for fused kernels whose loops the compiler would not vectorize on
    // its own (several streams through pointers that might alias). Same formulas, same results
    // as the scalar functions, lane by lane.

    /// Lane-wise `tanh`, identical to the scalar function in every lane.
    @inlinable @inline(__always)
    public static func tanh(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let c = SIMD8<Float>(repeating: tanhClamp)
        // Selects keep NaN lanes NaN (comparisons with NaN are false).
        var xc = x.replacing(with: c, where: x .> c)
        xc = xc.replacing(with: -c, where: xc .< -c)
        let x2 = xc * xc
        var p = SIMD8<Float>(repeating: -2.76076847742355e-16)
        p = p * x2 + 2.00018790482477e-13
        p = p * x2 + -8.60467152213735e-11
        p = p * x2 + 5.12229709037114e-08
        p = p * x2 + 1.48572235717979e-05
        p = p * x2 + 6.37261928875436e-04
        p = p * x2 + 4.89352455891786e-03
        p = p * xc
        var q = SIMD8<Float>(repeating: 1.19825839466702e-06)
        q = q * x2 + 1.18534705686654e-04
        q = q * x2 + 2.26843463243900e-03
        q = q * x2 + 4.89352518554385e-03
        return p / q
    }

    /// Lane-wise `sigmoid`, identical to the scalar function in every lane.
    @inlinable @inline(__always)
    public static func sigmoid(_ x: SIMD8<Float>) -> SIMD8<Float> {
        0.5 * tanh(0.5 * x) + 0.5
    }

    /// Lane-wise `exp`, identical to the scalar function in every lane.
    ///
    /// `@_transparent` (always inlined, also into other modules): with `@inline(__always)` the
    /// Swift 6.3 optimizer still called it out of line from the softmax loops (the call showed
    /// as ~24% of the tiny preset's evaluation profile).
    @_transparent
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> { exp(x, .native) }

    /// Lane-wise `exp(_:_:)`.
    @_transparent
    public static func exp(_ x: SIMD8<Float>, _ accumulation: Accumulation) -> SIMD8<Float> {
        let hi = SIMD8<Float>(repeating: 88.72283), lo = SIMD8<Float>(repeating: -87.33654)
        var xc = x.replacing(with: hi, where: x .> hi)
        xc = xc.replacing(with: lo, where: xc .< lo)
        let (p, n) = expReduced(xc, accumulation)
        let half = n &>> 1
        let s1 = unsafeBitCast((half &+ 127) &<< 23, to: SIMD8<Float>.self)
        let s2 = unsafeBitCast(((n &- half) &+ 127) &<< 23, to: SIMD8<Float>.self)
        var y = p * s1 * s2
        y = y.replacing(with: .infinity, where: x .> hi)
        return y.replacing(with: 0, where: x .< lo)
    }

    /// The shared middle of the SIMD8 exponentials, for `xc` already clamped to [-87.34, 88.73]:
    /// `e^xc = p · 2^n` with n = round(xc / ln 2) and p = e^r on |r| ≤ ln2 / 2 (`reduce` explains
    /// the reduction).
    @_transparent @usableFromInline
    static func expReduced(_ xc: SIMD8<Float>, _ accumulation: Accumulation) -> (p: SIMD8<Float>, n: SIMD8<Int32>) {
        let (shifted, r) = reduce(xc, accumulation)
        let n = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- SIMD8<Int32>(repeating: Int32(bitPattern: Float(12_582_912).bitPattern))
        let r2 = r * r
        var p = SIMD8<Float>(repeating: 1.9875691500e-4)
        p = multiplyAdd(p, r, SIMD8(repeating: 1.3981999507e-3), accumulation)
        p = multiplyAdd(p, r, SIMD8(repeating: 8.3334519073e-3), accumulation)
        p = multiplyAdd(p, r, SIMD8(repeating: 4.1665795894e-2), accumulation)
        p = multiplyAdd(p, r, SIMD8(repeating: 1.6666665459e-1), accumulation)
        p = multiplyAdd(p, r, SIMD8(repeating: 5.0000001201e-1), accumulation)
        return (multiplyAdd(p, r2, r, accumulation) + 1, n)
    }

    // MARK: Softmax terms
    //
    // A softmax (or a log-sum-exp) exponentiates x − max(x) ≤ 0 and only ever adds the results
    // to a sum that holds the largest term, e^0 = 1. There `exp`'s full range and its last ulp
    // of accuracy buy nothing, and its instructions were ~18% of the tiny LM's evaluation.

    /// The polynomial's coefficients c1...c5 (p(r) = 1 + c1·r + ... + c5·r⁵ ≈ e^r on
    /// |r| ≤ ln2 / 2, relative error 9.5e-8): minimax for the relative error, fitted by
    /// scripts/fit_softmax_exp.py, which also replays the whole computation in float32.
    @usableFromInline static let softmaxExpCoefficients: (Float, Float, Float, Float, Float) =
        (0.9999997019767761, 0.4999915063381195, 0.1666763573884964, 0.04189793020486832, 0.008290315046906471)

    /// e^x for x ≤ 0 as a softmax term: relative error ≤ 2.5e-7 (~2 ulp) on [−87, 0], exactly 1
    /// at 0, 0 below −87 (−∞ included; e^−87 ≈ 1.6e-38 vanishes beside the row's largest
    /// term), NaN stays NaN. Arguments > 0 give meaningless results. A fifth fewer instructions
    /// than `exp` and a shorter dependency chain: a degree-5 polynomial in Estrin's form, no
    /// overflow side, 2^n read from the bits of the rounding step.
    @_transparent
    public static func softmaxExp(_ x: Float, _ accumulation: Accumulation = .native) -> Float {
        let xc = x < -87 ? -87 : x  // NaN stays (the comparison is false)
        let (shifted, r) = reduce(xc, accumulation)
        // p = (1 + c1·r) + r²·((c2 + c3·r) + r²·(c4 + c5·r)) (Estrin: three multiply-adds deep
        // instead of Horner's five; the loops are latency-bound, ~10% faster).
        let c = softmaxExpCoefficients, r2 = r * r
        let q0 = multiplyAdd(r, c.0, 1, accumulation)
        let q1 = multiplyAdd(r, c.2, c.1, accumulation)
        let q2 = multiplyAdd(r, c.4, c.3, accumulation)
        let p = multiplyAdd(multiplyAdd(q2, r2, q1, accumulation), r2, q0, accumulation)
        // 2^n for n in [−126, 0]: the low 9 bits of shifted's bits are n's (two's complement),
        // so (bits + 127) << 23 keeps exactly the biased exponent n + 127.
        let y = p * Float(bitPattern: (shifted.bitPattern &+ 127) &<< 23)
        return x < -87 ? 0 : y
    }

    /// Lane-wise `softmaxExp`, identical to the scalar function in every lane.
    @_transparent
    public static func softmaxExp(_ x: SIMD8<Float>, _ accumulation: Accumulation = .native) -> SIMD8<Float> {
        let lo = SIMD8<Float>(repeating: -87)
        let xc = x.replacing(with: lo, where: x .< lo)
        let (shifted, r) = reduce(xc, accumulation)
        let c = softmaxExpCoefficients, r2 = r * r
        let q0 = multiplyAdd(r, SIMD8(repeating: c.0), SIMD8(repeating: 1), accumulation)
        let q1 = multiplyAdd(r, SIMD8(repeating: c.2), SIMD8(repeating: c.1), accumulation)
        let q2 = multiplyAdd(r, SIMD8(repeating: c.4), SIMD8(repeating: c.3), accumulation)
        let p = multiplyAdd(multiplyAdd(q2, r2, q1, accumulation), r2, q0, accumulation)
        let bits = unsafeBitCast(shifted, to: SIMD8<UInt32>.self)
        let y = p * unsafeBitCast((bits &+ 127) &<< 23, to: SIMD8<Float>.self)
        // (The mask's second use also lets the clamp above compile to one vmaxps: used once,
        // Swift 6.3 packed and unpacked it around a vblendvps, seven instructions.)
        return y.replacing(with: 0, where: x .< lo)
    }

    /// Loads eight floats from `p` (no alignment needed).
    @inlinable @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    /// Stores eight floats to `p` (no alignment needed).
    @inlinable @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }

    /// `output[i] = tanh(input[i])` for `i < count`; `output` may equal `input`.
    @inlinable
    public static func tanh(_ output: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { output[i] = tanh(input[i]) }
    }

    /// `output[i] = sigmoid(input[i])` for `i < count`; `output` may equal `input`.
    @inlinable
    public static func sigmoid(_ output: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { output[i] = sigmoid(input[i]) }
    }

    /// `output[i] = exp(input[i])` for `i < count`; `output` may equal `input`.
    @inlinable
    public static func exp(_ output: UnsafeMutablePointer<Float>, _ input: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { output[i] = exp(input[i]) }
    }
}
