import Corpus
import Foundation
import Support

/// One command of an ablation: a vocabulary build, a pretraining step, or a training run.
public struct PlannedStep: Equatable, Sendable {
    public enum Stage: String, Codable, Sendable {
        /// `lmtool vocab build`, once, before anything else.
        case vocabulary
        /// `lmtool pretrain-domain`, `embed word2vec`, `embed bilm`, `pretrain-glomo`: each once,
        /// after the vocabulary, independent of each other.
        case pretraining
        /// `lmtool train`, one per arm × seed, after the pretraining steps it uses.
        case training
    }

    public var stage: Stage
    /// `vocab`, `pretrain-domain-paragraph`, `glomo`, or the run directory name (`random-seed1`).
    public var name: String
    /// The arguments after the executable, absolute paths, without `--resume`/`--force`.
    public var arguments: [String]
    /// The step's output: a directory (`resumable`) or a file.
    public var output: String
    /// The file whose presence means the step finished (`summary.json`, or the output file
    /// itself, which its command writes atomically, or the last of several files it writes).
    public var completionMarker: String
    /// Whether the output is a run-like directory that `--resume` continues from its
    /// `last.safetensors` (and `--force` restarts when it has none).
    public var resumable: Bool
    /// Directories to create before running (the parents of file outputs).
    public var directories: [String]
    /// The names of the steps it needs.
    public var dependencies: [String]

    /// Where the step stands on disk (`RunFolder.State`); a file output is `complete` or `fresh`.
    public var state: RunFolder.State {
        guard resumable else { return FileManager.default.fileExists(atPath: completionMarker) ? .complete : .fresh }
        return RunFolder(path: output).state(completionMarker: completionMarker)
    }

    /// The arguments to run now: `--resume` for an interrupted step, `--force` for a partial one.
    public var argumentsForCurrentState: [String] {
        arguments + (state.flag.map { [$0] } ?? [])
    }

    /// The step as one idempotent shell command, the same whatever is on disk, so a scheduler
    /// may run it again (a requeue, a second submission): a run-like directory gets
    /// `--if-needed` (start, `--resume`, `--force` or skip as `RunFolder.State` says); a file output is
    /// guarded by a test of its completion marker. `mkdir -p` of the needed directories first.
    public func command(executable: String) -> String {
        let mkdir = directories.isEmpty ? "" : "mkdir -p " + directories.map(shellQuote).joined(separator: " ") + " && "
        if resumable {
            return mkdir + ([executable] + arguments + ["--if-needed"]).map(shellQuote).joined(separator: " ")
        }
        let run = ([executable] + arguments).map(shellQuote).joined(separator: " ")
        return "if [ -e \(shellQuote(completionMarker)) ]; then echo \(shellQuote(name + ": done, skipped")); else \(mkdir)\(run); fi"
    }

    /// `command(executable:)` ending with a `# stage` marker.
    public func shellLine(executable: String) -> String {
        command(executable: executable) + "  # " + stage.rawValue
    }
}

/// Quotes a word for a POSIX shell: unchanged when it holds only safe characters, else in
/// single quotes with `'` written as `'\''`.
public func shellQuote(_ word: String) -> String {
    let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%")
    if !word.isEmpty && word.allSatisfy({ safe.contains($0) }) { return word }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}

/// The ordered commands of an ablation: the vocabulary build (unless a vocabulary file is
/// given), each pretraining step once, then one `lmtool train` per arm × seed.
///
/// Layout under the results directory:
///
/// ```
/// RESULTS/vocab.txt                    the shared vocabulary
/// RESULTS/cache/<hash>/                one pretraining output, <hash> over inputs and settings
/// RESULTS/runs/<arm>-seed<k>/          one lmtool train run directory
/// ```
///
/// A pretraining output's hash covers the SHA-256 of every corpus file, the vocabulary (its
/// file's content, or how it is built), the command and every setting: changing any of them
/// gives a new cache entry, running the same grid again finds the old one.
///
///     let plan = try AblationPlan(spec: spec, results: "/tmp/results")
///     for step in plan.steps { print(step.shellLine(executable: "lmtool")) }
public struct AblationPlan: Sendable {
    public var spec: AblationSpec
    /// Absolute path of the results directory.
    public var results: String
    public var arms: [AblationArm]
    public var steps: [PlannedStep]
    /// The vocabulary every step uses.
    public var vocabularyPath: String

    public var runsDirectory: String { results + "/runs" }

    public init(spec: AblationSpec, results: String) throws {
        try spec.validate()
        let seededArms = try spec.seededArms()
        let arms = seededArms.map(\.arm)
        self.spec = spec
        let root = AblationPlan.absolute(results)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw AblationError("\(root): exists and is not a directory: give a results directory to --out")
        }
        func expand(_ paths: [String]) throws -> [String] { paths.isEmpty ? [] : try CorpusFiles.expand(paths.map(AblationPlan.absolute)) }
        let corpus = try expand(spec.corpus)
        // Split files (whole files per split) instead of a corpus split by records.
        let splits = spec.splits.map(AblationPlan.absolute)
        let splitFiles = AblationSpec.SplitFiles(train: try expand(splits.train), valid: try expand(splits.valid), test: try expand(splits.test))
        let bySplitFiles = !splitFiles.isEmpty
        /// The data arguments of `lmtool train`.
        let trainData = bySplitFiles ? splits.arguments : ["--corpus"] + corpus
        let corpusFlags = spec.corpusOptions.arguments
        let embeddingSize = try spec.embeddingSize()
        var planned: [PlannedStep] = []

        // 1. The vocabulary.
        var vocabularyIdentity: String
        let vocabPath: String
        if let file = spec.vocabulary.file {
            vocabPath = AblationPlan.absolute(file)
            vocabularyIdentity = "file " + (try AblationPlan.fileHash(vocabPath))
        } else {
            vocabPath = root + "/vocab.txt"
            // From the training split, as lmtool train builds it: the training files whole, or
            // the corpus's training records.
            var arguments = ["vocab", "build"] + (bySplitFiles ? splitFiles.train + ["--out", vocabPath] : corpus + ["--out", vocabPath, "--split", "train"]) + corpusFlags
            if let n = spec.vocabulary.minCount { arguments += ["--min-count", String(n)] }
            if let n = spec.vocabulary.maxSize { arguments += ["--max-size", String(n)] }
            planned.append(PlannedStep(stage: .vocabulary, name: "vocab", arguments: arguments, output: vocabPath,
                                     completionMarker: vocabPath, resumable: false, directories: [root], dependencies: []))
            vocabularyIdentity = "built " + arguments.filter { $0 != vocabPath }.joined(separator: "\u{1}")
        }
        var corpusIdentity = ""
        for file in corpus { corpusIdentity += file + " " + (try AblationPlan.fileHash(file)) + "\n" }
        for (split, files) in [("train", splitFiles.train), ("valid", splitFiles.valid), ("test", splitFiles.test)] {
            for file in files { corpusIdentity += split + " " + file + " " + (try AblationPlan.fileHash(file)) + "\n" }
        }
        let vocabularyStep = spec.vocabulary.file == nil ? ["vocab"] : []

        // 2. Pretraining, each step once.
        let pre = spec.pretraining
        let hidden = pre.hiddenSize ?? max(1, embeddingSize / 2)
        let seed = String(pre.seed ?? 1)
        var pretrainings: [String: PlannedStep] = [:]
        let cache = root + "/cache"
        // Every pretraining step runs on one thread: word2vec's threads update shared
        // matrices without locks (Hogwild), and the others' results depend on the thread count
        // (how sums are split), which would otherwise be the machine's. So a cache entry is a
        // function of its key (on one BLAS kernel set: the bytes may differ between CPUs).
        let threads = ["--threads", "1"]
        /// One pretraining step, planned once per key. `otherCorpus` replaces the grid's corpus
        /// (`word2vec-out`): its files (and their content hashes) then take the corpus's place.
        func pretraining(_ key: String, tool: [String], settings: [String], file: String?, marker: String?,
                         otherCorpus: (files: [String], identity: String)? = nil) -> PlannedStep {
            if let step = pretrainings[key] { return step }
            let settings = settings + threads
            let extra = pre.extra?[tool.joined(separator: " ")] ?? []
            var hash = SHA256()
            hash.update("lmtool ablation cache v2\n" + (otherCorpus?.identity ?? corpusIdentity) + vocabularyIdentity + "\n" + (tool + settings + corpusFlags + extra).joined(separator: "\u{1}"))
            let directory = cache + "/" + String(hash.hexDigest().prefix(16))
            let output = file.map { directory + "/" + $0 } ?? directory
            let corpusArguments = otherCorpus?.files
                ?? (tool == ["embed", "word2vec"] ? (bySplitFiles ? splitFiles.train : corpus) : ["--corpus"] + corpus)
            let arguments = tool + corpusArguments + ["--out", output, "--vocab", vocabPath] + corpusFlags + settings + extra
            let step = PlannedStep(stage: .pretraining, name: key, arguments: arguments, output: output,
                                   completionMarker: file == nil ? directory + "/summary.json" : (marker.map { directory + "/" + $0 } ?? output),
                                   resumable: file == nil, directories: file == nil ? [cache] : [directory], dependencies: vocabularyStep)
            pretrainings[key] = step
            planned.append(step)
            return step
        }
        let outOfDomain = try expand(pre.outOfDomainCorpus ?? [])
        var outOfDomainIdentity = ""
        for file in outOfDomain { outOfDomainIdentity += file + " " + (try AblationPlan.fileHash(file)) + "\n" }
        var epochs: [String] = []
        if let e = pre.epochs { epochs = ["--epochs", String(e)] }
        var tokens: [String] = []
        if let t = pre.trainTokens { tokens = ["--train-tokens", String(t)] }

        /// The embedding file (and the step that makes it) of each source.
        func embeddings(_ source: EmbeddingSource) -> (file: String, step: String?)? {
            switch source {
            case .random: return nil
            case .file(let path): return (AblationPlan.absolute(path), nil)
            case .word2vec:
                // On the training split: the training files whole, or the corpus's training records.
                let s = pretraining("word2vec", tool: ["embed", "word2vec"],
                                    settings: (bySplitFiles ? [] : ["--split", "train"]) + ["--dim", String(embeddingSize), "--seed", seed] + epochs,
                                    file: "word2vec.vec", marker: "word2vec.vec.vocab.txt")
                return (s.output, s.name)
            case .word2vecOut:
                // On another corpus, read whole: its words meet the LM's vocabulary; those it
                // lacks keep random rows (listed in word2vec.vec.fallbacks.txt).
                let s = pretraining("word2vec-out", tool: ["embed", "word2vec"],
                                    settings: ["--dim", String(embeddingSize), "--seed", seed] + epochs,
                                    file: "word2vec.vec", marker: "word2vec.vec.vocab.txt",
                                    otherCorpus: (outOfDomain, "out-of-domain\n" + outOfDomainIdentity))
                return (s.output, s.name)
            case .bilm:
                let s = pretraining("bilm", tool: ["embed", "bilm"],
                                    settings: ["--embedding-size", String(embeddingSize), "--hidden-size", String(hidden), "--seed", seed] + epochs + tokens,
                                    file: "bilm.vec", marker: nil)
                return (s.output, s.name)
            case .domain(let granularity, let contextual):
                // Explicit sentence splitting: also keeps a cache entry from before --granularity
                // sentence split documents itself (it trained on whole documents) from being reused.
                let split = granularity == .sentence && !corpusFlags.contains("--sentences") ? ["--sentences"] : []
                let s = pretraining("domain-" + granularity.rawValue, tool: ["pretrain-domain"],
                                    settings: ["--granularity", granularity.rawValue] + split + ["--embedding-size", String(embeddingSize),
                                               "--hidden-size", String(hidden), "--seed", seed] + epochs,
                                    file: nil, marker: nil)
                return (s.output + (contextual ? "/contextual.vec" : "/embeddings.vec"), s.name)
            }
        }
        var glomoSettings = ["--embedding-size", String(embeddingSize), "--seed", seed] + tokens
        let glomoUntrainedSettings = glomoSettings + ["--steps", "0"]
        if let s = pre.glomoSteps { glomoSettings += ["--steps", String(s)] }

        // The other pretraining commands split a --corpus by records (and pretrain-domain
        // needs its domain labels): they have no split-file form.
        if bySplitFiles {
            for arm in arms {
                let needsCorpus: Bool
                switch arm.source {
                case .bilm, .domain: needsCorpus = true
                default: needsCorpus = false
                }
                if needsCorpus || arm.glomo != .off {
                    throw spec.named(AblationError("arm \(arm.name) pretrains on a --corpus split by records; with --train/--valid/--test "
                                                   + "files the sources are random, word2vec and file:PATH, without GLoMo"))
                }
            }
        }

        // 3. Training: one run per arm × seed.
        let trainFlags = spec.train.arguments
        var runs: [PlannedStep] = []
        for (arm, seeds) in seededArms {
            var armArguments: [String] = [], dependencies = vocabularyStep
            if let (file, step) = embeddings(arm.source) {
                armArguments += ["--embeddings", file, "--embedding-mode", arm.mode!.rawValue]
                if let step { dependencies.append(step) }
            }
            if let site = arm.glomo.site {
                // The untrained control: the same predictor saved at its initialisation.
                let s = arm.glomo.isUntrained
                    ? pretraining("glomo-untrained", tool: ["pretrain-glomo"], settings: glomoUntrainedSettings, file: nil, marker: nil)
                    : pretraining("glomo", tool: ["pretrain-glomo"], settings: glomoSettings, file: nil, marker: nil)
                armArguments += ["--glomo", s.output, "--glomo-on", site.rawValue]
                dependencies.append(s.name)
            }
            for k in 1...seeds {
                let name = "\(arm.name)-seed\(k)"
                let directory = root + "/runs/" + name
                let arguments = ["train", "--run", directory] + trainData + ["--vocab", vocabPath] + corpusFlags
                    + trainFlags + ["--seed", String(k)] + armArguments
                runs.append(PlannedStep(stage: .training, name: name, arguments: arguments, output: directory,
                                        completionMarker: directory + "/summary.json", resumable: true,
                                        directories: [], dependencies: dependencies))
            }
        }
        self.steps = planned + runs
        self.results = root
        self.arms = arms
        self.vocabularyPath = vocabPath
    }

    /// How `ablate --plan` writes the plan.
    public enum ScriptFormat: String, CaseIterable, Sendable {
        /// One shell line per step, in order, then the report line.
        case shell
        /// A bash script that submits the stages with `sbatch`: vocabulary, pretraining (an
        /// array), training (an array), each `--dependency=afterok` on the one before, the
        /// report last (`afterany`: it also reports a partial grid).
        case slurm
        /// A bash script that runs each stage's lines with GNU `parallel`, stage after stage,
        /// then the report.
        case parallel
    }

    /// `lmtool report RESULTS` (with the spec's baseline), the plan's last line.
    public func reportCommand(executable: String) -> String {
        ([executable, "report", results] + (spec.baseline.map { ["--baseline", $0] } ?? [])).map(shellQuote).joined(separator: " ")
    }

    /// The steps of one stage.
    func steps(_ stage: PlannedStep.Stage) -> [PlannedStep] { steps.filter { $0.stage == stage } }

    /// The plan as a script in `format`. Every line is idempotent (`PlannedStep.command`), so
    /// the script can be run again after a failure or an interruption and does only what is left.
    public func script(executable: String, format: ScriptFormat = .shell) -> String {
        switch format {
        case .shell: return shellScript(executable: executable)
        case .slurm: return slurmScript(executable: executable)
        case .parallel: return parallelScript(executable: executable)
        }
    }

    private var title: String {
        let runs = steps.filter { $0.stage == .training }.count
        return "lmtool ablate plan for \(results): \(arms.count) arms x \(spec.grids.isEmpty ? "\(spec.seeds) seeds" : "their seeds = \(runs) runs")"
    }

    private func shellScript(executable: String) -> String {
        var lines = ["# " + title,
                     "# run the vocabulary line first, then the pretraining lines (in any order), then the training lines (in any order),",
                     "# then the report line; each line ends with its stage (grep '# training$' selects the runs) and may run again:",
                     "# a finished step is skipped, an interrupted run resumed."]
        lines += steps.map { $0.shellLine(executable: executable) }
        lines.append(reportCommand(executable: executable) + "  # report")
        return lines.joined(separator: "\n") + "\n"
    }

    private func slurmScript(executable: String) -> String {
        let logs = results + "/slurm"
        var lines = ["#!/bin/bash",
                     "# " + title + " (Slurm)",
                     "# Submit with: bash THIS-FILE (on a machine with sbatch; the paths must be the same on the nodes).",
                     "# Options for every job: sbatch reads SBATCH_PARTITION, SBATCH_ACCOUNT, SBATCH_TIMELIMIT, ... from the",
                     "# environment, or add them to OPTIONS below. Job logs: \(logs)/. Every step is idempotent: submit",
                     "# again after a failure and finished steps are skipped, interrupted runs resumed.",
                     "set -euo pipefail",
                     "OPTIONS=()",
                     "mkdir -p \(shellQuote(logs))",
                     "after=()"]
        var index = 0
        func submit(_ job: String, _ commands: [String], dependency: String?) {
            index += 1
            let array = commands.count > 1 ? " --array=0-\(commands.count - 1)" : ""
            let output = shellQuote(logs + "/" + job + (commands.count > 1 ? "-%A_%a.out" : "-%j.out"))
            lines.append("job=$(sbatch --parsable --job-name=lmtool-\(job)\(array) --output=\(output) \"${OPTIONS[@]}\" \"${after[@]}\" <<'LMTOOL_JOB'")
            lines.append("#!/bin/bash")
            if commands.count > 1 {
                lines.append("case \"$SLURM_ARRAY_TASK_ID\" in")
                for (i, command) in commands.enumerated() { lines += ["\(i))", "  " + command, "  ;;"] }
                lines += ["*) echo \"no step $SLURM_ARRAY_TASK_ID in this array\" >&2; exit 1 ;;", "esac"]
            } else {
                lines.append(commands[0])
            }
            lines.append("LMTOOL_JOB")
            lines.append(")")
            lines.append("echo \"\(job): job ${job%%;*}\"")
            if let dependency { lines.append("after=(--dependency=\(dependency):${job%%;*} --kill-on-invalid-dep=yes)") }
        }
        for stage in [PlannedStep.Stage.vocabulary, .pretraining, .training] {
            let commands = steps(stage).map { $0.command(executable: executable) }
            if !commands.isEmpty { submit(stage.rawValue, commands, dependency: stage == .training ? "afterany" : "afterok") }
        }
        submit("report", [reportCommand(executable: executable)], dependency: nil)
        return lines.joined(separator: "\n") + "\n"
    }

    /// The training runs that need no pretraining step (their only dependency is the
    /// vocabulary): the parallel script runs them beside the pretraining instead of after it.
    var runsWithoutPretraining: [PlannedStep] {
        let pretrainingNames = Set(steps(.pretraining).map(\.name))
        return steps(.training).filter { $0.dependencies.allSatisfy { !pretrainingNames.contains($0) } }
    }

    private func parallelScript(executable: String) -> String {
        var lines = ["#!/bin/bash",
                     "# " + title + " (GNU parallel)",
                     "# Run with: bash THIS-FILE. Each stage's lines run in parallel (LMTOOL_JOBS at a time, default one per",
                     "# core), the stages one after another; the runs that need no pretrained input (random, file:) run beside",
                     "# the pretraining. A failed vocabulary or pretraining step stops the script, failed runs are listed by",
                     "# the report. Every line is idempotent: run the script again to finish what is left.",
                     "set -uo pipefail",
                     "jobs=${LMTOOL_JOBS:-100%}",
                     "status=0",
                     "export LMTOOL_FAILED_RUNS=$(mktemp)",
                     "trap 'rm -f \"$LMTOOL_FAILED_RUNS\"' EXIT"]
        let early = runsWithoutPretraining, earlyNames = Set(early.map(\.name))
        // A run in the pretraining stage records its failure instead of failing the stage,
        // which stops the script only for a failed pretraining step.
        let stages: [(label: String, commands: [String], onFailure: String)] = [
            ("vocabulary", steps(.vocabulary).map { $0.command(executable: executable) }, " || exit $?"),
            (early.isEmpty ? "pretraining" : "pretraining, and the runs without pretrained inputs",
             steps(.pretraining).map { $0.command(executable: executable) }
                + early.map { $0.command(executable: executable) + " || echo \(shellQuote($0.name)) >> \"$LMTOOL_FAILED_RUNS\"" },
             " || exit $?"),
            ("training", steps(.training).filter { !earlyNames.contains($0.name) }.map { $0.command(executable: executable) }, " || status=$?"),
        ]
        for stage in stages where !stage.commands.isEmpty {
            lines.append("echo '# \(stage.label): \(stage.commands.count) step(s)'")
            lines.append("parallel --will-cite -j \"$jobs\" <<'LMTOOL_STAGE'" + stage.onFailure)
            lines += stage.commands
            lines.append("LMTOOL_STAGE")
        }
        lines.append("if [ -s \"$LMTOOL_FAILED_RUNS\" ]; then status=1; fi")
        lines.append("echo '# report'")
        lines.append(reportCommand(executable: executable) + " || status=$?")
        lines.append("exit $status")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Refuses run directories that were started with other pretrained inputs than the plan
    /// gives their arm now: a run of `word2vec-frozen` trained on the word2vec output of other
    /// pretraining settings (another cache entry) would otherwise count as done, and the report
    /// would average it with runs on the new output. Reads `input_representation.path` (or the
    /// `inputRepresentation.path` of runs written before 2026-12-06) and `glomo.path` of each
    /// existing `config.json` (a file without them is not checked).
    public func checkExistingRuns() throws {
        for step in steps where step.stage == .training {
            let configPath = step.output + "/config.json"
            guard let data = FileManager.default.contents(atPath: configPath),
                  let config = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let input = (config["input_representation"] ?? config["inputRepresentation"]) as? [String: Any] else { continue }
            func planned(_ flag: String) -> String? {
                step.arguments.firstIndex(of: flag).map { step.arguments[$0 + 1] }
            }
            let used = [("embeddings", input["path"] as? String, planned("--embeddings")),
                        ("GLoMo model", (config["glomo"] as? [String: Any])?["path"] as? String, planned("--glomo"))]
            for (what, was, now) in used where was != now {
                throw AblationError("\(configPath): this run used \(what) \(was ?? "none"), the grid now gives \(now ?? "none") "
                                    + "(changed pretraining settings or inputs): use another --out, or remove the run")
            }
        }
    }

    /// `RESULTS/ablation.json`, the record of the spec a results directory's grid was run with.
    public var recordedSpecPath: String { results + "/ablation.json" }

    /// The spec as `ablation.json` records it (corpus paths absolute).
    var specToRecord: AblationSpec {
        var spec = self.spec
        spec.corpus = spec.corpus.map { AblationPlan.absolute($0) }
        spec.splits = spec.splits.map { AblationPlan.absolute($0) }
        return spec
    }

    /// Refuses a results directory whose `ablation.json` records a grid with another corpus,
    /// corpus options, vocabulary or train options: its runs would not be comparable, and its
    /// finished runs would be skipped and reported as this grid's. `ablate` and `ablate --plan`
    /// both check it before anything runs or is printed.
    public func checkRecordedSpec() throws {
        let path = recordedSpecPath
        guard FileManager.default.fileExists(atPath: path) else { return }
        let old = try AblationSpec.load(from: path), spec = specToRecord
        var differences: [String] = []
        if old.corpus != spec.corpus || old.splits != spec.splits { differences.append("corpus") }
        if old.corpusOptions != spec.corpusOptions { differences.append("corpus options") }
        if old.vocabulary != spec.vocabulary { differences.append("vocabulary") }
        if old.train != spec.train { differences.append("train options") }
        if !differences.isEmpty {
            throw AblationError("\(path): the results directory holds a grid with other \(differences.joined(separator: ", ")); use another --out")
        }
    }

    /// Creates the results directory and records this spec in `ablation.json` (after
    /// `checkRecordedSpec`).
    public func recordSpec() throws {
        do { try FileManager.default.createDirectory(atPath: results, withIntermediateDirectories: true) } catch {
            throw AblationError("\(results): cannot create the results directory: \((error as NSError).localizedDescription)")
        }
        try AtomicFile.write(Array(try specToRecord.jsonData()) + [10], to: recordedSpecPath)
    }

    // MARK: - Helpers

    /// `path` made absolute against the current directory, with `.` and `..` resolved.
    public static func absolute(_ path: String) -> String {
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(path)
        return url.standardizedFileURL.path
    }

    /// SHA-256 of a file's content (hex, `fileSHA256`); `what` names the file in the error. Only
    /// an existing file that is not a directory: standard input (`-`) is not read up here.
    static func fileHash(_ path: String, what: String? = nil) throws -> String {
        let failure = AblationError("\(path): cannot read" + (what.map { " (\($0))" } ?? ""))
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { throw failure }
        do { return try fileSHA256(path) } catch { throw failure }
    }
}
