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
# builds the model when cfd-demo/h2_cfd.onnx is missing); plots and summary in cfd-demo/.
.PHONY: cfd-demo
cfd-demo: $(STAMP)
	export/cfd/code_saturne/install.sh
	$(BIN)/python -m export.cfd.code_saturne.demo -o cfd-demo

clean:
	rm -rf $(VENV) demo
