import XCTest
import NN
import Corpus
import TestFixtures
@testable import Embeddings
import NNTestSupport

/// The classifier's logits and loss against PyTorch: `nn.Embedding`, `nn.LSTM(E, H,
/// bidirectional=True)` over `pack_padded_sequence` (the canonical way the backward direction
/// starts at each example's real end), masked pooling and `nn.Linear`, in double precision, with
/// the parameters loaded by name from the same flat layout. The values below were printed by this
/// script (PyTorch 2.15 CPU; run `python3 make_domain_fixture.py` with the script saved as that file):
///
/// ```python
/// # PyTorch reference for DomainClassifierPyTorchTests: V=7, E=4, H=5, K=3, parameters
/// # p[i] = 0.8 * sin(0.7 * i + 0.1) over the flat store (embedding.weight, rnn.*_l0, rnn.*_l0_reverse,
/// # decoder.weight, decoder.bias), a batch of three examples of lengths 5, 2, 3, packed sequences.
/// import math, torch, torch.nn as nn, torch.nn.functional as F
/// torch.set_default_dtype(torch.float64)
/// V, E, H, K = 7, 4, 5, 3
/// emb, rnn, dec = nn.Embedding(V, E), nn.LSTM(E, H, bidirectional=True), nn.Linear(2 * H, K)
/// tensors = [emb.weight] + [getattr(rnn, n + s) for s in ["", "_reverse"] for n in ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]] + [dec.weight, dec.bias]
/// i = 0
/// with torch.no_grad():
///     for t in tensors:
///         n = t.numel()
///         t.copy_(torch.tensor([0.8 * math.sin(0.7 * k + 0.1) for k in range(i, i + n)]).reshape(t.shape))
///         i += n
/// seqs, labels = [[2, 3, 4, 5, 6], [6, 2], [3, 3, 1]], torch.tensor([0, 2, 1])
/// lengths = torch.tensor([len(s) for s in seqs])
/// ids = nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs])          # [T, B]
/// packed = nn.utils.rnn.pack_padded_sequence(emb(ids), lengths, enforce_sorted=False)
/// h, _ = nn.utils.rnn.pad_packed_sequence(rnn(packed)[0])                  # [T, B, 2H], zeros at padding
/// mask = (torch.arange(h.shape[0])[:, None] < lengths[None, :]).double()  # [T, B]
/// pools = {"mean": (h * mask[..., None]).sum(0) / mask.sum(0)[:, None],
///          "max": h.masked_fill(mask[..., None] == 0, -math.inf).max(0).values}
/// for name, p in pools.items():
///     z = dec(p)
///     loss = F.cross_entropy(z, labels)
///     print(f"    static let {name}Logits: [Float] = [" + ", ".join("%.7f" % v for v in z.flatten().tolist()) + "]")
///     print(f"    static let {name}Loss = %.7f" % loss.item())
/// ```
final class DomainClassifierPyTorchTests: XCTestCase {
    static let meanLogits: [Float] = [0.1098144, 0.1652720, 0.1283334, 0.1839464, 0.1197512, -0.0144351, -0.1366975, -0.2404247, -0.2368659]
    static let meanLoss = 1.1573079
    static let maxLogits: [Float] = [0.4206912, 0.4282397, 0.2139606, 0.3330950, 0.2323473, 0.0061892, -0.0056264, -0.1291600, -0.2001716]
    static let maxLoss = 1.1495023

    func check(_ pooling: ClassifierPooling, logits expected: [Float], loss expectedLoss: Double) {
        let config = DomainClassifierConfig(vocabularySize: 7, embeddingSize: 4, hiddenSize: 5, classCount: 3, pooling: pooling)
        let model = DomainClassifier(config: config, seed: 1)
        XCTAssertEqual(model.parameters.views.map(\.name), [
            "embedding.weight", "rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.bias_ih_l0", "rnn.bias_hh_l0",
            "rnn.weight_ih_l0_reverse", "rnn.weight_hh_l0_reverse", "rnn.bias_ih_l0_reverse", "rnn.bias_hh_l0_reverse",
            "decoder.weight", "decoder.bias"])
        for i in 0..<model.parameters.count { model.parameters.values[i] = Float(0.8 * sin(0.7 * Double(i) + 0.1)) }
        let batch = makeBatch([([2, 3, 4, 5, 6], 0), ([6, 2], 2), ([3, 3, 1], 1)])
        let r = model.forward(batch, columns: 4)  // one empty column too
        XCTAssertEqual(r.loss / Double(r.count), expectedLoss, accuracy: 2e-6, "\(pooling) loss")
        XCTAssertEqual(r.logits.count, 9)
        for (k, (a, b)) in zip(r.logits, expected).enumerated() {
            XCTAssertEqual(a, b, accuracy: 2e-6, "\(pooling) logit \(k)")
        }
    }

    func testMeanPoolingMatchesPyTorch() { check(.mean, logits: Self.meanLogits, loss: Self.meanLoss) }
    func testMaxPoolingMatchesPyTorch() { check(.max, logits: Self.maxLogits, loss: Self.maxLoss) }

    /// Both poolings again on two threads with every split forced (the BiLSTM's time loops,
    /// GEMMs and elementwise passes cut between threads).
    func testOnTwoThreadsMatchesPyTorch() {
        onTwoThreadsSplittingEverything {
            check(.mean, logits: Self.meanLogits, loss: Self.meanLoss)
            check(.max, logits: Self.maxLogits, loss: Self.maxLoss)
        }
    }
}
