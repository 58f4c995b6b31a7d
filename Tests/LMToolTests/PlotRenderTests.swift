import Foundation
import XCTest

/// Every SVG lmtool writes (`report`'s valid-ppl.svg and differences.svg, `glomo show`'s
/// heatmaps) rendered to PNG by a real renderer, Debian's `rsvg-convert` (librsvg2-bin, installed
/// with apt-get when missing and running as root; the tests skip with a message otherwise), and
/// read back by scripts/png_stats.py (python3, standard library): the picture has ink, and nothing
/// is drawn outside the canvas. Each SVG is rendered with a margin added around its viewBox, so
/// text that would run off the canvas shows up in the margin. With KEEP_PLOTS=1 in the
/// environment the temporary folder (SVGs and PNGs) is kept, to look at.
final class PlotRenderTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "plot-render-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if ProcessInfo.processInfo.environment["KEEP_PLOTS"] == nil { try? FileManager.default.removeItem(atPath: dir) } }

    /// Runs `executable` (an absolute path, or a name looked up by /usr/bin/env) with `arguments`.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
        process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// The path of rsvg-convert, installing librsvg2-bin when missing and possible; nil (with the
    /// reason) when not.
    static let renderer: (path: String?, reason: String) = {
        let candidates = ["/usr/bin/rsvg-convert", "/usr/local/bin/rsvg-convert"]
        if let found = candidates.first(where: FileManager.default.isExecutableFile) { return (found, "") }
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/apt-get") else {
            return (nil, "rsvg-convert is not installed (Debian: apt-get install librsvg2-bin) and this is not root with apt-get")
        }
        let install = ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "--no-install-recommends", "librsvg2-bin"]
        var result = try? run("/usr/bin/apt-get", install)
        if result?.status != 0 {  // stale package lists
            _ = try? run("/usr/bin/apt-get", ["-o", "DPkg::Lock::Timeout=300", "update"])
            result = try? run("/usr/bin/apt-get", install)
        }
        if let found = candidates.first(where: FileManager.default.isExecutableFile) { return (found, "") }
        let last = result?.output.split(separator: "\n").last.map(String.init) ?? "apt-get did not run"
        return (nil, "rsvg-convert could not be installed with apt-get install librsvg2-bin: \(last)")
    }()

    /// scripts/png_stats.py of this checkout.
    static let pngStats = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/png_stats.py").path

    /// The renderer, or a skip with the reason.
    func rsvgConvert() throws -> String {
        guard let path = Self.renderer.path else { throw XCTSkip(Self.renderer.reason) }
        guard (try? Self.run("python3", ["-c", "import zlib"]))?.status == 0 else { throw XCTSkip("python3 is not available to read the PNGs") }
        return path
    }

    /// png_stats.py's JSON for `png`.
    func stats(_ png: String, box: [Int] = [], count colours: [String] = []) throws -> [String: Any] {
        let r = try Self.run("python3", [Self.pngStats, png] + box.map(String.init) + colours.flatMap { ["--count", $0] })
        XCTAssertEqual(r.status, 0, r.output)
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any], r.output)
    }

    /// The canvas width and height of an SVG (its root's width and height attributes).
    func canvas(_ svg: String) throws -> (width: Double, height: Double) {
        let root = try XCTUnwrap(svg.range(of: "<svg [^>]*>", options: .regularExpression).map { String(svg[$0]) })
        func attribute(_ name: String) throws -> Double {
            let r = try XCTUnwrap(root.range(of: " \(name)=\"[0-9.]+\"", options: .regularExpression), root)
            return try XCTUnwrap(Double(root[r].split(separator: "\"")[1]))
        }
        return (try attribute("width"), try attribute("height"))
    }

    /// The margin added around every canvas before rendering, in user units (= pixels).
    let margin = 60

    /// Renders the SVG at `path` to PNG with `margin` added on every side of its viewBox, so the
    /// original canvas is the box [margin, margin + width) × [margin, margin + height) of the
    /// PNG. Returns the PNG's path, png_stats.py's JSON with that box, and the canvas size.
    func renderWithMargin(_ path: String) throws -> (png: String, stats: [String: Any], width: Double, height: Double) {
        let tool = try rsvgConvert()
        let svg = try String(contentsOfFile: path, encoding: .utf8)
        let (width, height) = try canvas(svg)
        let m = Double(margin)
        let root = try XCTUnwrap(svg.range(of: "<svg [^>]*>", options: .regularExpression))
        var widened = String(svg[root])
        for (pattern, replacement) in [(" width=\"[0-9.]+\"", " width=\"\(width + 2 * m)\""), (" height=\"[0-9.]+\"", " height=\"\(height + 2 * m)\""),
                                       (" viewBox=\"[^\"]*\"", " viewBox=\"\(-m) \(-m) \(width + 2 * m) \(height + 2 * m)\"")] {
            let range = try XCTUnwrap(widened.range(of: pattern, options: .regularExpression), widened)
            widened.replaceSubrange(range, with: replacement)
        }
        let marginSVG = path + ".margin.svg", png = path + ".png"
        try (svg.replacingCharacters(in: root, with: widened)).write(toFile: marginSVG, atomically: true, encoding: .utf8)
        let r = try Self.run(tool, ["-f", "png", "-o", png, marginSVG])
        XCTAssertEqual(r.status, 0, "\(path): \(r.output)")
        let box = [margin - 1, margin - 1, margin + Int(width.rounded(.up)) + 1, margin + Int(height.rounded(.up)) + 1]
        let s = try stats(png, box: box)
        XCTAssertEqual(s["width"] as? Int, Int((width + 2 * m).rounded(.up)), path)
        return (png, s, width, height)
    }

    /// Renders the SVG at `path` (`renderWithMargin`) and checks that the canvas has ink (at
    /// least `minimumInk` of its pixels, in more than two colours) and that no ink falls outside
    /// it (it would have been cut off). Returns the PNG's path; `shifted` maps canvas boxes into it.
    @discardableResult
    func render(_ path: String, minimumInk: Double = 0.01, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let (png, s, width, height) = try renderWithMargin(path)
        let ink = (s["ink"] as? Int ?? 0) - (s["ink_outside"] as? Int ?? 0)
        XCTAssertGreaterThan(Double(ink), minimumInk * width * height, "\(path): almost blank (\(ink) pixels of ink)", file: file, line: line)
        XCTAssertGreaterThan(s["colours"] as? Int ?? 0, 2, path, file: file, line: line)
        XCTAssertEqual(s["ink_outside"] as? Int, 0, "\(path): drawn outside its \(width) × \(height) canvas: ink in \(s["bbox"] ?? "")",
                       file: file, line: line)
        return png
    }

    /// A box [x0, y0, x1, y1] of a canvas as a box of its rendering by `render`.
    func shifted(_ box: [Int]) -> [Int] { box.map { $0 + margin } }

    /// A finished run directory written by hand: metrics.jsonl with one validation record per
    /// epoch and summary.json.
    func writeRun(_ results: String, _ arm: String, seed: Int, valid: [Double], test: Double, domains: [String: Double] = [:]) throws {
        let run = "\(results)/runs/\(arm)-seed\(seed)"
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let metrics = valid.enumerated().map { e, ppl in
            "{\"epoch\":\(e + 1),\"step\":\(e + 1),\"split\":\"valid\",\"loss\":\(log(ppl)),\"ppl\":\(ppl),\"lr\":1,"
                + "\"tokens_per_second\":1,\"elapsed_seconds\":1,\"wall_time\":\"2026-12-01T00:00:00Z\"}\n"
        }.joined()
        try metrics.write(toFile: run + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let byDomain = domains.isEmpty ? "" : ",\"test_by_domain\":{" + domains.keys.sorted().map {
            "\"\($0)\":{\"log_prob\":\(-100 * log(domains[$0]!)),\"ppl\":\(domains[$0]!),\"sentences\":4,\"tokens\":100}"
        }.joined(separator: ",") + "}"
        let summary = "{\"epochs\":\(valid.count),\"parameters\":1234,\"seconds\":3,\"test_ppl\":\(test),\"trainable_parameters\":1000,\"valid_ppl\":\(valid.min()!)\(byDomain)}\n"
        try summary.write(toFile: run + "/summary.json", atomically: true, encoding: .utf8)
    }

    /// The plot area of a report plot: the box spanned by its two axis lines (the first two lines).
    func plotArea(_ svg: String) throws -> [Int] {
        let lines = svg.components(separatedBy: "\n").filter { $0.hasPrefix("<line x1=") }.prefix(2)
        func numbers(_ line: String) -> [Double] {
            ["x1", "y1", "x2", "y2"].compactMap { name in
                line.range(of: " \(name)=\"[-0-9.]+\"", options: .regularExpression).flatMap { Double(line[$0].split(separator: "\"")[1]) }
            }
        }
        let v = numbers(String(lines.first ?? "")), h = numbers(String(lines.last ?? ""))
        XCTAssertEqual(v.count + h.count, 8, "axis lines of \(svg.prefix(400))")
        guard v.count == 4, h.count == 4 else { return [0, 0, 0, 0] }
        return [Int(v[0]) + 2, Int(v[1]), Int(h[2]) + 1, Int(v[3]) - 1]  // right of the y axis, above the x axis
    }

    let longArm = "domain-sentence-finetune-glomo-hidden"

    /// The checker itself: a 20 × 10 black rectangle at (30, 20) on a 100 × 50 canvas is 200
    /// black pixels, and drawn half off the canvas it is seen in the margin.
    func testTheCheckerSeesAKnownPicture() throws {
        _ = try rsvgConvert()
        let path = dir + "/known.svg"
        func write(x: Int) throws {
            try """
                <svg xmlns="http://www.w3.org/2000/svg" width="100" height="50" viewBox="0 0 100 50">
                <rect x="\(x)" y="20" width="20" height="10" fill="#000000"/><rect x="0" y="0" width="3" height="3" fill="#ff0000"/><rect x="97" y="48" width="3" height="2" fill="#0000ff"/></svg>
                """.write(toFile: path, atomically: true, encoding: .utf8)
        }
        try write(x: 30)
        let png = try render(path, minimumInk: 0.03)
        let s = try stats(png, count: ["000000", "ff0000"])
        XCTAssertEqual(s["ink"] as? Int, 215)
        XCTAssertEqual(s["bbox"] as? [Int], shifted([0, 0, 100, 50]))
        XCTAssertEqual(s["counts"] as? [String: Int], ["000000": 200, "ff0000": 9])
        try write(x: 90)
        let off = try renderWithMargin(path).stats
        // x 90 to 110 on a canvas 100 wide: columns 101 to 109 are outside the box, which
        // allows one pixel of anti-aliasing: 9 × 10 pixels.
        XCTAssertEqual(off["ink_outside"] as? Int, 90, "half of the rectangle is off the canvas: \(off)")
    }

    /// Old code: valid-ppl.svg of one-epoch runs held one-point polylines, which draw nothing;
    /// differences.svg cut its 70-character title and the long arm name on both sides.
    func testOneEpochReportPlots() throws {
        _ = try rsvgConvert()
        let results = dir + "/one"
        try writeRun(results, "random", seed: 1, valid: [620], test: 630)
        try writeRun(results, longArm, seed: 1, valid: [610], test: 600)
        let r = try runLMTool(["report", results, "--resamples", "10"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let curves = results + "/valid-ppl.svg"
        let png = try render(curves)
        // Each arm's colour (palette: #1f77b4, #ff7f0e) is drawn inside the plot area: its marker.
        let inside = try stats(png, box: shifted(plotArea(try String(contentsOfFile: curves, encoding: .utf8))), count: ["1f77b4", "ff7f0e"])
        let counts = inside["counts"] as? [String: Int] ?? [:]
        XCTAssertGreaterThan(counts["1f77b4"] ?? 0, 15, "random's single point is visible: \(inside)")
        XCTAssertGreaterThan(counts["ff7f0e"] ?? 0, 15, "the other arm's single point is visible: \(inside)")
        try render(results + "/differences.svg")
    }

    func testMultiEpochReportPlots() throws {
        _ = try rsvgConvert()
        let results = dir + "/multi"
        for seed in 1...2 {
            try writeRun(results, "random", seed: seed, valid: [200, 170, 160, 155].map { $0 + Double(seed) }, test: 150 + Double(seed))
            try writeRun(results, "word2vec-frozen", seed: seed, valid: [190, 160, 150, 145].map { $0 + Double(seed) }, test: 140 + 2 * Double(seed))
            try writeRun(results, longArm, seed: seed, valid: [195, 165, 152, 150].map { $0 - Double(seed) }, test: 148 - Double(seed))
        }
        let r = try runLMTool(["report", results, "--resamples", "10"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let curves = results + "/valid-ppl.svg"
        let png = try render(curves)
        let inside = try stats(png, box: shifted(plotArea(try String(contentsOfFile: curves, encoding: .utf8))), count: ["1f77b4", "ff7f0e", "2ca02c"])
        for (colour, count) in inside["counts"] as? [String: Int] ?? [:] {
            XCTAssertGreaterThan(count, 200, "\(colour): a curve over four epochs: \(inside)")
        }
        try render(results + "/differences.svg")
    }

    /// domains.svg (the per-domain forest plot): long arm and domain names inside the canvas, a
    /// green point for the domain the arm improves and a red one for the domain it worsens.
    func testPerDomainReportPlot() throws {
        _ = try rsvgConvert()
        let results = dir + "/domains"
        for seed in 1...2 {
            let s = Double(seed)
            try writeRun(results, "random", seed: seed, valid: [200], test: 150, domains: ["fiction": 150 + s, "software_docs": 90 + s])
            try writeRun(results, longArm, seed: seed, valid: [190], test: 148, domains: ["fiction": 130 + 2 * s, "software_docs": 99 + s])
        }
        let r = try runLMTool(["report", results, "--resamples", "10"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("| \(longArm) | software_docs | 2 | 91.50 | 100.50 | +9.00 [9.00, 9.00] |"), r.stdout)
        let png = try render(results + "/domains.svg")
        let counts = try stats(png, count: ["2ca02c", "d62728"])["counts"] as? [String: Int] ?? [:]
        XCTAssertGreaterThan(counts["2ca02c"] ?? 0, 20, "fiction's green point: \(counts)")
        XCTAssertGreaterThan(counts["d62728"] ?? 0, 20, "software_docs' red point: \(counts)")
    }

    /// Old code: no colour bar, and the `?` on unknown words was not explained.
    func testGLoMoShowHeatmaps() throws {
        _ = try rsvgConvert()
        var text = ""
        let subjects = ["the cat", "a dog", "the old man", "my friend"], verbs = ["sat on", "saw", "walked to"]
        for i in 0..<400 { text += "\(subjects[i % 4]) \(verbs[i % 3]) the mat .\n" }
        try text.write(toFile: dir + "/corpus.txt", atomically: true, encoding: .utf8)
        let pretrain = try runLMTool(["pretrain-glomo", "--corpus", dir + "/corpus.txt", "--out", dir + "/m", "--embedding-size", "8", "--heads", "2",
                                      "--graph-layers", "2", "--conv-layers", "1", "--sequence-length", "8", "--batch-size", "4", "--positions", "4",
                                      "--min-count", "1", "--valid-sequences", "4", "--threads", "1", "--steps", "3"])
        XCTAssertEqual(pretrain.status, 0, pretrain.stderr)
        for (name, heads, sentence) in [("average", "average", "the old man saw a zebra on the internationalisation-committee ."),
                                        ("separate", "separate", "the cat")] {
            let svg = "\(dir)/\(name).svg"
            let r = try runLMTool(["glomo", "show", "--model", dir + "/m", "--text", sentence, "--out", svg, "--heads", heads])
            XCTAssertEqual(r.status, 0, r.stderr)
            let content = try String(contentsOfFile: svg, encoding: .utf8)
            XCTAssertTrue(content.contains("class=\"colour-bar\""), "\(name): a colour bar")
            XCTAssertTrue(content.contains("one scale for all panels"), "\(name): the caption says the scale is shared")
            let png = try render(svg, minimumInk: 0.005)
            // The colour bar (x 10 to 210, y 50 to 62 under the title) is a gradient: its middle
            // colour (half of rgb(8, 48, 107)) and its dark end are drawn.
            let bar = try stats(png, box: shifted([12, 52, 208, 60]), count: ["8397b5", "08306b"])
            let counts = bar["counts"] as? [String: Int] ?? [:]
            XCTAssertGreaterThan(counts["8397b5"] ?? 0, 0, "\(name): \(bar)")
            XCTAssertGreaterThan(counts["08306b"] ?? 0, 0, "\(name): \(bar)")
            if name == "average" {
                XCTAssertTrue(content.contains(">zebra?</text>"), "unknown words keep their '?'")
                XCTAssertTrue(content.contains("word? = not in the model&apos;s vocabulary"), "a legend explains '?'")
            } else {
                XCTAssertFalse(content.contains("class=\"legend\""), "no legend without unknown words")
            }
        }
    }
}
