import ArgumentParser
import Corpus
import Foundation
import GLoMoGraph

extension GraphSVG.HeadMode: ExpressibleByArgument {}

struct GLoMoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "glomo",
        abstract: "Inspect pretrained GLoMo graph models.",
        subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw the graphs a pretrained GLoMo model predicts for one text as SVG heatmaps.",
            discussion: """
                The text is tokenized as the model's corpus was (config.json) and mapped to its \
                vocabulary (unknown words become <unk> for the model but keep their spelling in the \
                picture; the <eos> after the last sentence is left out). Each graph layer is drawn as a \
                heatmap: row = the word, column = the earlier word it attends to, darker = larger \
                weight (white → dark blue on one scale for all panels, shown by the colour bar under \
                the title; each panel's title names its own largest weight). Unknown words are drawn \
                with a trailing '?', explained by a legend line. --heads average draws one panel per \
                layer with its heads averaged; --heads separate one panel per layer and head. Hovering \
                a cell shows its weight. The file is written atomically. A model whose weights are \
                NaN or infinite, or so large that the graphs are not finite, is an error naming its \
                model.safetensors (nothing is written).

                Example: lmtool glomo show --model glomo --text "The old man saw the ship ." --out graph.svg
                """)

        @Option(help: "The GLoMo model directory (lmtool pretrain-glomo --out).") var model: String
        @Option(help: "The text to draw (one or a few sentences).") var text: String
        @Option(help: "Where to write the SVG.") var out: String
        @Option(help: "average (one panel per layer) or separate (one panel per head).") var heads: GraphSVG.HeadMode = .average
        @Option(name: .customLong("max-tokens"), parsing: .unconditional, help: "Longest text accepted, in tokens.") var maxTokens = 80

        func validate() throws {
            try OptionBounds.checkPaths("--model", [model])
            try OptionBounds.checkPaths("--out", [out])
            if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        }

        func run() throws {
            let (_, config, _) = try GLoMoModelDirectory.open(at: model)
            var words = TokenStream(config.tokenization).tokens(text)
            if words.last == Vocabulary.endOfSentenceToken { words.removeLast() }
            if words.isEmpty { throw ValidationError("--text has no tokens") }
            if words.count > maxTokens { throw ValidationError("--text has \(words.count) tokens, more than --max-tokens \(maxTokens)") }
            let graphModel = try GLoMoModelDirectory.load(at: model, maxSteps: words.count, maxBatch: 1)
            let ids = words.map { graphModel.vocabulary.id($0) }
            let g = try graphModel.finiteGraphs(ids: ids, steps: ids.count, batch: 1)
            let unknownWords = zip(words, ids).map { $1 == Vocabulary.unknownID && $0 != Vocabulary.unknownToken }
            let c = config.graph
            let svg = GraphSVG.render(graphs: g, layers: c.graphLayers, heads: c.heads, words: words, mode: heads,
                                      title: "GLoMo graphs of \(model) (\(c.graphLayers) layers × \(c.heads) heads)",
                                      unknown: unknownWords)
            try GraphSVG.write(svg, to: out)
            let unknown = zip(words, ids).filter { $1 == Vocabulary.unknownID }.count
            print("wrote \(out): \(words.count) tokens (\(unknown) unknown, marked '?'), \(c.graphLayers) layers, heads \(heads.rawValue)")
        }
    }
}
