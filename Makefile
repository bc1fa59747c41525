# Two commands for a fresh machine: `make demo` (set up + main job) and `make test` (set up + tests).
PYTHON ?= python3
VENV ?= .venv
# torch is installed first, explicitly, so a bare `torch` requirement never pulls a CUDA build.
# Where pip has no CPU wheel at hand, use: make TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_VERSION ?= 2.13.0
TORCH_PIP_ARGS ?=
TORCH_GPU_PIP_ARGS ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test gpu-setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==$(TORCH_VERSION)" $(TORCH_PIP_ARGS)
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/surrogate demo -o demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

# GPU machines: CUDA torch (pip's default Linux build) and onnxruntime-gpu in place of onnxruntime.
gpu-setup:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch==$(TORCH_VERSION)" $(TORCH_GPU_PIP_ARGS)
	$(BIN)/python -m pip install -q -e ".[dev,gpu]"
	$(BIN)/python -m pip uninstall -q -y onnxruntime
	$(BIN)/python -m pip install -q --force-reinstall --no-deps "onnxruntime-gpu>=1.18"
	touch $(STAMP)

# The H2/air jet flame in Code_Saturne with the surrogate (installs Code_Saturne 6.0 with apt when missing;
# builds the surrogate of an H2 fpv table when cfd-demo/surrogate.onnx is missing); plots and summary in cfd-demo/.
.PHONY: cfd-demo
cfd-demo: $(STAMP)
	export/cfd/code_saturne/install.sh
	$(BIN)/python -m export.cfd.code_saturne.demo -o cfd-demo

# The surrogate against the table it replaces, inside Code_Saturne (one-way and variable density, each to a
# statistically steady state); compare.json, the printed table and the side-by-side plots in cfd-compare/.
.PHONY: cfd-compare
cfd-compare: $(STAMP)
	export/cfd/code_saturne/install.sh
	$(BIN)/surrogate bench cfd -o cfd-compare

clean:
	rm -rf $(VENV) demo

# The GPU check (docs/gpu.md): `make gpu-check-prepare` where Cantera is builds the tables a GPU machine
# cannot (into .gpu-carry/, ignored; carry it); `make gpu-check` on the GPU machine writes results.json,
# summary.txt and log.txt to GPU_CHECK_OUT, replacing the last check's. `make gpu-check DEVICE=cpu` runs the same
# steps shrunk (--quick).
GPU_CHECK_OUT ?= gpu-check
DEVICE ?= cuda
.PHONY: gpu-check gpu-check-prepare gpu-check-ort-parts
gpu-check-prepare: $(STAMP)
	mkdir -p .gpu-carry/tables
	cd .gpu-carry/tables && (test -f h2.h5 || ../../$(BIN)/surrogate table build h2-flamelet -o h2.h5)
	cd .gpu-carry/tables && (test -f pdf.h5 || ../../$(BIN)/surrogate table build presumed-pdf -o pdf.h5 \
		--source h2.h5 --n-Z-mean 31 --n-S 11 --mc-check 0)
	du -sh .gpu-carry

gpu-check:
	scripts/gpu_check.sh $(GPU_CHECK_OUT) --device $(DEVICE) $(if $(filter cpu,$(DEVICE)),--quick) --overwrite

# onnxruntime-gpu for the GPU machine's Python 3.12 (255.6 MB, over one call's 64 MiB) in 58 MiB pieces in
# .gpu-parts/ (ignored), to carry one per call to a warm machine; scripts/gpu_check.sh joins and installs them.
ORT_GPU_VERSION ?= 1.31.1
gpu-check-ort-parts: $(STAMP)
	mkdir -p .gpu-parts /tmp/ort-gpu-wheel
	$(BIN)/python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
		--platform manylinux_2_28_x86_64 -d /tmp/ort-gpu-wheel "onnxruntime-gpu==$(ORT_GPU_VERSION)"
	cd /tmp/ort-gpu-wheel && for w in *.whl; do split -b 58m "$$w" "$(CURDIR)/.gpu-parts/$$w.part-"; done
	ls -la .gpu-parts

# Every published number: each benchmark suite of benchmarks/suites/ run into benchmarks/results/ (full tier: hours on
# a small machine), replacing the results files there, then the tables of docs/benchmarks.md and README.md rendered from them.
# benchmarks-quick: the CI-sized tiers. benchmarks-ci: the C programs the inference suite times (export/c/build,
# as export/c/README.md builds them), then every quick tier end to end into a temporary folder, leaving the
# published results alone (what CI runs after the tests; a few minutes).
.PHONY: benchmarks benchmarks-quick benchmarks-ci
benchmarks: $(STAMP)
	$(BIN)/surrogate bench suite --all --overwrite
	$(BIN)/surrogate bench render

benchmarks-quick: $(STAMP)
	$(BIN)/surrogate bench suite --all --quick --overwrite
	$(BIN)/surrogate bench render

benchmarks-ci: $(STAMP)
	cmake -S export/c -B export/c/build -DCMAKE_BUILD_TYPE=Release -DONNXRUNTIME_ROOT="$$(export/c/fetch_onnxruntime.sh | tail -n 1)"
	cmake --build export/c/build -j 2
	scratch=$$(mktemp -d) && trap 'rm -rf "$$scratch"' EXIT && \
	OMP_NUM_THREADS=1 $(BIN)/surrogate bench suite --all --quick --work "$$scratch/work" -o "$$scratch/results"
