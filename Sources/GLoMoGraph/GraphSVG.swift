import Support

/// Heatmaps of GLoMo graphs as a hand-written SVG document: one panel per graph layer (heads
/// averaged) or per layer and head, the words on both axes.
///
/// In each panel, row i is the dependent word and column j the earlier word it attends to; the
/// cell (i, j) holds G_ij. Colours run from white (0) to dark blue (the largest weight of the
/// panel), linearly in the weight, so a panel's strongest edge is always the darkest. Every cell
/// is a `<rect class="cell">` with `data-layer`, `data-head` (`mean` when averaged), `data-row`,
/// `data-column` and `data-value` attributes and a `<title>` (`cat ← the: 0.734`) that viewers
/// show on hover; the upper triangle and the diagonal are white (a word never attends to itself
/// or to a later word).
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

    /// The colour of `value` on a panel whose largest weight is `maximum`: white → rgb(8, 48, 107).
    public static func colour(_ value: Float, maximum: Float) -> (r: Int, g: Int, b: Int) {
        let t = maximum > 0 ? Double(min(max(value / maximum, 0), 1)) : 0
        func mix(_ dark: Double) -> Int { Int((255 - t * (255 - dark)).rounded()) }
        return (mix(8), mix(48), mix(107))
    }

    /// The SVG of the graphs of one sequence, `graphs [L, K, T, T]` (T = `words.count`).
    public static func render(graphs: [Float], layers L: Int, heads K: Int, words: [String],
                              mode: HeadMode = .average, title: String? = nil) -> String {
        let T = words.count
        precondition(T > 0 && graphs.count == L * K * T * T, "GraphSVG: \(graphs.count) values for \(L)×\(K)×\(T)×\(T)")
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
        let columns = mode == .average ? L : K
        let cell = T <= 20 ? 22 : max(6, 440 / T)
        let label = min(110, 8 + 7 * (words.map(\.count).max() ?? 1))  // room for the words
        let fontSize = max(6, min(12, cell - 4))
        let panelWidth = label + T * cell + 24, panelHeight = label + T * cell + 40
        let top = title == nil ? 10 : 34
        let width = columns * panelWidth + 10, height = top + (panels.count / columns) * panelHeight
        var s = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"sans-serif\">\n"
        s += "<rect x=\"0\" y=\"0\" width=\"\(width)\" height=\"\(height)\" fill=\"#ffffff\"/>\n"
        if let title { s += "<text x=\"10\" y=\"22\" font-size=\"15\">\(escape(title))</text>\n" }
        for (n, panel) in panels.enumerated() {
            let x0 = 10 + (n % columns) * panelWidth, y0 = top + (n / columns) * panelHeight
            let maximum = panel.values.max() ?? 0
            let name = "layer \(panel.layer + 1)" + (panel.head.map { ", head \($0 + 1)" } ?? ", heads averaged")
            s += "<g class=\"panel\" data-layer=\"\(panel.layer)\" data-head=\"\(panel.head.map(String.init) ?? "mean")\">\n"
            s += "<text x=\"\(x0)\" y=\"\(y0 + 14)\" font-size=\"13\">\(name) (max \(format(maximum)))</text>\n"
            let gx = x0 + label, gy = y0 + label + 20
            for j in 0..<T {  // column labels, rotated
                let cx = gx + j * cell + cell / 2 + fontSize / 3
                s += "<text x=\"\(cx)\" y=\"\(gy - 4)\" font-size=\"\(fontSize)\" transform=\"rotate(-60 \(cx) \(gy - 4))\">\(escape(words[j]))</text>\n"
            }
            for i in 0..<T {
                s += "<text x=\"\(gx - 4)\" y=\"\(gy + i * cell + cell / 2 + fontSize / 3)\" font-size=\"\(fontSize)\" text-anchor=\"end\">\(escape(words[i]))</text>\n"
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

    /// Three decimals.
    static func format(_ v: Float) -> String {
        let n = Int((Double(v) * 1000).rounded())
        let frac = String(abs(n) % 1000)
        return (n < 0 ? "-" : "") + "\(abs(n) / 1000)." + String(repeating: "0", count: 3 - frac.count) + frac
    }
}
