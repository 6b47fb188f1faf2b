# Two entry points for a fresh machine: `make demo` (install, then run the main job) and
# `make test` (install, then lint and run the test suite). Each makes its own virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Which torch build: auto (the CPU build where `nvidia-smi` finds no GPU, pip's default
# otherwise), cpu, or default (pip's: on Linux a CUDA build of several GB).
TORCH ?= auto
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: demo test lint notebooks bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# the CPU build of torch first on a machine without a GPU (pip's default on Linux is a
	@# CUDA build of several GB); `pip install -e` below then finds torch already there
	@if [ "$(TORCH)" = cpu ] || { [ "$(TORCH)" = auto ] && ! nvidia-smi -L >/dev/null 2>&1; }; then \
		$(BIN)/python -m pip install --quiet --retries 1 --timeout 30 torch \
			--index-url $(TORCH_CPU_INDEX) 2>/dev/null \
		|| echo "note: PyTorch's CPU index ($(TORCH_CPU_INDEX)) could not be reached; installing pip's default torch build (with CUDA, several GB)"; \
	fi
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@# headless Chromium for the report page's browser test: only where apt-get exists and
	@# no browser is installed (as root, or with password-less sudo); the test skips without one
	@if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then \
		sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo -n"; \
		( $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive \
		  apt-get install -y -qq chromium chromium-driver ) >/dev/null 2>&1 \
		|| echo "note: chromium not installed; the report's browser test will be skipped"; \
	fi
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/man-rl demo --out demo-out

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	@# two workers: the CI machine has two cores
	$(BIN)/python -m pytest -n 2

notebooks: $(STAMP)
	$(BIN)/python notebooks/build.py

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
