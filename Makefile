# Two commands set kgzsl up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo test test-slow lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall when the dependencies change; stamps keep repeated calls instant.
$(VENV)/.installed: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(PIP) -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

demo: $(VENV)/.installed
	HF_HUB_OFFLINE=1 $(BIN)/kgzsl demo --overwrite

test: $(VENV)/.installed-test
	HF_HUB_OFFLINE=1 MPLBACKEND=Agg $(BIN)/python -m pytest

test-slow: $(VENV)/.installed-test
	HF_HUB_OFFLINE=1 MPLBACKEND=Agg $(BIN)/python -m pytest -m slow

lint: $(VENV)/.installed-test
	$(BIN)/ruff check kgzsl tests benchmarks
	$(BIN)/ruff format --check kgzsl tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
