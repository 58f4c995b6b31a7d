// swift-tools-version:6.1
// lmtool — reverse-transfer language modeling. See docs/ARCHITECTURE.md for the layering:
// lmtool (CLI) → LM → Embeddings → GLoMoGraph → NN; LM, Embeddings → Corpus. Arrows point down only.
import PackageDescription

let package = Package(
    name: "lmtool",
    products: [
        .executable(name: "lmtool", targets: ["lmtool"]),
        .library(name: "LMToolKit", targets: ["Support", "Corpus", "NN", "GLoMoGraph", "Embeddings", "LM"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System-library shims (Debian: libzstd-dev, zlib1g-dev, libopenblas-dev).
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // Linux calls Swift cannot make itself (prctl is variadic); header only, nothing to link.
        .systemLibrary(name: "CLinux"),

        // Shared low-level helpers: atomic file writes, output locks, SHA-256.
        .target(name: "Support", dependencies: ["CLinux"]),

        // Text: readers, record formats, tokenizers, vocabulary, batchers. Knows nothing about networks.
        .target(name: "Corpus", dependencies: ["Support", "CZstd", "CZlib"]),
        // Numbers: tensors, BLAS, layers with hand-written backward passes, optimizers, checkpoints.
        // Knows nothing about text.
        .target(name: "NN", dependencies: ["Support", "CBLAS"]),
        .target(name: "GLoMoGraph", dependencies: ["NN", "Corpus"]),
        .target(name: "Embeddings", dependencies: ["NN", "Corpus", "GLoMoGraph"]),
        .target(name: "LM", dependencies: ["Support", "NN", "Corpus", "Embeddings", "GLoMoGraph"]),
        .executableTarget(
            name: "lmtool",
            dependencies: [
                "Support", "Corpus", "NN", "GLoMoGraph", "Embeddings", "LM",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        .testTarget(name: "SupportTests", dependencies: ["Support"]),
        // What only tests use from NN: finite-difference gradient checks, Tensor element access
        // and other conveniences. Test targets depend on it; the lmtool product does not.
        .target(name: "NNTestSupport", dependencies: ["NN"], path: "Tests/NNTestSupport"),
        // The byte mutations that the file readers' fuzz tests share.
        .target(name: "FuzzSupport", dependencies: ["Support"], path: "Tests/FuzzSupport"),
        .testTarget(name: "CorpusTests", dependencies: ["Corpus", "FuzzSupport"]),
        // Fixtures (and the scripts that made them) are read through #filePath, not as bundle resources.
        .testTarget(name: "NNTests", dependencies: ["NN", "TestFixtures", "FuzzSupport", "NNTestSupport"], exclude: ["Fixtures", "OptimizerFixtures/make_optimizer_fixtures.py", "CheckpointFixtures/make_safetensors_fixture.py"]),
        .testTarget(name: "GLoMoGraphTests", dependencies: ["GLoMoGraph", "TestFixtures", "FuzzSupport", "NNTestSupport"]),
        // Fixtures several test targets share (a random GLoMo graph model on disk).
        .target(name: "TestFixtures", dependencies: ["GLoMoGraph"], path: "Tests/Fixtures"),
        .testTarget(name: "LMTests", dependencies: ["LM", "TestFixtures", "FuzzSupport", "NNTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "EmbeddingsTests", dependencies: ["Embeddings", "TestFixtures", "FuzzSupport", "NNTestSupport"]),
        .testTarget(name: "LMToolTests", dependencies: ["lmtool", "Corpus", "FuzzSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
