import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
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

    /// Within each panel: a larger value is never lighter, the largest is rgb(8, 48, 107), zero is white.
    func checkColoursFollowValues(_ cells: [SVGCells.Cell]) {
        let panels = Dictionary(grouping: cells) { "\($0.layer)/\($0.head)" }
        for (_, panel) in panels {
            let sorted = panel.sorted { $0.value < $1.value }
            for (a, b) in zip(sorted, sorted.dropFirst()) {
                XCTAssertGreaterThanOrEqual(a.fill.0, b.fill.0)
                XCTAssertGreaterThanOrEqual(a.fill.1, b.fill.1)
                XCTAssertGreaterThanOrEqual(a.fill.2, b.fill.2)
                if b.value > a.value + 0.02 { XCTAssertGreaterThan(a.fill.0, b.fill.0, "\(a.value) vs \(b.value)") }
            }
            XCTAssertTrue(sorted.last!.fill == (8, 48, 107))
            XCTAssertTrue(sorted.first!.fill == (255, 255, 255))
        }
    }

    func testColourScale() {
        XCTAssertTrue(GraphSVG.colour(0, maximum: 0.5) == (255, 255, 255))
        XCTAssertTrue(GraphSVG.colour(0.5, maximum: 0.5) == (8, 48, 107))
        XCTAssertTrue(GraphSVG.colour(0.25, maximum: 0.5) == (132, 152, 181))  // halfway: (255+8)/2, (255+48)/2, (255+107)/2
        XCTAssertTrue(GraphSVG.colour(0.3, maximum: 0) == (255, 255, 255))
    }

    func testWriteIsAtomicAndReadable() throws {
        let path = try temporaryDirectory(self) + "/g.svg"
        let svg = GraphSVG.render(graphs: sampleGraphs(), layers: 2, heads: 2, words: words)
        try GraphSVG.write(svg, to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), svg)
        XCTAssertThrowsError(try GraphSVG.write(svg, to: path + "/no/such/dir.svg"))
    }
}
