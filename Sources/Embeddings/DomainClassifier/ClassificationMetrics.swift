/// Accuracy, per-class precision/recall/F1, macro-F1 and the confusion matrix of a classifier's
/// predictions.
///
/// `confusion[i][j]` counts examples of true class i predicted as j (rows: truth, columns:
/// prediction). For class k, precision = `C[k][k] / Σ_i C[i][k]`, recall = `C[k][k] / Σ_j C[k][j]`,
/// F1 = `2PR / (P + R)`; a ratio with a zero denominator is 0 (as scikit-learn's
/// `zero_division=0`). Macro-F1 is the unweighted mean of F1 over the classes that occur as a
/// truth or a prediction; classes absent from both are left out (scikit-learn's
/// `f1_score(average="macro", labels=present)`).
///
///     var m = ClassificationMetrics(classes: ["a", "b"])
///     m.add(truth: 0, prediction: 0); m.add(truth: 1, prediction: 0)
///     m.accuracy   // 0.5
///     m.macroF1    // (2/3 + 0) / 2
public struct ClassificationMetrics: Codable, Equatable, Sendable {
    /// Class names, in label order.
    public var classes: [String]
    /// `[K][K]` counts, rows = truth, columns = prediction.
    public var confusion: [[Int]]

    public init(classes: [String]) {
        self.classes = classes
        confusion = Array(repeating: Array(repeating: 0, count: classes.count), count: classes.count)
    }

    /// Records one example.
    public mutating func add(truth: Int, prediction: Int) {
        confusion[truth][prediction] += 1
    }

    /// The number of examples recorded.
    public var total: Int { confusion.reduce(0) { $0 + $1.reduce(0, +) } }

    /// Fraction of examples predicted correctly (0 when empty).
    public var accuracy: Double {
        let n = total
        return n == 0 ? 0 : Double((0..<classes.count).reduce(0) { $0 + confusion[$1][$1] }) / Double(n)
    }

    /// Examples whose true class is k.
    public func support(_ k: Int) -> Int { confusion[k].reduce(0, +) }

    /// Examples predicted as k.
    public func predicted(_ k: Int) -> Int { confusion.reduce(0) { $0 + $1[k] } }

    public func precision(_ k: Int) -> Double { ratio(confusion[k][k], predicted(k)) }
    public func recall(_ k: Int) -> Double { ratio(confusion[k][k], support(k)) }
    public func f1(_ k: Int) -> Double {
        let p = precision(k), r = recall(k)
        return p + r == 0 ? 0 : 2 * p * r / (p + r)
    }

    /// Mean F1 over the classes present as truth or prediction.
    public var macroF1: Double {
        let present = (0..<classes.count).filter { support($0) > 0 || predicted($0) > 0 }
        return present.isEmpty ? 0 : present.reduce(0) { $0 + f1($1) } / Double(present.count)
    }

    private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }

    /// The confusion matrix as an aligned text table, with per-class recall, precision and F1.
    ///
    ///     truth \ predicted   fiction  poetry   recall  precision  F1
    ///     fiction                  48       2    0.960      0.923  0.941
    public func table() -> String {
        let nameWidth = max(19, (classes.map(\.count).max() ?? 0) + 2)
        let cellWidth = max(7, (classes.map { min($0.count, 10) }.max() ?? 0) + 1)
        func lpad(_ s: String, _ w: Int) -> String { s.count >= w ? " " + s : String(repeating: " ", count: w - s.count) + s }
        func rpad(_ s: String, _ w: Int) -> String { s.count >= w ? s + " " : s + String(repeating: " ", count: w - s.count) }
        func f3(_ x: Double) -> String {
            let r = (x * 1000).rounded() / 1000
            var s = String(r)
            while s.split(separator: ".").last.map({ $0.count < 3 }) ?? false { s += "0" }
            return s
        }
        var lines: [String] = []
        var header = rpad("truth \\ predicted", nameWidth)
        for c in classes { header += lpad(String(c.prefix(10)), cellWidth) }
        header += lpad("recall", 9) + lpad("precision", 11) + lpad("F1", 7)
        lines.append(header)
        for (k, c) in classes.enumerated() {
            var line = rpad(c, nameWidth)
            for j in 0..<classes.count { line += lpad(String(confusion[k][j]), cellWidth) }
            line += lpad(f3(recall(k)), 9) + lpad(f3(precision(k)), 11) + lpad(f3(f1(k)), 7)
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
