# Two commands set kgzsl up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt

.PHONY: demo test test-slow lint install wordnet clean

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

# WordNet 3.0 for ImageNet class hierarchies (Debian's wordnet-base; needs root or sudo).
wordnet:
	@test -f /usr/share/wordnet/data.noun || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wordnet-base >/dev/null; }
	@test -f /usr/share/wordnet/data.noun && echo "WordNet 3.0: /usr/share/wordnet/data.noun"

clean:
	rm -rf $(VENV) runs .pytest_cache
