import Foundation
import FoundationXML
import TestFixtures
import XCTest
@testable import LM

/// The report plots as a reader sees them: one-epoch curves have visible markers, axis tick
/// labels are distinct numbers in order, and no text (title, legend, arm labels) runs off the
/// canvas, by an estimate of text widths independent of the plotting code (SVGTextExtents).
/// PlotRenderTests (LMToolTests) renders the same kind of plots with rsvg-convert.
final class SVGPlotTests: XCTestCase {
    /// Every element named `name` with its attributes; fails the test if `svg` is not well-formed.
    func elements(_ svg: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) -> [[String: String]] {
        final class Collector: NSObject, XMLParserDelegate {
            let name: String
            var found: [[String: String]] = []
            var texts: [String] = []
            init(_ name: String) { self.name = name }
            func parser(_ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) {
                if element == name { found.append(attributes) }
            }
        }
        let parser = XMLParser(data: Data(svg.utf8))
        let collector = Collector(name)
        parser.delegate = collector
        XCTAssertTrue(parser.parse(), "not well-formed: \(parser.parserError.map { "\($0)" } ?? "")", file: file, line: line)
        return collector.found
    }

    /// The y-axis tick labels (right-aligned, unrotated texts) as (value, y), top to bottom.
    func yTicks(_ svg: String) -> [(label: String, y: Double)] {
        let extents = SVGTextExtents(svg)!
        return extents.texts.filter { $0.attributes["text-anchor"] == "end" && $0.attributes["transform"] == nil }
            .map { ($0.content, Double($0.attributes["y"]!)!) }
    }

    let longArm = "domain-sentence-finetune-glomo-hidden"

    /// Old code: a one-point polyline, which draws nothing, and no marker.
    func testOneEpochCurvesHaveMarkers() {
        let svg = SVGPlot.validationCurves([.init(arm: "random", epochs: [1], ppl: [620]), .init(arm: longArm, epochs: [1], ppl: [610])])
        let markers = elements(svg, "circle").filter { $0["class"] == "marker" }
        XCTAssertEqual(markers.map { $0["data-arm"] }, ["random", longArm], svg)
        guard markers.count == 2 else { return }
        // Higher perplexity is higher up (smaller y); both sit inside the plot, not on its edge.
        XCTAssertLessThan(Double(markers[0]["cy"]!)!, Double(markers[1]["cy"]!)!)
        let axisX = elements(svg, "line").compactMap { $0["x1"] == $0["x2"] ? Double($0["x1"]!) : nil }.min()!
        XCTAssertGreaterThan(Double(markers[0]["cx"]!)!, axisX + 50, "the single epoch is drawn away from the y axis")
    }

    func testMultiEpochCurvesHaveOneMarkerPerPoint() {
        let svg = SVGPlot.validationCurves([.init(arm: "random", epochs: [1, 2, 3], ppl: [200, 150, 140])])
        XCTAssertEqual(elements(svg, "polyline").first?["points"]?.split(separator: " ").count, 3)
        XCTAssertEqual(elements(svg, "circle").filter { $0["class"] == "marker" }.count, 3)
    }

    /// Old code: a flat series (one epoch, 620) got ticks 619, 619.5, 620, 620.5, 621 printed
    /// without decimals: "619, 620, 620, 620, 621" ("620, 620, 620" on the issue's run).
    func testTickLabelsAreDistinctNumbersInOrder() {
        let cases: [[Double]] = [[620], [620, 620.4], [0.001, 0.0013], [95, 10_000], [1.5, 1.5, 1.5], [33.25, 33.75]]
        for values in cases {
            let curves = values.enumerated().map { AblationReport.Curve(arm: "arm\($0.offset)", epochs: [1], ppl: [$0.element]) }
            checkTicks(SVGPlot.validationCurves(curves), "\(values)")
        }
        for means in [[-10.0], [0.2], [-0.004, 0.003], [-1500, 20]] {
            let rows = means.enumerated().map { i, m in
                AblationReport.Row(arm: "arm\(i)", seeds: [1], validPPLMean: nil, validPPLSD: nil, testPPLMean: nil, testPPLSD: nil,
                                   difference: .init(mean: m, low: .nan, high: .nan, count: 1), bootstrap: nil, parameters: nil,
                                   trainableParameters: nil, seconds: nil, notes: [])
            }
            checkTicks(SVGPlot.differences(rows, baseline: "random"), "differences \(means)")
        }
    }

    /// The subtitle names the grey bootstrap interval only when one is drawn (a grid without
    /// test-sentences.tsv has none; before, the legend promised a grey line that was not there).
    func testTheLegendNamesOnlyTheIntervalsDrawn() {
        func row(_ bootstrap: Statistics.Interval?) -> AblationReport.Row {
            AblationReport.Row(arm: "arm", seeds: [1, 2], validPPLMean: nil, validPPLSD: nil, testPPLMean: nil, testPPLSD: nil,
                               difference: .init(mean: -3, low: -5, high: -1, count: 2), bootstrap: bootstrap, parameters: nil,
                               trainableParameters: nil, seconds: nil, notes: [])
        }
        let without = SVGPlot.differences([row(nil)], baseline: "random")
        XCTAssertFalse(without.contains("grey"), without)
        XCTAssertTrue(elements(without, "line").allSatisfy { $0["class"] != "bootstrap" })
        let with = SVGPlot.differences([row(.init(mean: -3, low: -4, high: -2, count: 2))], baseline: "random")
        XCTAssertTrue(with.contains("grey: bootstrap over seeds, then test sentences"), with)
        XCTAssertFalse(with.contains("grey: bootstrap over test sentences"), "the sentence-only interval is not drawn")
        XCTAssertEqual(elements(with, "line").filter { $0["class"] == "bootstrap" }.count, 1)
    }

    func checkTicks(_ svg: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        let ticks = yTicks(svg)
        XCTAssertGreaterThanOrEqual(ticks.count, 3, name, file: file, line: line)
        XCTAssertEqual(Set(ticks.map(\.label)).count, ticks.count, "\(name): repeated tick labels \(ticks.map(\.label))", file: file, line: line)
        let values = ticks.map { Double($0.label) }
        XCTAssertFalse(values.contains(nil), "\(name): \(ticks.map(\.label))", file: file, line: line)
        // Larger values higher up: sorted by y (downwards) the values decrease.
        let byY = ticks.sorted { $0.y < $1.y }.compactMap { Double($0.label) }
        XCTAssertEqual(byY, byY.sorted(by: >), name, file: file, line: line)
        XCTAssertFalse(ticks.contains { $0.label == "-0" }, name, file: file, line: line)
    }

    /// Old code: differences.svg was 360 px wide under a 70-character title, and long arm names
    /// ran off the left and bottom edges; the legend of valid-ppl.svg cut long arm names.
    func testNoTextLeavesTheCanvas() {
        let arms = ["random", longArm, "word2vec-frozen", "WWW-MMM-Wide-Capitals"]
        let curves = arms.map { AblationReport.Curve(arm: $0, epochs: [1, 2], ppl: [200, 150]) }
        let rows = arms.dropFirst().enumerated().map { i, arm in
            AblationReport.Row(arm: arm, seeds: [1, 2], validPPLMean: nil, validPPLSD: nil, testPPLMean: nil, testPPLSD: nil,
                               difference: .init(mean: Double(i) - 1, low: Double(i) - 3, high: Double(i) + 1, count: 2),
                               bootstrap: .init(mean: Double(i) - 1, low: Double(i) - 2, high: Double(i), count: 2), parameters: nil,
                               trainableParameters: nil, seconds: nil, notes: [])
        }
        for (name, svg) in [("valid-ppl", SVGPlot.validationCurves(curves)), ("valid-ppl one arm", SVGPlot.validationCurves([curves[1]])),
                            ("differences", SVGPlot.differences(Array(rows), baseline: "random")),
                            ("differences one arm", SVGPlot.differences([rows[0]], baseline: "random")),
                            ("differences long baseline", SVGPlot.differences([rows[1]], baseline: longArm))] {
            guard let extents = SVGTextExtents(svg) else { XCTFail("\(name): not well-formed"); continue }
            XCTAssertGreaterThan(extents.texts.count, 5, name)
            XCTAssertEqual(extents.overflowing, [], name)
        }
    }
}
