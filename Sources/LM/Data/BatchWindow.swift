/// One window the model reads in one pass, in training and in evaluation alike: time-major
/// `[steps, B]` inputs and targets, a 0/1 mask over the targets (nil when every target counts),
/// and whether the LSTM state starts from zero. Training's epochs (`TrainingEpoch`) and
/// evaluation's windows (`DiscourseEvaluationWindows`, `SentenceEvaluationWindows`, the
/// `Evaluator`'s streams) all produce it; `LanguageModel.score(_:)` scores one.
///
/// (`DiscourseBatcher.Window`, in Corpus, is the batcher's raw cut of a stream, before it
/// becomes one of these.)
public struct BatchWindow: Sendable, Equatable {
    /// Time steps in this window (the BPTT length or fewer).
    public var steps: Int
    public var inputs: [Int32]   // [steps, B]
    public var targets: [Int32]  // [steps, B]
    /// 1 for a real target, 0 for padding; nil when every target counts.
    public var mask: [Float]?    // [steps, B]
    /// Zero the carried state before this window.
    public var resetsState: Bool
    /// The number of real targets.
    public var targetCount: Int
    /// Evaluation: for each position, the index of the token its target is (in the text being
    /// scored), -1 at padding. Empty in training.
    public var tokenIndex: [Int]  // [steps, B]

    public init(steps: Int, inputs: [Int32], targets: [Int32], mask: [Float]?, resetsState: Bool,
                targetCount: Int, tokenIndex: [Int] = []) {
        self.steps = steps
        self.inputs = inputs
        self.targets = targets
        self.mask = mask
        self.resetsState = resetsState
        self.targetCount = targetCount
        self.tokenIndex = tokenIndex
    }
}
