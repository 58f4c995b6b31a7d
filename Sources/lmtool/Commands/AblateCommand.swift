import ArgumentParser
@preconcurrency import Glibc  // stdout, a C global that Swift 6 cannot check (written from one thread)
import Corpus
import Foundation
import LM
import Support

struct AblateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ablate",
        abstract: "Run the reverse-transfer grid: embedding sources x modes x GLoMo x seeds, then the report.",
        discussion: """
            Plans an ordered list of lmtool commands and runs each as a subprocess: the shared \
            vocabulary (RESULTS/vocab.txt, built once from the training split), each pretraining \
            step once (cached in RESULTS/cache/<hash>/, the hash over the corpus files' content, the \
            vocabulary and the settings), then one `lmtool train` per arm and seed in \
            RESULTS/runs/<arm>-seed<k>/. Running the same command again skips what is finished \
            (summary.json or the output file present), continues interrupted runs with --resume \
            and restarts a run directory left without a checkpoint with --force. At the end the \
            report is printed and written (see `lmtool report`). Pretraining steps run with \
            --threads 1, so a cache entry is a function of its key. A file:PATH arm is named \
            by the file's stem and content hash (file-emb-3f2a9c0d-frozen). Before anything runs, \
            every step's arguments are parsed by its own command, and runs started with other \
            pretrained inputs than the grid now gives are refused.

            Data: --corpus files split by records, or --train/--valid/--test files (each its split \
            whole, as lmtool train takes them: PTB, WikiText-2); the vocabulary is built from the \
            training split either way. Split files allow the sources random, word2vec (trained on \
            the training files) and file:PATH, without GLoMo: the other pretraining commands split \
            a --corpus by records.

            Sources: random, word2vec, bilm, domain-paragraph, domain-sentence, \
            domain-paragraph-contextual, domain-sentence-contextual, file:PATH. Modes: frozen, \
            finetune, concat (random has none). GLoMo: off, embeddings, hidden. Pretraining sizes \
            follow the LM's embedding size; the BiLSTMs get half of it as hidden size, so \
            contextual vectors fit. Flags override the fields of --spec (a corpus flag at its \
            default value does not). --plan prints the commands instead (to stdout), one shell line \
            each, ending with '# vocabulary', '# pretraining', '# training' or '# report'; every line \
            may run again (train --if-needed, pretrain-domain/pretrain-glomo --if-needed, a test of \
            the output file for the others). --plan-format slurm or parallel prints a ready bash \
            script for sbatch or GNU parallel instead (docs/ablation.md). A results directory \
            whose ablation.json holds a grid with another corpus, vocabulary or train options is \
            refused, with or without --plan.

            Example (scripts/demo.sh): lmtool ablate --out results --corpus \
            corpora/default.jsonl.zst --tokenizer simple --lowercase --max-size 10000 --sources \
            random,domain-paragraph --modes frozen --seeds 2 --preset tiny --epochs 2 \
            --train-tokens 250000 --pretrain-epochs 2

            Many machines: lmtool ablate ... --plan --plan-format slurm > plan.sbatch.sh; bash \
            plan.sbatch.sh submits the grid (RESULTS/report.md at the end). On one machine with \
            many cores: --plan-format parallel > plan.parallel.sh; bash plan.parallel.sh.
            """)

    @Option(help: "The results directory.")
    var out: String

    @Option(parsing: .upToNextOption, help: "Corpus files (JSONL records carry their split, others get the block split).")
    var corpus: [String] = []

    @Option(parsing: .upToNextOption, help: "Instead of --corpus: training files (the whole files), as lmtool train takes them.")
    var train: [String] = []
    @Option(parsing: .upToNextOption, help: "Validation files (with --train).")
    var valid: [String] = []
    @Option(parsing: .upToNextOption, help: "Test files (with --train; optional).")
    var test: [String] = []

    @Option(help: "A JSON spec file (docs/ablation.md); flags override its fields.")
    var spec: String?

    @Option(help: "Comma-separated embedding sources (default random,domain-paragraph).")
    var sources: String?

    @Option(help: "Comma-separated embedding modes: frozen, finetune, concat (default frozen).")
    var modes: String?

    @Option(help: "Comma-separated GLoMo placements: off, embeddings, hidden, and the untrained-predictor controls embeddings-untrained, hidden-untrained (default off).")
    var glomo: String?

    @Option(parsing: .unconditional, help: "Seeds per arm (default 3): runs use --seed 1...N.")
    var seeds: Int?

    @Flag(help: "Print the plan (see --plan-format) to stdout instead of running it.")
    var plan = false

    @Option(name: .customLong("plan-format"),
            help: "With --plan: shell (one idempotent line per step, then the report line), slurm (a bash script submitting sbatch jobs: vocabulary, pretraining array, training array, report, chained by --dependency) or parallel (a bash script running each stage with GNU parallel). Redirect it to a file, e.g. > plan.sbatch.sh, and run it with bash.")
    var planFormat: String = "shell"

    @Option(help: ArgumentHelp("The lmtool binary for the steps (default: this one).", visibility: .hidden))
    var executable: String?

    @OptionGroup(title: "Corpus") var corpusOptions: CorpusOptions

    // The shared vocabulary.
    @Option(help: "Use this vocabulary file instead of building RESULTS/vocab.txt.") var vocab: String?
    @Option(name: .customLong("min-count"), parsing: .unconditional, help: ArgumentHelp(SharedOptions.optionalMinCountHelp)) var minCount: Int?
    @Option(name: .customLong("max-size"), parsing: .unconditional, help: ArgumentHelp(SharedOptions.maxSizeHelp)) var maxSize: Int?

    // lmtool train options, passed to every run (their values as given).
    @OptionGroup(title: "Model") var model: ModelOptions
    @OptionGroup(title: "Training") var training: TrainingOptions

    // Pretraining.
    @Option(name: .customLong("pretrain-epochs"), parsing: .unconditional, help: "--epochs of pretrain-domain, embed bilm, embed word2vec.") var pretrainEpochs: Int?
    @Option(name: .customLong("pretrain-tokens"), parsing: .unconditional, help: "--train-tokens of embed bilm and pretrain-glomo.") var pretrainTokens: Int?
    @Option(name: .customLong("pretrain-hidden-size"), parsing: .unconditional, help: "BiLSTM hidden size of pretrain-domain and embed bilm (default: half the LM's embedding size).") var pretrainHiddenSize: Int?
    @Option(name: .customLong("glomo-steps"), parsing: .unconditional, help: "--steps of pretrain-glomo.") var glomoSteps: Int?
    @Option(name: .customLong("out-of-domain-corpus"), parsing: .upToNextOption,
            help: "The corpus of the word2vec-out source (files read whole, e.g. ../shared/corpora/pretrain-gutenberg-10M.txt.zst).")
    var outOfDomainCorpus: [String] = []
    @Option(help: "The arm the others are compared with (default random).") var baseline: String?

    func validate() throws {
        if AblationPlan.ScriptFormat(rawValue: planFormat) == nil {
            throw ValidationError("--plan-format '\(planFormat)' is not one of " + AblationPlan.ScriptFormat.allCases.map(\.rawValue).joined(separator: ", "))
        }
        if planFormat != "shell" && !plan { throw ValidationError("--plan-format needs --plan") }
        if !corpus.isEmpty && !(train + valid + test).isEmpty {
            throw ValidationError("--corpus and --train/--valid/--test exclude each other in ablate: give one kind of data")
        }
        if corpusOptions.split != nil { throw ValidationError("--split does not apply to ablate: every step uses the corpus's own splits") }
        try SharedOptions.checkVocabularyFile(vocab, minCountGiven: minCount != nil, maxSizeGiven: maxSize != nil)
        for (flag, values) in [("--out", [out]), ("--corpus", corpus), ("--train", train), ("--valid", valid), ("--test", test), ("--spec", [spec]),
                               ("--vocab", [vocab]), ("--out-of-domain-corpus", outOfDomainCorpus), ("--executable", [executable])] as [(String, [String?])] {
            try OptionBounds.checkPaths(flag, values)
        }
        for (flag, minimum, value) in [("--seeds", 1, seeds), ("--min-count", 1, minCount), ("--max-size", 2, maxSize),
                                       ("--pretrain-epochs", 1, pretrainEpochs), ("--pretrain-tokens", 2, pretrainTokens),
                                       ("--pretrain-hidden-size", 1, pretrainHiddenSize), ("--glomo-steps", 1, glomoSteps)] {
            try OptionBounds.checkAtLeast(minimum, value, flag)
        }
    }

    /// The spec: the file (if any), overridden by the flags given.
    func makeSpec() throws -> AblationSpec {
        var s = try spec.map(AblationSpec.load) ?? AblationSpec()
        if !corpus.isEmpty { s.corpus = corpus; s.splits = .init() }
        if !train.isEmpty || !valid.isEmpty || !test.isEmpty {
            s.splits = AblationSpec.SplitFiles(train: train, valid: valid, test: test)
            s.corpus = []
        }
        func list(_ text: String) -> [String] { text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        // A spec's "grids" give each block its own sources, modes, placements and seeds: one flag
        // for all of them would be ambiguous.
        if !s.grids.isEmpty, let flag = [("--sources", sources), ("--modes", modes), ("--glomo", glomo), ("--seeds", seeds.map(String.init))].first(where: { $0.1 != nil })?.0 {
            throw AblationError("\(s.origin ?? "the spec"): its \"grids\" set the arms and seeds; \(flag) applies only to a spec without them")
        }
        if let sources { s.sources = list(sources) }
        if let modes { s.modes = list(modes) }
        if let glomo { s.glomo = list(glomo) }
        if let seeds { s.seeds = seeds }
        let c = corpusOptions
        if c.format != .auto { s.corpusOptions.format = c.format.rawValue }
        if c.tokenizer != .whitespace { s.corpusOptions.tokenizer = c.tokenizer.rawValue }
        if c.lowercase { s.corpusOptions.lowercase = true }
        if c.sentences { s.corpusOptions.sentences = true }
        if c.replaceInvalid { s.corpusOptions.replaceInvalid = true }
        if c.maxLineBytes != Corpus.LineReader.defaultMaxLineBytes { s.corpusOptions.maxLineBytes = c.maxLineBytes }
        if let vocab { s.vocabulary.file = vocab }
        if let minCount { s.vocabulary.minCount = minCount }
        if let maxSize { s.vocabulary.maxSize = maxSize }
        do {
            for (key, value) in model.given + training.given { if let value { try s.train.set(key, value) } }
            if let tieWeights = model.tieWeights {
                try s.train.set(tieWeights ? "no-tie-weights" : "tie-weights", nil)
                try s.train.set(tieWeights ? "tie-weights" : "no-tie-weights", "true")
            }
        } catch let error as AblationError {
            // The flag, not the spec field: `--lr: 'fast' is not a number`.
            throw AblationError(error.description.replacingOccurrences(of: "train.", with: "--", options: .anchored))
        }
        if let pretrainEpochs { s.pretraining.epochs = pretrainEpochs }
        if let pretrainTokens { s.pretraining.trainTokens = pretrainTokens }
        if let pretrainHiddenSize { s.pretraining.hiddenSize = pretrainHiddenSize }
        if let glomoSteps { s.pretraining.glomoSteps = glomoSteps }
        if !outOfDomainCorpus.isEmpty { s.pretraining.outOfDomainCorpus = outOfDomainCorpus }
        if let baseline { s.baseline = baseline }
        return s
    }

    func run() throws {
        let spec = try makeSpec()
        let plan = try AblationPlan(spec: spec, results: out)
        try checkStepArguments(plan)
        try plan.checkExistingRuns()
        try plan.checkRecordedSpec()   // --plan too: its lines would skip the finished runs of another grid
        let executable = self.executable ?? "/proc/self/exe"
        if self.plan {
            // The printed lines name the binary by its real path, so they run anywhere it is installed.
            let shown = self.executable ?? ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "lmtool")
            print(plan.script(executable: shown, format: AblationPlan.ScriptFormat(rawValue: planFormat)!), terminator: "")
            return
        }
        // One ablate per results directory; its steps lock their own run and cache directories.
        try OutputLock.acquire(plan.results)
        try plan.checkRecordedSpec()   // again under the lock: another ablate may have recorded its grid
        try plan.recordSpec()
        let outcome = try AblationRunner(plan: plan, executable: executable).run { print($0); fflush(stdout) }
        let report = try AblationReport.make(results: plan.results, baseline: spec.baseline ?? "random")
        try report.write(to: plan.results)
        print("")
        print(report.markdown(), terminator: "")
        print("\nwrote \(plan.results)/report.md, report.csv, report.json, valid-ppl.svg, differences.svg"
              + (report.domainRows.isEmpty ? "" : ", domains.svg"))
        print("steps: \(outcome.ran.count) run (\(outcome.resumed.count) resumed), \(outcome.skipped.count) already done, \(outcome.failed.count) failed, \(outcome.blocked.count) not run")
        if !outcome.failed.isEmpty {
            throw AblationError("\(outcome.failed.count) step(s) failed: " + outcome.failed.map { "\($0.name) (\($0.reason))" }.joined(separator: ", ")
                                + (outcome.blocked.isEmpty ? "" : "; not run: " + outcome.blocked.joined(separator: ", ")))
        }
    }

    /// Parses every step's arguments with the parser of its own command, in this process, so
    /// that a bad train option or pretraining setting is refused in one line (naming the spec
    /// file) before the vocabulary or any pretraining runs.
    func checkStepArguments(_ plan: AblationPlan) throws {
        for step in plan.steps {
            do {
                let command = try LMTool.parseAsRoot(step.arguments)
                if let train = command as? TrainCommand {
                    try train.checkFlags()
                    _ = try train.makeRequest()
                }
            } catch {
                let what: String
                switch step.stage {
                case .vocabulary: what = "vocabulary settings (lmtool vocab build)"
                case .pretraining: what = "pretraining settings of \(step.name) (lmtool \(step.arguments.prefix(step.arguments.first == "embed" ? 2 : 1).joined(separator: " ")))"
                case .training: what = "train options"
                }
                let message = LMTool.message(for: error).split(whereSeparator: \.isNewline)
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
                throw plan.spec.named(AblationError("\(what): \(message)"))
            }
        }
    }
}
