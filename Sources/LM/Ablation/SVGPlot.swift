import Foundation

/// Hand-written SVG charts of an ablation report, no dependencies.
///
/// - `validationCurves`: validation perplexity per epoch, one `<polyline class="curve">` per
///   arm (mean over its runs) with a `<circle class="marker">` on every point (so a one-epoch
///   run is a visible dot, not an invisible one-point line), a legend.
/// - `differences`: one `<rect class="bar">` per arm (test perplexity minus the baseline's,
///   paired by seed) with a `<line class="interval">` for its 95% t interval where defined
///   (black) and a `<line class="bootstrap">` for the report's headline interval, the two-level
///   bootstrap over seeds, then test sentences (grey, thicker, right of the bar), both with
///   short caps at their ends. The sentence-only interval is not drawn.
/// - `domainDifferences`: the per-domain Δ as a forest plot, one group of rows per arm.
///
/// Every canvas is sized from its text: the title, legend, tick and arm labels are measured with
/// `textWidth` (a deliberately generous estimate per character) and the margins grow to hold
/// them, so no label is cut at the edge. Axis ticks are "nice" values printed with as many
/// decimals as their step needs, so no two tick labels are equal; a flat series (one epoch, or
/// all arms equal) is padded by 5% of its value so its axis still has distinct ticks.
///
///     let svg = SVGPlot.validationCurves(report.curves)
public enum SVGPlot {
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func n(_ x: Double) -> String { String(format: "%.1f", x) }

    /// An upper estimate of the width of `text` at `fontSize` in a sans-serif font: 0.95 em for
    /// the widest letters (M, W, m, w, @, %), 0.75 em for other capitals, 0.65 em for the rest
    /// (DejaVu Sans, the usual Linux fallback, draws digits 0.64 em and lowercase about 0.55 em
    /// wide).
    static func textWidth(_ text: String, fontSize: Double) -> Double {
        var ems = 0.0
        for ch in text {
            if "MWmw@%".contains(ch) { ems += 0.95 } else if ch.isUppercase { ems += 0.75 } else { ems += 0.65 }
        }
        return ems * fontSize
    }

    /// The range of `values` widened for an axis: by 5% of the range on each side, or, when all
    /// values are (nearly) equal, by 5% of their magnitude (at least 1) so the ticks differ.
    static func axisRange(_ values: [Double], padding: Double = 0.05) -> (lo: Double, hi: Double) {
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if hi - lo <= 1e-9 * max(1, abs(hi)) {
            let pad = max(1, 0.05 * abs(hi))
            return (lo - pad, hi + pad)
        }
        let pad = padding * (hi - lo)
        lo -= pad; hi += pad
        return (lo, hi)
    }

    /// "Nice" tick values covering lo...hi (3 to about 6 of them, a step of 1, 2 or 5 times a
    /// power of ten) and that step.
    static func ticks(_ lo: Double, _ hi: Double) -> (values: [Double], step: Double) {
        guard hi > lo, lo.isFinite, hi.isFinite else { return ([lo], 1) }
        let raw = (hi - lo) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let steps = [0.1, 0.2, 0.5, 1, 2, 5, 10].map { $0 * magnitude }
        var index = steps.firstIndex { $0 >= raw } ?? steps.count - 1
        while true {
            let step = steps[index]
            var out: [Double] = []
            var k = (lo / step).rounded(.up)
            while k * step <= hi + 1e-9 * step {
                out.append(k == 0 ? 0 : k * step)  // never "-0"
                k += 1
            }
            if out.count >= 3 || index == 0 { return (out, step) }
            index -= 1  // at least three ticks: the next smaller nice step
        }
    }

    /// A tick label with the decimals its step needs (step 0.5 → one decimal), so labels differ.
    static func label(_ x: Double, step: Double) -> String {
        let decimals = max(0, Int(-floor(log10(step) + 1e-9)))
        let s = String(format: "%.\(decimals)f", x)
        return s.hasPrefix("-") && Double(s) == 0 ? String(s.dropFirst()) : s
    }

    /// Validation perplexity per epoch, one line per arm, a marker on every point.
    public static func validationCurves(_ curves: [AblationReport.Curve]) -> String {
        let title = "Validation perplexity per epoch"
        let points = curves.flatMap { zip($0.epochs, $0.ppl).map { (Double($0.0), $0.1) } }.filter { $0.1.isFinite }
        let (lo, hi) = axisRange(points.map(\.1))
        let yTicks = ticks(lo, hi)
        let tickLabels = yTicks.values.map { label($0, step: yTicks.step) }
        let tickWidth = tickLabels.map { textWidth($0, fontSize: 12) }.max() ?? 0
        let left = max(70, 34 + tickWidth)
        let legendWidth = curves.map { textWidth($0.arm, fontSize: 12) }.max() ?? 0
        let top = 40.0, bottom = 50.0, pw = 450.0, right = 12 + 20 + 6 + legendWidth + 12
        let height = max(420, top + 14 + 18 * Double(curves.count) + 10)
        let width = max(left + pw + right, textWidth(title, fontSize: 14) + 20)
        let ph = height - top - bottom
        // One epoch: the point in the middle of the axis, not on its edge.
        let maxEpoch = points.map(\.0).max() ?? 1
        let (xlo, xhi) = maxEpoch > 1 ? (1.0, maxEpoch) : (0.5, 1.5)
        func x(_ e: Double) -> Double { left + (e - xlo) / (xhi - xlo) * pw }
        func y(_ p: Double) -> Double { top + (hi - p) / (hi - lo) * ph }
        var s = header(width, height, title: title)
        s += axes(left: left, top: top, pw: pw, ph: ph)
        for (t, text) in zip(yTicks.values, tickLabels) {
            s += "<line class=\"grid\" x1=\"\(n(left))\" y1=\"\(n(y(t)))\" x2=\"\(n(left + pw))\" y2=\"\(n(y(t)))\" stroke=\"#ddd\"/>\n"
            s += "<text class=\"tick\" x=\"\(n(left - 6))\" y=\"\(n(y(t) + 4))\" text-anchor=\"end\">\(text)</text>\n"
        }
        let epochStep = max(1, Int((maxEpoch / 10).rounded(.up)))
        for e in stride(from: 1, through: Int(maxEpoch), by: epochStep) {
            s += "<text class=\"tick\" x=\"\(n(x(Double(e))))\" y=\"\(n(top + ph + 18))\" text-anchor=\"middle\">\(e)</text>\n"
        }
        s += "<text x=\"\(n(left + pw / 2))\" y=\"\(n(height - 12))\" text-anchor=\"middle\">epoch</text>\n"
        s += yAxisTitle("validation perplexity", x: left - 18 - tickWidth, y: top + ph / 2)
        for (i, c) in curves.enumerated() {
            let colour = palette[i % palette.count], arm = escape(c.arm)
            let finite = zip(c.epochs, c.ppl).filter { $0.1.isFinite }.map { (x(Double($0.0)), y($0.1)) }
            let pts = finite.map { "\(n($0.0)),\(n($0.1))" }
            s += "<polyline class=\"curve\" data-arm=\"\(arm)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\" points=\"\(pts.joined(separator: " "))\"/>\n"
            for (px, py) in finite {
                s += "<circle class=\"marker\" data-arm=\"\(arm)\" cx=\"\(n(px))\" cy=\"\(n(py))\" r=\"3.5\" fill=\"\(colour)\"/>\n"
            }
            let ly = top + 14 + Double(i) * 18
            s += "<line x1=\"\(n(left + pw + 12))\" y1=\"\(n(ly - 4))\" x2=\"\(n(left + pw + 32))\" y2=\"\(n(ly - 4))\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
            s += "<circle cx=\"\(n(left + pw + 22))\" cy=\"\(n(ly - 4))\" r=\"3.5\" fill=\"\(colour)\"/>\n"
            s += "<text class=\"legend\" x=\"\(n(left + pw + 38))\" y=\"\(n(ly))\">\(arm)</text>\n"
        }
        return s + "</svg>\n"
    }

    /// Bars of test perplexity differences from the baseline with their 95% t intervals and
    /// two-level bootstrap intervals.
    public static func differences(_ rows: [AblationReport.Row], baseline: String) -> String {
        let title = "Test perplexity minus \(baseline)"
        // The legend names the grey two-level bootstrap interval only when some arm has one to draw.
        let hasBootstrap = rows.contains { r in r.bootstrap.map { $0.low.isFinite && $0.high.isFinite } ?? false }
        let subtitle = "bar: mean over seeds; black: 95% t interval by seed" + (hasBootstrap ? "; grey: bootstrap over seeds, then test sentences" : "")
        var values: [Double] = [0]
        for r in rows {
            if let d = r.difference { values += [d.mean, d.low, d.high].filter(\.isFinite) }
            if let b = r.bootstrap { values += [b.low, b.high].filter(\.isFinite) }
        }
        let (lo, hi) = axisRange(values, padding: 0.08)
        let yTicks = ticks(lo, hi)
        let tickLabels = yTicks.values.map { label($0, step: yTicks.step) }
        // Arm labels hang from the axis, rotated by 35°: they reach left by cos 35° and down by
        // sin 35° of their width.
        let barSpace = 70.0, top = 56.0, right = 20.0, angle = 35.0 * Double.pi / 180
        let armWidths = rows.map { textWidth($0.arm, fontSize: 12) }
        let tickWidth = tickLabels.map { textWidth($0, fontSize: 12) }.max() ?? 0
        var left = max(70, 34 + tickWidth)
        for (i, w) in armWidths.enumerated() { left = max(left, w * cos(angle) + 12 * sin(angle) + 6 - barSpace * (Double(i) + 0.5)) }
        let bottom = max(50, 14 + (armWidths.max() ?? 0) * sin(angle) + 12 + 8)
        let ph = 290.0, height = top + ph + bottom
        let width = max(360, left + right + barSpace * Double(max(rows.count, 1)),
                        textWidth(title, fontSize: 14) + 20, textWidth(subtitle, fontSize: 11) + 20)
        let pw = width - left - right
        let spacing = pw / Double(max(rows.count, 1))  // at least barSpace: the bars share the width
        func y(_ v: Double) -> Double { top + (hi - v) / (hi - lo) * ph }
        var s = header(width, height, title: title)
        s += "<text class=\"subtitle\" x=\"\(n(width / 2))\" y=\"40\" text-anchor=\"middle\" font-size=\"11\" fill=\"#444\">\(escape(subtitle))</text>\n"
        s += axes(left: left, top: top, pw: pw, ph: ph)
        for (t, text) in zip(yTicks.values, tickLabels) {
            s += "<line class=\"grid\" x1=\"\(n(left))\" y1=\"\(n(y(t)))\" x2=\"\(n(left + pw))\" y2=\"\(n(y(t)))\" stroke=\"#ddd\"/>\n"
            s += "<text class=\"tick\" x=\"\(n(left - 6))\" y=\"\(n(y(t) + 4))\" text-anchor=\"end\">\(text)</text>\n"
        }
        s += "<line class=\"zero\" x1=\"\(n(left))\" y1=\"\(n(y(0)))\" x2=\"\(n(left + pw))\" y2=\"\(n(y(0)))\" stroke=\"#000\"/>\n"
        for (i, r) in rows.enumerated() {
            let cx = left + spacing * (Double(i) + 0.5)
            if let d = r.difference, d.mean.isFinite {
                let colour = d.mean < 0 ? "#2ca02c" : "#d62728"
                let y0 = min(y(0), y(d.mean)), h = abs(y(0) - y(d.mean))
                s += "<rect class=\"bar\" data-arm=\"\(escape(r.arm))\" x=\"\(n(cx - 20))\" y=\"\(n(y0))\" width=\"40\" height=\"\(n(h))\" fill=\"\(colour)\"/>\n"
                if d.low.isFinite && d.high.isFinite {
                    s += "<line class=\"interval\" x1=\"\(n(cx))\" y1=\"\(n(y(d.low)))\" x2=\"\(n(cx))\" y2=\"\(n(y(d.high)))\" stroke=\"#000\" stroke-width=\"1.5\"/>\n"
                    s += caps(x: cx, low: y(d.low), high: y(d.high), colour: "#000")
                }
                // Right of the bar, so a short interval is not hidden by it.
                if let b = r.bootstrap, b.low.isFinite && b.high.isFinite {
                    s += "<line class=\"bootstrap\" x1=\"\(n(cx + 27))\" y1=\"\(n(y(b.low)))\" x2=\"\(n(cx + 27))\" y2=\"\(n(y(b.high)))\" stroke=\"#777\" stroke-width=\"3\"/>\n"
                    s += caps(x: cx + 27, low: y(b.low), high: y(b.high), colour: "#777")
                }
            }
            s += "<text class=\"arm\" x=\"\(n(cx))\" y=\"\(n(top + ph + 14))\" text-anchor=\"end\" transform=\"rotate(-35 \(n(cx)) \(n(top + ph + 14)))\">\(escape(r.arm))</text>\n"
        }
        s += yAxisTitle("Δ test perplexity", x: left - 18 - tickWidth, y: top + ph / 2)
        return s + "</svg>\n"
    }

    /// Test perplexity differences from the baseline per domain, a forest plot: one group per
    /// arm (its name as a heading), one row per domain with a `<circle class="point">` at the
    /// mean Δ (green below 0, red above) and a horizontal `<line class="interval">` with caps
    /// for its 95% t interval paired by seed, where defined; a vertical line at 0.
    public static func domainDifferences(_ rows: [AblationReport.DomainRow], baseline: String) -> String {
        let title = "Test perplexity minus \(baseline), per domain"
        let subtitle = "dot: mean over seeds; line: 95% t interval by seed"
        var values: [Double] = [0]
        for r in rows { values += [r.difference.mean, r.difference.low, r.difference.high].filter(\.isFinite) }
        let (lo, hi) = axisRange(values, padding: 0.08)
        let xTicks = ticks(lo, hi)
        var arms: [String] = []
        for r in rows where arms.last != r.arm { arms.append(r.arm) }
        let rowHeight = 18.0, top = 56.0, bottom = 50.0, pw = 420.0, right = 24.0
        let labelWidth = max(rows.map { textWidth($0.domain, fontSize: 12) + 16 }.max() ?? 0,
                             arms.map { textWidth($0, fontSize: 12) }.max() ?? 0)
        let left = 12 + labelWidth + 12
        let ph = rowHeight * Double(rows.count + arms.count) + 8
        let height = top + ph + bottom
        let width = max(left + pw + right, textWidth(title, fontSize: 14) + 20, textWidth(subtitle, fontSize: 11) + 20)
        func x(_ v: Double) -> Double { left + (v - lo) / (hi - lo) * pw }
        var s = header(width, height, title: title)
        s += "<text class=\"subtitle\" x=\"\(n(width / 2))\" y=\"40\" text-anchor=\"middle\" font-size=\"11\" fill=\"#444\">\(escape(subtitle))</text>\n"
        s += "<line x1=\"\(n(left))\" y1=\"\(n(top + ph))\" x2=\"\(n(left + pw))\" y2=\"\(n(top + ph))\" stroke=\"#000\"/>\n"
        for t in xTicks.values {
            s += "<line class=\"grid\" x1=\"\(n(x(t)))\" y1=\"\(n(top))\" x2=\"\(n(x(t)))\" y2=\"\(n(top + ph))\" stroke=\"#ddd\"/>\n"
            s += "<text class=\"tick\" x=\"\(n(x(t)))\" y=\"\(n(top + ph + 18))\" text-anchor=\"middle\">\(label(t, step: xTicks.step))</text>\n"
        }
        s += "<line class=\"zero\" x1=\"\(n(x(0)))\" y1=\"\(n(top))\" x2=\"\(n(x(0)))\" y2=\"\(n(top + ph))\" stroke=\"#000\"/>\n"
        s += "<text x=\"\(n(left + pw / 2))\" y=\"\(n(height - 12))\" text-anchor=\"middle\">Δ test perplexity</text>\n"
        var line = 0.0
        var previousArm: String?
        for r in rows {
            if r.arm != previousArm {
                line += 1
                s += "<text class=\"arm\" x=\"12\" y=\"\(n(top + line * rowHeight - 4))\" font-weight=\"bold\">\(escape(r.arm))</text>\n"
                previousArm = r.arm
            }
            line += 1
            let cy = top + line * rowHeight - 8
            s += "<text class=\"domain\" x=\"28\" y=\"\(n(cy + 4))\">\(escape(r.domain))</text>\n"
            let d = r.difference
            guard d.mean.isFinite else { continue }
            if d.low.isFinite && d.high.isFinite {
                s += "<line class=\"interval\" data-arm=\"\(escape(r.arm))\" data-domain=\"\(escape(r.domain))\" x1=\"\(n(x(d.low)))\" y1=\"\(n(cy))\" x2=\"\(n(x(d.high)))\" y2=\"\(n(cy))\" stroke=\"#000\" stroke-width=\"1.5\"/>\n"
                for end in [d.low, d.high] {
                    s += "<line class=\"cap\" x1=\"\(n(x(end)))\" y1=\"\(n(cy - 4))\" x2=\"\(n(x(end)))\" y2=\"\(n(cy + 4))\" stroke=\"#000\" stroke-width=\"1.5\"/>\n"
                }
            }
            s += "<circle class=\"point\" data-arm=\"\(escape(r.arm))\" data-domain=\"\(escape(r.domain))\" cx=\"\(n(x(d.mean)))\" cy=\"\(n(cy))\" r=\"4\" fill=\"\(d.mean < 0 ? "#2ca02c" : "#d62728")\"/>\n"
        }
        return s + "</svg>\n"
    }

    static func header(_ width: Double, _ height: Double, title: String) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            + "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(width))\" height=\"\(n(height))\" viewBox=\"0 0 \(n(width)) \(n(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n"
            + "<text class=\"title\" x=\"\(n(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"14\">\(escape(title))</text>\n"
    }

    /// Short horizontal ends of an interval drawn at `x` from `low` to `high`: visible even
    /// when the interval is only a pixel or two long.
    static func caps(x: Double, low: Double, high: Double, colour: String) -> String {
        [low, high].map { "<line class=\"cap\" x1=\"\(n(x - 5))\" y1=\"\(n($0))\" x2=\"\(n(x + 5))\" y2=\"\(n($0))\" stroke=\"\(colour)\" stroke-width=\"1.5\"/>\n" }.joined()
    }

    /// The title of the y axis, rotated, centred on (x, y): just left of the tick labels.
    static func yAxisTitle(_ text: String, x: Double, y: Double) -> String {
        "<text x=\"\(n(x))\" y=\"\(n(y))\" text-anchor=\"middle\" transform=\"rotate(-90 \(n(x)) \(n(y)))\">\(escape(text))</text>\n"
    }

    static func axes(left: Double, top: Double, pw: Double, ph: Double) -> String {
        "<line x1=\"\(n(left))\" y1=\"\(n(top))\" x2=\"\(n(left))\" y2=\"\(n(top + ph))\" stroke=\"#000\"/>\n"
            + "<line x1=\"\(n(left))\" y1=\"\(n(top + ph))\" x2=\"\(n(left + pw))\" y2=\"\(n(top + ph))\" stroke=\"#000\"/>\n"
    }
}
