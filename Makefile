# Paperfeed: `make run` installs into .venv and serves the demo site; `make test` runs the whole suite.
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Two uvicorn workers: what gives the measured >= 100 search requests/s on 2 cores (docs/benchmarks.md).
WORKERS ?= 2
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test test-sqlite test-postgres lint bench system-deps screenshots

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: the CPU wheel on disk (an unpinned torch pulls a multi-GB CUDA build)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[ml,pg,dev,bench]'
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the browser tests (Playwright drives /usr/bin/chromium; no browser download).
system-deps:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

run: install
	$(BIN)/paperfeed serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: install system-deps lint test-sqlite test-postgres

test-sqlite:
	$(BIN)/pytest -q -n 2 --dist loadfile

test-postgres:
	PAPERFEED_TEST_BACKEND=postgresql $(BIN)/pytest -q -n 2 --dist loadfile

lint:
	$(BIN)/ruff format --check paperfeed tests bench scripts
	$(BIN)/ruff check paperfeed tests bench scripts
	$(BIN)/mypy paperfeed
	$(BIN)/lint-imports

# Chromium screenshots of the demo (home, search, paper, trending, author pages) into docs/screenshots/.
screenshots: install system-deps
	$(BIN)/python scripts/screenshots.py

bench: install
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/search.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/first_start.py
	$(BIN)/python bench/digest.py
