import Foundation
import XCTest

/// The pretraining cache is a function of its key: the same grid run twice, into two results
/// directories, writes byte-identical pretraining outputs for every kind ablate caches
/// (embed word2vec, embed bilm, pretrain-domain, pretrain-glomo). The vocabulary and the
/// pretraining steps are this lmtool's own; `train` is faked (the runs are not cached and not
/// what is tested here), so the test stays quick.
final class AblateCacheTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("lmtool-ablate-cache-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    /// Files that hold wall-clock times (seconds, tokens per second, time stamps) and so
    /// differ between any two runs; every other file of a cache entry must be identical.
    static let timed: Set<String> = ["summary.json", "metrics.jsonl"]
    /// The resume state: its metadata records the training seconds so far, its tensors (the
    /// data section) must be identical.
    static let timedMetadata = "last.safetensors"

    func testTheSameGridTwiceGivesByteIdenticalPretrainingOutputs() throws {
        // 2,400 training records of 12 words from 12 types: ~31,000 training tokens, so that
        // word2vec, were it allowed two threads, would run them long enough to race (the old
        // plan, without --threads 1, failed this test in 5 of 5 tries on a 2-core machine).
        let words = ["the", "cat", "sat", "on", "a", "mat", "and", "slept", "dog", "ran", "far", "away"]
        let records = (0..<2600).map { i in
            let text = (0..<12).map { words[(i * 7 + $0 * 5 + $0 * $0) % 12] }.joined(separator: " ")
            return "{\"text\": \"\(text)\", \"domain\": \"d\(i % 2)\", \"split\": \"\(i < 2400 ? "train" : (i < 2500 ? "valid" : "test"))\"}"
        }
        try Data((records.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path("corpus.jsonl")))
        // The real lmtool for everything but train, which writes a finished run.
        let real = try lmtoolBinaryURL().path
        try Data("""
            #!/bin/bash
            if [ "$1" != train ]; then exec '\(real)' "$@"; fi
            while [ $# -gt 0 ]; do [ "$1" = --run ] && run="$2"; shift; done
            mkdir -p "$run"
            printf '{"epochs":1,"parameters":10,"seconds":1,"test_ppl":50,"trainable_parameters":10,"valid_ppl":60}\\n' > "$run/summary.json"

            """.utf8).write(to: URL(fileURLWithPath: path("lmtool.sh")))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path("lmtool.sh"))

        var caches: [[String: Data]] = []
        for results in ["results1", "results2"] {
            let r = try runLMTool(["ablate", "--out", path(results), "--corpus", path("corpus.jsonl"), "--executable", path("lmtool.sh"),
                                   "--sources", "word2vec,bilm,domain-paragraph", "--modes", "frozen", "--glomo", "hidden", "--seeds", "1",
                                   "--preset", "tiny", "--embedding-size", "8", "--pretrain-epochs", "1", "--pretrain-tokens", "2000",
                                   "--glomo-steps", "3"])
            XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
            XCTAssertTrue(r.stdout.contains("steps: 8 run (0 resumed), 0 already done, 0 failed"), r.stdout)
            // Lock files (`.NAME.lock`, docs/run-directory.md) hold the pid of their last holder.
            caches.append(try directorySnapshot(path(results + "/cache")).filter { !(($0.key as NSString).lastPathComponent.hasSuffix(".lock")) })
        }
        // Four entries: word2vec.vec (+ .vocab.txt), bilm.vec, the domain classifier's and the
        // GLoMo model's directories; the same keys in both results directories.
        let names = Set(caches[0].keys)
        XCTAssertEqual(names, Set(caches[1].keys))
        XCTAssertEqual(Set(names.map { $0.split(separator: "/")[0] }).count, 4, names.sorted().joined(separator: "\n"))
        for file in ["word2vec.vec", "word2vec.vec.vocab.txt", "bilm.vec", "embeddings.vec", "contextual.vec", "model.safetensors"] {
            XCTAssertTrue(names.contains { $0.hasSuffix("/" + file) }, file)
        }
        var compared = 0
        for name in names.sorted() where !Self.timed.contains((name as NSString).lastPathComponent) {
            if (name as NSString).lastPathComponent == Self.timedMetadata {
                let a = try RawSafetensors(path: path("results1/cache/" + name)), b = try RawSafetensors(path: path("results2/cache/" + name))
                XCTAssertEqual(a.names, b.names, name)
                XCTAssertTrue(a.data == b.data, "\(name): the tensors differ between the two grids")
            } else {
                XCTAssertTrue(caches[0][name] == caches[1][name], "\(name) differs between the two grids")
            }
            compared += 1
        }
        XCTAssertGreaterThan(compared, 10)
    }
}
