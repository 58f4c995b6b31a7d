import Foundation

/// Hand-written SVG charts of an ablation report, no dependencies.
///
/// - `validationCurves`: validation perplexity per epoch, one `<polyline class="curve">` per
///   arm (mean over its runs), a legend.
/// - `differences`: one `<rect class="bar">` per arm (test perplexity minus the baseline's,
///   paired by seed) with a `<line class="interval">` for its 95% t interval where defined.
///
///     let svg = SVGPlot.validationCurves(report.curves)
public enum SVGPlot {
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func n(_ x: Double) -> String { String(format: "%.1f", x) }

    /// "Nice" tick values covering lo...hi (about 5 of them).
    static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        guard hi > lo, lo.isFinite, hi.isFinite else { return [lo] }
        let raw = (hi - lo) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var t = (lo / step).rounded(.up) * step, out: [Double] = []
        while t <= hi + 1e-9 * step { out.append(t); t += step }
        return out
    }

    static func label(_ x: Double) -> String {
        abs(x) >= 100 || x == x.rounded() ? String(format: "%.0f", x) : String(format: "%g", x)
    }

    /// Validation perplexity per epoch, one line per arm.
    public static func validationCurves(_ curves: [AblationReport.Curve]) -> String {
        let width = 720.0, height = 420.0, left = 70.0, right = 200.0, top = 40.0, bottom = 50.0
        let pw = width - left - right, ph = height - top - bottom
        let points = curves.flatMap { zip($0.epochs, $0.ppl).map { (Double($0.0), $0.1) } }.filter { $0.1.isFinite }
        let maxEpoch = max(points.map(\.0).max() ?? 1, 2)
        var lo = points.map(\.1).min() ?? 0, hi = points.map(\.1).max() ?? 1
        if hi - lo < 1e-9 { lo -= 1; hi += 1 }
        let pad = 0.05 * (hi - lo)
        lo -= pad; hi += pad
        func x(_ e: Double) -> Double { left + (e - 1) / (maxEpoch - 1) * pw }
        func y(_ p: Double) -> Double { top + (hi - p) / (hi - lo) * ph }
        var s = header(width, height, title: "Validation perplexity per epoch")
        s += axes(left: left, top: top, pw: pw, ph: ph)
        for t in ticks(lo, hi) {
            s += "<line class=\"grid\" x1=\"\(n(left))\" y1=\"\(n(y(t)))\" x2=\"\(n(left + pw))\" y2=\"\(n(y(t)))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(n(left - 6))\" y=\"\(n(y(t) + 4))\" text-anchor=\"end\">\(label(t))</text>\n"
        }
        let epochStep = max(1, Int((maxEpoch / 10).rounded(.up)))
        for e in stride(from: 1, through: Int(maxEpoch), by: epochStep) {
            s += "<text x=\"\(n(x(Double(e))))\" y=\"\(n(top + ph + 18))\" text-anchor=\"middle\">\(e)</text>\n"
        }
        s += "<text x=\"\(n(left + pw / 2))\" y=\"\(n(height - 12))\" text-anchor=\"middle\">epoch</text>\n"
        s += "<text x=\"16\" y=\"\(n(top + ph / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(n(top + ph / 2)))\">validation perplexity</text>\n"
        for (i, c) in curves.enumerated() {
            let colour = palette[i % palette.count]
            let pts = zip(c.epochs, c.ppl).filter { $0.1.isFinite }.map { "\(n(x(Double($0.0)))),\(n(y($0.1)))" }
            s += "<polyline class=\"curve\" data-arm=\"\(escape(c.arm))\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(pts.joined(separator: " "))\"/>\n"
            let ly = top + 14 + Double(i) * 18
            s += "<line x1=\"\(n(left + pw + 12))\" y1=\"\(n(ly - 4))\" x2=\"\(n(left + pw + 32))\" y2=\"\(n(ly - 4))\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
            s += "<text x=\"\(n(left + pw + 38))\" y=\"\(n(ly))\">\(escape(c.arm))</text>\n"
        }
        return s + "</svg>\n"
    }

    /// Bars of test perplexity differences from the baseline with their 95% t intervals.
    public static func differences(_ rows: [AblationReport.Row], baseline: String) -> String {
        let barSpace = 70.0, left = 70.0, top = 40.0, bottom = 110.0, right = 20.0
        let width = max(360, left + right + barSpace * Double(max(rows.count, 1))), height = 400.0
        let pw = width - left - right, ph = height - top - bottom
        var values: [Double] = [0]
        for r in rows { if let d = r.difference { values += [d.mean, d.low, d.high].filter(\.isFinite) } }
        var lo = values.min()!, hi = values.max()!
        if hi - lo < 1e-9 { lo -= 1; hi += 1 }
        let pad = 0.08 * (hi - lo)
        lo -= pad; hi += pad
        func y(_ v: Double) -> Double { top + (hi - v) / (hi - lo) * ph }
        var s = header(width, height, title: "Test perplexity minus \(baseline) (95% CI, paired by seed)")
        s += axes(left: left, top: top, pw: pw, ph: ph)
        for t in ticks(lo, hi) {
            s += "<line class=\"grid\" x1=\"\(n(left))\" y1=\"\(n(y(t)))\" x2=\"\(n(left + pw))\" y2=\"\(n(y(t)))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(n(left - 6))\" y=\"\(n(y(t) + 4))\" text-anchor=\"end\">\(label(t))</text>\n"
        }
        s += "<line class=\"zero\" x1=\"\(n(left))\" y1=\"\(n(y(0)))\" x2=\"\(n(left + pw))\" y2=\"\(n(y(0)))\" stroke=\"#000\"/>\n"
        for (i, r) in rows.enumerated() {
            let cx = left + barSpace * (Double(i) + 0.5)
            if let d = r.difference, d.mean.isFinite {
                let colour = d.mean < 0 ? "#2ca02c" : "#d62728"
                let y0 = min(y(0), y(d.mean)), h = abs(y(0) - y(d.mean))
                s += "<rect class=\"bar\" data-arm=\"\(escape(r.arm))\" x=\"\(n(cx - 20))\" y=\"\(n(y0))\" width=\"40\" height=\"\(n(h))\" fill=\"\(colour)\"/>\n"
                if d.low.isFinite && d.high.isFinite {
                    s += "<line class=\"interval\" x1=\"\(n(cx))\" y1=\"\(n(y(d.low)))\" x2=\"\(n(cx))\" y2=\"\(n(y(d.high)))\" stroke=\"#000\" stroke-width=\"1.5\"/>\n"
                }
            }
            s += "<text x=\"\(n(cx))\" y=\"\(n(top + ph + 14))\" text-anchor=\"end\" transform=\"rotate(-35 \(n(cx)) \(n(top + ph + 14)))\">\(escape(r.arm))</text>\n"
        }
        s += "<text x=\"16\" y=\"\(n(top + ph / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(n(top + ph / 2)))\">Δ test perplexity</text>\n"
        return s + "</svg>\n"
    }

    static func header(_ width: Double, _ height: Double, title: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(width))\" height=\"\(n(height))\" viewBox=\"0 0 \(n(width)) \(n(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
            + "<text x=\"\(n(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">\(escape(title))</text>\n"
    }

    static func axes(left: Double, top: Double, pw: Double, ph: Double) -> String {
        "<line x1=\"\(n(left))\" y1=\"\(n(top))\" x2=\"\(n(left))\" y2=\"\(n(top + ph))\" stroke=\"#000\"/>\n"
            + "<line x1=\"\(n(left))\" y1=\"\(n(top + ph))\" x2=\"\(n(left + pw))\" y2=\"\(n(top + ph))\" stroke=\"#000\"/>\n"
    }
}
