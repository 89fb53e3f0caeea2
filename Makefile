# Two commands on a fresh machine: `make demo` (set up, then the TFX pipeline on the synthetic
# default) and `make test`. See docs/install.md for what `setup` installs and why.

PYTHON ?= python3.11
VENV ?= .venv
UV_VERSION ?= 0.13.9
BIN := $(VENV)/bin
STAMP := $(VENV)/.kdtfrs-installed

export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: setup demo test lock clean

setup: $(STAMP)

$(STAMP): setup.py constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "uv==$(UV_VERSION)"
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode \
		--constraint constraints.txt --editable ".[pipeline,dev]"
	touch $(STAMP)

demo: setup  # level 3: TensorFlow's start-up errors about CUDA plugins, harmless on CPU
	TF_CPP_MIN_LOG_LEVEL=3 $(BIN)/kdtfrs demo

test: setup
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lock: setup
	{ echo "# Pinned stack for Python 3.11 (recipe A of docs/install.md): tfx 1.16 / TF 2.16."; \
	  echo "# Regenerate: make lock   (do not edit by hand)"; \
	  $(BIN)/uv pip freeze --python $(BIN)/python | grep -v -E "^(-e |kdtfrs)"; } > constraints.txt

clean:
	rm -rf $(VENV) runs
