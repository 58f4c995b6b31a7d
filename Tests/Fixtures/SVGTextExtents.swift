import Foundation
import FoundationXML

/// The `<text>` elements of an SVG document with a conservative estimate of the box each one
/// covers, for tests that check that no label runs off the canvas.
///
/// The estimate is independent of the code that draws: every character is 0.65 em wide (DejaVu
/// Sans, the usual fallback for `sans-serif` on Linux, draws lowercase letters about 0.55 em and
/// digits 0.64 em wide), the text reaches 0.8 em above its baseline and 0.25 em below it.
/// `font-size` is inherited from the nearest ancestor that sets it (16 by default);
/// `text-anchor` start, middle and end and a `rotate(a cx cy)` transform are honoured.
public struct SVGTextExtents {
    public struct Text {
        public var content: String
        public var fontSize: Double
        /// The corners of the estimated box, after the rotation, in user units.
        public var corners: [(x: Double, y: Double)]
        public var attributes: [String: String]
    }

    /// The viewBox (x, y, width, height); nil when the root has none.
    public var viewBox: (x: Double, y: Double, width: Double, height: Double)?
    public var texts: [Text] = []

    /// Parses `svg`; nil if it is not well-formed XML.
    public init?(_ svg: String) {
        final class Delegate: NSObject, XMLParserDelegate {
            var stack: [[String: String]] = []
            var viewBox: (Double, Double, Double, Double)?
            var texts: [Text] = []
            var current: (attributes: [String: String], fontSize: Double, content: String)?

            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) {
                if stack.isEmpty, let box = attributes["viewBox"] {
                    let v = box.split(whereSeparator: { $0 == " " || $0 == "," }).compactMap { Double($0) }
                    if v.count == 4 { viewBox = (v[0], v[1], v[2], v[3]) }
                }
                stack.append(attributes)
                if name == "text" {
                    let size = stack.reversed().lazy.compactMap { $0["font-size"].flatMap(Double.init) }.first ?? 16
                    current = (attributes, size, "")
                }
            }

            func parser(_ parser: XMLParser, foundCharacters string: String) {
                current?.content += string
            }

            func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
                stack.removeLast()
                guard name == "text", let c = current else { return }
                current = nil
                let a = c.attributes, size = c.fontSize
                let x = Double(a["x"] ?? "0") ?? 0, y = Double(a["y"] ?? "0") ?? 0
                let width = 0.65 * size * Double(c.content.count)
                let x0: Double
                switch a["text-anchor"] ?? "start" {
                case "middle": x0 = x - width / 2
                case "end": x0 = x - width
                default: x0 = x
                }
                var corners = [(x0, y - 0.8 * size), (x0 + width, y - 0.8 * size), (x0, y + 0.25 * size), (x0 + width, y + 0.25 * size)]
                if let t = a["transform"], t.hasPrefix("rotate(") {
                    let v = t.dropFirst(7).dropLast().split(whereSeparator: { $0 == " " || $0 == "," }).compactMap { Double($0) }
                    let angle = (v.first ?? 0) * Double.pi / 180
                    let (cx, cy) = v.count == 3 ? (v[1], v[2]) : (0, 0)
                    corners = corners.map { p in
                        let dx = p.0 - cx, dy = p.1 - cy
                        return (cx + dx * cos(angle) - dy * sin(angle), cy + dx * sin(angle) + dy * cos(angle))
                    }
                }
                texts.append(Text(content: c.content, fontSize: size, corners: corners.map { (x: $0.0, y: $0.1) }, attributes: a))
            }
        }
        let parser = XMLParser(data: Data(svg.utf8))
        let delegate = Delegate()
        parser.delegate = delegate
        guard parser.parse() else { return nil }
        viewBox = delegate.viewBox.map { (x: $0.0, y: $0.1, width: $0.2, height: $0.3) }
        texts = delegate.texts
    }

    /// The texts whose estimated box leaves the viewBox (all of them without a viewBox), each as
    /// "content: corner (x, y)".
    public var overflowing: [String] {
        texts.compactMap { text in
            guard let b = viewBox else { return text.content + ": no viewBox" }
            guard let out = text.corners.first(where: { $0.x < b.x || $0.y < b.y || $0.x > b.x + b.width || $0.y > b.y + b.height }) else {
                return nil
            }
            return "\(text.content): corner (\(Int(out.x)), \(Int(out.y))) outside \(b.width) × \(b.height)"
        }
    }
}
