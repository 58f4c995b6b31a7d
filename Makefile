# lmtool — see README.md. `make demo` runs the main job on the default corpus, `make test` the tests.
SWIFT ?= swift
LMTOOL := .build/release/lmtool
# On x86-64 CPUs with AVX2 and FMA, compile for them (Haswell and later): the SIMD8 kernels then
# run as 256-bit instructions (LM training +5-10%, evaluation up to +25%; BENCHMARKS.md). Such a
# binary needs AVX2 to run; elsewhere the build stays generic.
# LMTOOL_FMA lets NN's own kernels (PackedGEMM) use fused multiply-adds.
CPU_FLAGS := $(shell [ "$$(uname -m)" = x86_64 ] && grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo && echo "-Xswiftc -target-cpu -Xswiftc haswell -Xswiftc -DLMTOOL_FMA")

.PHONY: demo test deps build corpus bench clean study study-headline

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product lmtool $(CPU_FLAGS)

# The demo: a small reverse-transfer ablation on the default corpus (random vs a domain classifier's
# input embedding, frozen, 2 seeds, the tiny LM) that prints the report table (scripts/demo.sh,
# docs/ablation.md). Results go to .build/demo; running it again reuses what is finished.
demo: build
	$(LMTOOL) doctor
	LMTOOL=$(LMTOOL) bash scripts/demo.sh

# The reverse-transfer study (experiments/reverse-transfer, RESULTS.md): the headline comparisons
# (<= 1 h on 2 cores), or all of it (<= 4 h). Resumable: run the same target again after any
# interruption. Long: run it in the background, e.g. `nohup make study > study.log 2>&1 &`.
study: build
	LMTOOL=$(LMTOOL) bash experiments/reverse-transfer/study.sh all

study-headline: build
	LMTOOL=$(LMTOOL) bash experiments/reverse-transfer/study.sh headline

# Rebuild corpora/default.jsonl.zst from pinned Debian packages and check it is byte-identical.
corpus:
	python3 scripts/build_default_corpus.py --check

# Benchmarks (see BENCHMARKS.md): corpus reading speed and memory, GEMM.
bench: build
	bash scripts/bench-corpus.sh
	bash scripts/bench-gemm.sh

# The corpus build script's unit tests (Python, stdlib only), RESULTS.md against the committed study
# reports it is made from (make_results.py --check), then the Swift suite (XCTest).
test: deps
	python3 -m unittest discover -q -s scripts/corpus_build
	@if [ -e RESULTS.md ]; then python3 experiments/reverse-transfer/make_results.py --check; fi
	$(SWIFT) test --disable-swift-testing

clean:
	rm -rf .build
