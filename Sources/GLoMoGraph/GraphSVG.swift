import Support

/// Heatmaps of GLoMo graphs as a hand-written SVG document: one panel per graph layer (heads
/// averaged) or per layer and head, the words on both axes.
///
/// In each panel, row i is the dependent word and column j the earlier word it attends to; the
/// cell (i, j) holds G_ij. All panels share one colour scale, drawn as a colour bar under the
/// title (`<g class="colour-bar">`, labelled 0, the middle and the maximum): white for 0 to dark
/// blue for the largest weight of all panels, linearly in the weight, so equal colours mean
/// equal weights across panels; each panel's title still names its own largest weight. Every
/// cell is a `<rect class="cell">` with `data-layer`, `data-head` (`mean` when averaged),
/// `data-row`, `data-column` and `data-value` attributes and a `<title>` (`cat ← the: 0.734`)
/// that viewers show on hover; the upper triangle and the diagonal are white (a word never
/// attends to itself or to a later word). Words flagged `unknown` are drawn with a trailing `?`
/// and a legend line (`<text class="legend">`) says what it means. Words longer than 16
/// characters are shortened with "…" in the labels (the hover titles keep them whole), and the
/// canvas is sized from its text so no label runs off it. NaN and infinite values draw white and
/// say what they are (`nan`, `inf`) in their titles; `lmtool glomo show` refuses them before
/// drawing (`GLoMoGraphModel.finiteGraphs`).
///
///     let svg = GraphSVG.render(graphs: g, layers: 3, heads: 4, words: ["the", "cat", "sat"])
///     try GraphSVG.write(svg, to: "graph.svg")
public enum GraphSVG {
    /// How heads are drawn.
    public enum HeadMode: String, Sendable, CaseIterable {
        /// One panel per layer: the mean of its heads (rows still sum to 1, or 0 for rows with no edge).
        case average
        /// One row of panels per layer, one panel per head.
        case separate
    }

    /// The legend line for words drawn with `?`.
    public static let unknownLegend = "word? = not in the model's vocabulary (the model reads it as <unk>)"

    /// The colour of `value` on a scale whose largest weight is `maximum`: white → rgb(8, 48, 107).
    /// A NaN or infinite ratio (a non-finite value or maximum) is white.
    public static func colour(_ value: Float, maximum: Float) -> (r: Int, g: Int, b: Int) {
        let ratio = value / maximum
        let t = maximum > 0 && ratio.isFinite ? Double(min(max(ratio, 0), 1)) : 0
        func mix(_ dark: Double) -> Int { Int((255 - t * (255 - dark)).rounded()) }
        return (mix(8), mix(48), mix(107))
    }

    /// An upper estimate of the width of `text` at `fontSize` in a sans-serif font (as
    /// `SVGPlot.textWidth` in LM): 0.95 em for M, W, m, w, @, % and …, 0.75 em for other capitals,
    /// 0.65 em for the rest.
    static func textWidth(_ text: String, fontSize: Int) -> Int {
        var ems = 0.0
        for ch in text {
            if "MWmw@%…".contains(ch) { ems += 0.95 } else if ch.isUppercase { ems += 0.75 } else { ems += 0.65 }
        }
        return Int((ems * Double(fontSize)).rounded(.up))
    }

    /// The SVG of the graphs of one sequence, `graphs [L, K, T, T]` (T = `words.count`);
    /// `unknown[i]` marks word i as out of the model's vocabulary (empty: none is).
    public static func render(graphs: [Float], layers L: Int, heads K: Int, words: [String],
                              mode: HeadMode = .average, title: String? = nil, unknown: [Bool] = []) -> String {
        let T = words.count
        precondition(T > 0 && graphs.count == L * K * T * T, "GraphSVG: \(graphs.count) values for \(L)×\(K)×\(T)×\(T)")
        precondition(unknown.isEmpty || unknown.count == T, "GraphSVG: \(unknown.count) unknown flags for \(T) words")
        // Panels: (layer, head or nil for the mean, values [T, T]).
        var panels: [(layer: Int, head: Int?, values: [Float])] = []
        for l in 0..<L {
            if mode == .average {
                var mean = [Float](repeating: 0, count: T * T)
                for h in 0..<K {
                    let base = (l * K + h) * T * T
                    for i in 0..<T * T { mean[i] += graphs[base + i] / Float(K) }
                }
                panels.append((l, nil, mean))
            } else {
                for h in 0..<K {
                    let base = (l * K + h) * T * T
                    panels.append((l, h, Array(graphs[base..<base + T * T])))
                }
            }
        }
        // One scale for every panel.
        let maximum = panels.map { $0.values.max() ?? 0 }.max() ?? 0
        let labels = words.enumerated().map { i, w in
            (w.count > 16 ? String(w.prefix(15)) + "…" : w) + (unknown.isEmpty || !unknown[i] ? "" : "?")
        }
        let columns = mode == .average ? L : K
        let cell = T <= 20 ? 22 : max(6, 440 / T)
        let fontSize = max(6, min(12, cell - 4))
        let longest = labels.map { textWidth($0, fontSize: fontSize) }.max() ?? 0
        let label = longest + 8  // room for the row labels
        // Room above the grid for the column labels, rotated by 60°: sin 60° of their width.
        let labelTop = Int((0.87 * Double(longest)).rounded(.up)) + fontSize / 2 + 3
        func panelName(_ p: (layer: Int, head: Int?, values: [Float])) -> String {
            "layer \(p.layer + 1)" + (p.head.map { ", head \($0 + 1)" } ?? ", heads averaged") + " (max \(format(p.values.max() ?? 0)))"
        }
        // The last column label leans right by half its width (rotated by 60°).
        let panelWidth = max(label + T * cell + max(24, longest / 2 + fontSize + 4),
                             (panels.map { textWidth(panelName($0), fontSize: 13) }.max() ?? 0) + 16)
        let panelHeight = 20 + labelTop + T * cell + 20
        // Header: title, colour bar with its caption and ticks, the `?` legend.
        let caption = "Colour: weight, one scale for all panels (white 0 to dark blue \(format(maximum)))"
        let hasUnknown = unknown.contains(true)
        var y = title == nil ? 4 : 30
        let captionY = y + 14, barY = y + 20, barTicksY = y + 44
        y += 50
        let legendY = y + 12
        if hasUnknown { y += 20 }
        let top = y + 6
        var width = columns * panelWidth + 10
        width = max(width, textWidth(caption, fontSize: 12) + 20, 230)
        if let title { width = max(width, textWidth(title, fontSize: 15) + 20) }
        if hasUnknown { width = max(width, textWidth(unknownLegend, fontSize: 12) + 20) }
        let height = top + (panels.count / columns) * panelHeight
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\">\n"
        s += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#ffffff\"/>\n"
        if let title { s += "<text class=\"title\" x=\"10\" y=\"22\" font-size=\"15\">\(escape(title))</text>\n" }
        let dark = colour(maximum, maximum: maximum), end = maximum > 0 ? "rgb(\(dark.r),\(dark.g),\(dark.b))" : "#ffffff"
        s += "<g class=\"colour-bar\" data-maximum=\"\(maximum)\">\n"
        s += "<defs><linearGradient id=\"glomo-scale\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"0\">"
        s += "<stop offset=\"0\" stop-color=\"#ffffff\"/><stop offset=\"1\" stop-color=\"\(end)\"/></linearGradient></defs>\n"
        s += "<text class=\"caption\" x=\"10\" y=\"\(captionY)\" font-size=\"12\">\(escape(caption))</text>\n"
        s += "<rect x=\"10\" y=\"\(barY)\" width=\"200\" height=\"12\" fill=\"url(#glomo-scale)\" stroke=\"#888888\" stroke-width=\"0.5\"/>\n"
        for (x, value, anchor) in [(10, Float(0), "start"), (110, maximum / 2, "middle"), (210, maximum, "end")] {
            s += "<line x1=\"\(x)\" y1=\"\(barY + 12)\" x2=\"\(x)\" y2=\"\(barY + 15)\" stroke=\"#888888\"/>"
            s += "<text class=\"colour-bar-tick\" x=\"\(x)\" y=\"\(barTicksY)\" font-size=\"10\" text-anchor=\"\(anchor)\">\(format(value))</text>\n"
        }
        s += "</g>\n"
        if hasUnknown { s += "<text class=\"legend\" x=\"10\" y=\"\(legendY)\" font-size=\"12\">\(escape(unknownLegend))</text>\n" }
        for (n, panel) in panels.enumerated() {
            let x0 = 10 + (n % columns) * panelWidth, y0 = top + (n / columns) * panelHeight
            s += "<g class=\"panel\" data-layer=\"\(panel.layer)\" data-head=\"\(panel.head.map(String.init) ?? "mean")\">\n"
            s += "<text x=\"\(x0)\" y=\"\(y0 + 14)\" font-size=\"13\">\(panelName(panel))</text>\n"
            let gx = x0 + label, gy = y0 + 20 + labelTop
            for j in 0..<T {  // column labels, rotated
                let cx = gx + j * cell + cell / 2 + fontSize / 3
                s += "<text x=\"\(cx)\" y=\"\(gy - 4)\" font-size=\"\(fontSize)\" transform=\"rotate(-60 \(cx) \(gy - 4))\">\(escape(labels[j]))</text>\n"
            }
            for i in 0..<T {
                s += "<text x=\"\(gx - 4)\" y=\"\(gy + i * cell + cell / 2 + fontSize / 3)\" font-size=\"\(fontSize)\" text-anchor=\"end\">\(escape(labels[i]))</text>\n"
                for j in 0..<T {
                    let v = panel.values[i * T + j], c = colour(v, maximum: maximum)
                    s += "<rect class=\"cell\" data-layer=\"\(panel.layer)\" data-head=\"\(panel.head.map(String.init) ?? "mean")\" "
                    s += "data-row=\"\(i)\" data-column=\"\(j)\" data-value=\"\(v)\" x=\"\(gx + j * cell)\" y=\"\(gy + i * cell)\" "
                    s += "width=\"\(cell)\" height=\"\(cell)\" fill=\"rgb(\(c.r),\(c.g),\(c.b))\" stroke=\"#dddddd\" stroke-width=\"0.5\">"
                    s += "<title>\(escape(words[i])) ← \(escape(words[j])): \(format(v))</title></rect>\n"
                }
            }
            s += "</g>\n"
        }
        s += "</svg>\n"
        return s
    }

    /// Writes `svg` to `path` atomically.
    public static func write(_ svg: String, to path: String) throws {
        try AtomicFile.write(Array(svg.utf8), to: path)
    }

    /// `&`, `<`, `>`, `"` and `'` as XML entities.
    static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// Three decimals; a non-finite or huge value as Swift prints it (`nan`, `-inf`, `1e+30`).
    static func format(_ v: Float) -> String {
        guard v.isFinite && abs(v) < 1e12 else { return "\(v)" }
        let n = Int((Double(v) * 1000).rounded())
        let frac = String(abs(n) % 1000)
        return (n < 0 ? "-" : "") + "\(abs(n) / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
    }
}
