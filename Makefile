# lmtool — see README.md. `make demo` runs the main job on the default corpus, `make test` the tests.
SWIFT ?= swift
LMTOOL := .build/release/lmtool

.PHONY: demo test deps build corpus bench clean

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build -c release --product lmtool

demo: build
	$(LMTOOL) corpus stats corpora/default.jsonl.zst

test: deps
	$(SWIFT) test

clean:
	rm -rf .build
