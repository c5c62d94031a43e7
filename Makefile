# Two user-facing targets: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# torch is installed on its own, first: on the project machines a CPU build of this version is
# already on disk, and asking for it by exact version stops pip pulling a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: run test setup clean builtin-model

run: $(STAMP)
	$(BIN)/digitrec data fetch
	@out=runs/fast-$$(date +%Y%m%d-%H%M%S); \
	$(BIN)/digitrec train --recipe fast --out $$out && \
	$(BIN)/digitrec evaluate $$out && \
	echo "run directory: $$out (curves.png, confusion.png, misclassified.png, model.pt, metrics.json)"

# pytest also checks the architecture: tests/test_architecture.py runs the import-linter contracts
# in pyproject.toml ([tool.importlinter]) and the import-cycle and private-import checks.
test: $(STAMP)
	$(BIN)/python -m pytest

setup: $(STAMP)

# The model predict/read/serve use when given none: train BUILTIN_RECIPE with BUILTIN_SEED through
# `digitrec train`, copy its model.pt to src/digitrec/weights/builtin.pt, record it in builtin.json.
# A CPU run repeats bit for bit only at the same thread count, ISA and precision: the shipped model
# was made with 2 threads in bf16 (precision auto) on an AMD Zen 4 with AVX512-BF16; on AVX2 auto
# trains fp32. On a shared machine bf16 training with 2 threads was once 10x
# slower than 1 thread: BUILTIN_THREADS=1 there.
BUILTIN_RECIPE ?= best
BUILTIN_SEED ?= 0
BUILTIN_THREADS ?= 2
builtin-model: $(STAMP)
	OMP_NUM_THREADS=$(BUILTIN_THREADS) $(BIN)/python scripts/make_builtin_model.py --recipe $(BUILTIN_RECIPE) --seed $(BUILTIN_SEED)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
