import Foundation
import FoundationXML
import TestFixtures
import XCTest
@testable import GLoMoGraph

/// Collects the `<rect class="cell">` elements and panel titles of an SVG document.
final class SVGCells: NSObject, XMLParserDelegate {
    struct Cell { var layer: Int; var head: String; var row: Int; var column: Int; var value: Float; var fill: (Int, Int, Int) }
    var cells: [Cell] = []
    var rootName: String?

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes a: [String: String] = [:]) {
        if rootName == nil { rootName = name }
        guard name == "rect", a["class"] == "cell" else { return }
        let rgb = a["fill"]!.dropFirst(4).dropLast().split(separator: ",").map { Int($0)! }
        cells.append(Cell(layer: Int(a["data-layer"]!)!, head: a["data-head"]!, row: Int(a["data-row"]!)!,
                          column: Int(a["data-column"]!)!, value: Float(a["data-value"]!)!, fill: (rgb[0], rgb[1], rgb[2])))
    }

    static func parse(_ svg: String) throws -> SVGCells {
        let parser = XMLParser(data: Data(svg.utf8))
        let delegate = SVGCells()
        parser.delegate = delegate
        guard parser.parse() else { throw parser.parserError ?? CocoaError(.fileReadCorruptFile) }
        return delegate
    }
}

final class GraphSVGTests: XCTestCase {
    /// Row-normalised causal graphs [L=2, K=2, T=4, T=4] with distinct values.
    func sampleGraphs() -> [Float] {
        var g = [Float](repeating: 0, count: 2 * 2 * 16)
        for block in 0..<4 {
            for i in 1..<4 {
                let raw = (0..<i).map { Float(1 + ($0 * 7 + i * 3 + block * 5) % 11) }
                let z = raw.reduce(0, +)
                for j in 0..<i { g[block * 16 + i * 4 + j] = raw[j] / z }
            }
        }
        return g
    }

    let words = ["the", "cat", "<sat>", "A&B"]

    func testAveragedHeadsOnePanelPerLayer() throws {
        let g = sampleGraphs()
        let svg = GraphSVG.render(graphs: g, layers: 2, heads: 2, words: words, mode: .average, title: "t \"q\"")
        let doc = try SVGCells.parse(svg)  // well-formed XML (escaped words and title)
        XCTAssertEqual(doc.rootName, "svg")
        XCTAssertEqual(doc.cells.count, 2 * 4 * 4)
        XCTAssertTrue(svg.contains("&lt;sat&gt;") && svg.contains("A&amp;B"))
        for c in doc.cells {
            XCTAssertEqual(c.head, "mean")
            // The value is the mean of the two heads, computed here from the input.
            let expected = (g[(c.layer * 2 + 0) * 16 + c.row * 4 + c.column] + g[(c.layer * 2 + 1) * 16 + c.row * 4 + c.column]) / 2
            XCTAssertEqual(c.value, expected, accuracy: 1e-6)
            if c.column >= c.row { XCTAssertEqual(c.value, 0); XCTAssertTrue(c.fill == (255, 255, 255)) }
        }
        checkColoursFollowValues(doc.cells)
    }

    func testSeparateHeadsOnePanelPerHead() throws {
        let g = sampleGraphs()
        let doc = try SVGCells.parse(GraphSVG.render(graphs: g, layers: 2, heads: 2, words: words, mode: .separate))
        XCTAssertEqual(doc.cells.count, 2 * 2 * 4 * 4)
        XCTAssertEqual(Set(doc.cells.map(\.head)), ["0", "1"])
        for c in doc.cells {
            XCTAssertEqual(c.value, g[(c.layer * 2 + Int(c.head)!) * 16 + c.row * 4 + c.column])
        }
        checkColoursFollowValues(doc.cells)
    }

    /// One colour scale for all panels: a larger value is never lighter, in any two panels; the
    /// largest value of all panels is rgb(8, 48, 107), zero is white, and every fill is the
    /// linear mix at value / (largest of all panels), computed here.
    func checkColoursFollowValues(_ cells: [SVGCells.Cell], file: StaticString = #filePath, line: UInt = #line) {
        let maximum = cells.map(\.value).max()!
        let sorted = cells.sorted { $0.value < $1.value }
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            XCTAssertGreaterThanOrEqual(a.fill.0, b.fill.0, file: file, line: line)
            XCTAssertGreaterThanOrEqual(a.fill.2, b.fill.2, file: file, line: line)
        }
        XCTAssertTrue(sorted.last!.fill == (8, 48, 107), file: file, line: line)
        XCTAssertTrue(sorted.first!.fill == (255, 255, 255), file: file, line: line)
        for c in cells {
            let t = Double(c.value / maximum)
            let expected = [8.0, 48, 107].map { Int((255 - t * (255 - $0)).rounded()) }
            XCTAssertTrue(abs(c.fill.0 - expected[0]) <= 1 && abs(c.fill.1 - expected[1]) <= 1 && abs(c.fill.2 - expected[2]) <= 1,
                          "\(c.value) of \(maximum): \(c.fill) vs \(expected)", file: file, line: line)
        }
    }

    /// Old code: each panel scaled to its own maximum without saying so, and no colour bar.
    func testOneSharedScaleWithAColourBar() throws {
        var g = sampleGraphs()
        for i in 32..<64 { g[i] *= 0.5 }  // layer 2's weights half of what they were: a lighter panel
        let svg = GraphSVG.render(graphs: g, layers: 2, heads: 2, words: words, mode: .average)
        let doc = try SVGCells.parse(svg)
        checkColoursFollowValues(doc.cells)
        let layer2 = doc.cells.filter { $0.layer == 1 }.max { $0.value < $1.value }!
        XCTAssertFalse(layer2.fill == (8, 48, 107), "layer 2's largest weight is below the shared maximum")
        // The colour bar: its maximum is the largest cell value, its ticks 0, half, maximum.
        let maximum = doc.cells.map(\.value).max()!
        guard let extents = SVGTextExtents(svg) else { return XCTFail("not well-formed") }
        let ticks = extents.texts.filter { $0.attributes["class"] == "colour-bar-tick" }.map(\.content)
        XCTAssertEqual(ticks, ["0.000", String(format: "%.3f", maximum / 2), String(format: "%.3f", maximum)])
        XCTAssertTrue(svg.contains("<g class=\"colour-bar\" data-maximum=\"\(maximum)\">"), svg)
        XCTAssertTrue(svg.contains("<stop offset=\"1\" stop-color=\"rgb(8,48,107)\"/>"))
        let caption = extents.texts.first { $0.attributes["class"] == "caption" }?.content ?? ""
        XCTAssertTrue(caption.contains("one scale for all panels"), caption)
    }

    /// Old code: `?` on unknown words was never explained (and the command appended it itself).
    func testUnknownWordsAreMarkedAndExplained() throws {
        let g = sampleGraphs()
        let marked = GraphSVG.render(graphs: g, layers: 2, heads: 2, words: words, unknown: [false, true, false, false])
        XCTAssertTrue(marked.contains(">cat?</text>"), marked)
        XCTAssertFalse(marked.contains(">the?</text>"))
        let legend = SVGTextExtents(marked)!.texts.filter { $0.attributes["class"] == "legend" }.map(\.content)
        XCTAssertEqual(legend, ["word? = not in the model's vocabulary (the model reads it as <unk>)"])
        let plain = GraphSVG.render(graphs: g, layers: 2, heads: 2, words: words)
        XCTAssertFalse(plain.contains("?</text>"))
        XCTAssertFalse(plain.contains("class=\"legend\""), "no legend without unknown words")
    }

    /// Old code: a long title ran off a one-layer canvas, and long words (capped room of 110 px)
    /// ran into the panel title and off the top.
    func testNoTextLeavesTheCanvas() {
        let long = ["the", "internationalisation", "of", "Wolfgang-Amadeus-Mozart's", "works"]
        for (words, layers, heads, mode, unknown) in [(["a", "b"], 1, 1, GraphSVG.HeadMode.average, [true, false]),
                                                     (long, 2, 2, .separate, [false, true, false, true, false]),
                                                     (long, 1, 2, .average, [Bool]()),
                                                     ((0..<30).map { "word\($0)" }, 2, 1, .average, [Bool]())] {
            let T = words.count
            var g = [Float](repeating: 0, count: layers * heads * T * T)
            for i in g.indices where (i % (T * T)) / T > i % T { g[i] = Float(i % 7) / 7 }
            let svg = GraphSVG.render(graphs: g, layers: layers, heads: heads, words: words, mode: mode,
                                      title: "GLoMo graphs of /a/rather/long/path/to/a/model/directory (\(layers) layers × \(heads) heads)",
                                      unknown: unknown)
            guard let extents = SVGTextExtents(svg) else { XCTFail("not well-formed"); continue }
            XCTAssertGreaterThan(extents.texts.count, 2 * T)
            XCTAssertEqual(extents.overflowing, [], "\(T) words, \(layers)×\(heads) \(mode)")
        }
    }

    func testColourScale() {
        XCTAssertTrue(GraphSVG.colour(0, maximum: 0.5) == (255, 255, 255))
        XCTAssertTrue(GraphSVG.colour(0.5, maximum: 0.5) == (8, 48, 107))
        XCTAssertTrue(GraphSVG.colour(0.25, maximum: 0.5) == (132, 152, 181))  // halfway: (255+8)/2, (255+48)/2, (255+107)/2
        XCTAssertTrue(GraphSVG.colour(0.3, maximum: 0) == (255, 255, 255))
    }

    /// NaN, infinite and huge values (what weights of 1e30 give) draw without trapping: their
    /// cells are white and say what they hold. The old code trapped converting NaN to Int.
    func testNonFiniteAndHugeValuesDrawWithoutTrapping() throws {
        var g = sampleGraphs()
        g[4] = .nan            // layer 1, head 1, row 1, column 0
        g[16 + 8] = .infinity  // layer 1, head 2, row 2, column 0
        g[32 + 12] = 1e30      // layer 2, head 1, row 3, column 0
        XCTAssertTrue(GraphSVG.colour(.nan, maximum: 0.5) == (255, 255, 255))
        XCTAssertTrue(GraphSVG.colour(0.5, maximum: .nan) == (255, 255, 255))
        XCTAssertTrue(GraphSVG.colour(.infinity, maximum: .infinity) == (255, 255, 255))
        XCTAssertEqual(GraphSVG.format(.nan), "nan")
        XCTAssertEqual(GraphSVG.format(-.infinity), "-inf")
        XCTAssertEqual(GraphSVG.format(1e30), "1e+30")
        for mode in GraphSVG.HeadMode.allCases {
            let svg = GraphSVG.render(graphs: g, layers: 2, heads: 2, words: words, mode: mode)
            let cells = try SVGCells.parse(svg)
            XCTAssertEqual(cells.cells.count, mode == .average ? 2 * 16 : 4 * 16)
            if mode == .separate {
                let nan = try XCTUnwrap(cells.cells.first { $0.layer == 0 && $0.head == "0" && $0.row == 1 && $0.column == 0 })
                XCTAssertTrue(nan.value.isNaN)
                XCTAssertTrue(nan.fill == (255, 255, 255))
                XCTAssertTrue(svg.contains("<title>cat ← the: nan</title>"))
            }
        }
    }

    func testWriteIsAtomicAndReadable() throws {
        let path = try temporaryDirectory(self) + "/g.svg"
        let svg = GraphSVG.render(graphs: sampleGraphs(), layers: 2, heads: 2, words: words)
        try GraphSVG.write(svg, to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), svg)
        XCTAssertThrowsError(try GraphSVG.write(svg, to: path + "/no/such/dir.svg"))
    }
}
