/// Finite-difference gradient checking for hand-written backward passes.
///
/// The checker perturbs one value at a time by ±`eps` and forms the central difference
/// `(L(x + eps) - L(x - eps)) / (2 eps)` of a scalar loss the caller computes in Double from a
/// Float forward pass (typically `sum(output * w)` with fixed random weights `w`, so that the
/// upstream gradient of the output is exactly `w`). Each analytic gradient entry `a` is compared
/// with its numeric estimate `n` and passes when `|a - n| <= atol + rtol * max(|a|, |n|)`.
///
///     let r = GradCheck.compare(values: weight, analytic: dweight) { w in
///         forwardLoss(weight: w)
///     }
///     XCTAssertTrue(r.passed, r.description)
public enum GradCheck {
    /// The outcome of comparing an analytic gradient against finite differences.
    public struct Result: CustomStringConvertible, Sendable {
        /// Number of entries compared.
        public var count: Int
        /// Entries outside the tolerance.
        public var failures: Int
        /// Largest `|analytic - numeric|`.
        public var maxAbsError: Double
        /// Index, analytic and numeric value of the worst entry (by excess over its tolerance).
        public var worstIndex: Int
        public var worstAnalytic: Double
        public var worstNumeric: Double
        /// Whether every entry is within tolerance (and at least one entry was compared).
        public var passed: Bool { failures == 0 && count > 0 }

        public var description: String {
            "gradcheck: \(failures)/\(count) outside tolerance, max abs error \(maxAbsError); "
                + "worst [\(worstIndex)] analytic \(worstAnalytic) numeric \(worstNumeric)"
        }
    }

    /// Central-difference gradient of `loss` with respect to every entry of `values`.
    public static func numericGradient(
        of values: [Float], eps: Float = 1e-2, loss: ([Float]) -> Double
    ) -> [Double] {
        var x = values
        var grad = [Double](repeating: 0, count: values.count)
        for i in 0..<values.count {
            let v = values[i]
            x[i] = v + eps
            let plus = loss(x)
            x[i] = v - eps
            let minus = loss(x)
            x[i] = v
            // Divide by the perturbation actually applied in Float.
            grad[i] = (plus - minus) / (Double(v + eps) - Double(v - eps))
        }
        return grad
    }

    /// Compares `analytic` with the central-difference gradient of `loss` at `values`.
    public static func compare(
        values: [Float], analytic: [Float], eps: Float = 1e-2,
        rtol: Double = 1e-2, atol: Double = 1e-3, loss: ([Float]) -> Double
    ) -> Result {
        precondition(values.count == analytic.count, "gradcheck: \(values.count) values but \(analytic.count) gradients")
        let numeric = numericGradient(of: values, eps: eps, loss: loss)
        var r = Result(count: values.count, failures: 0, maxAbsError: 0, worstIndex: -1, worstAnalytic: 0, worstNumeric: 0)
        var worstExcess = -Double.infinity
        for i in 0..<values.count {
            let a = Double(analytic[i]), n = numeric[i]
            let err = abs(a - n)
            let tol = atol + rtol * max(abs(a), abs(n))
            if !(err <= tol) { r.failures += 1 }
            r.maxAbsError = max(r.maxAbsError, err)
            if err - tol > worstExcess {
                worstExcess = err - tol
                r.worstIndex = i; r.worstAnalytic = a; r.worstNumeric = n
            }
        }
        return r
    }

    /// `sum(output[i] * weights[i])` accumulated in Double: the scalar loss whose gradient with
    /// respect to `output` is `weights`.
    public static func weightedSum(_ output: [Float], _ weights: [Float]) -> Double {
        precondition(output.count == weights.count, "gradcheck: output and weights differ in size")
        var s: Double = 0
        for i in 0..<output.count { s += Double(output[i]) * Double(weights[i]) }
        return s
    }
}
