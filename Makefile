# make demo   set up, then stand up and train the local federation (inventories/local)
# make test   set up, then run every test: unit, lint, sanity, molecule
PYTHON ?= python3
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin

.PHONY: demo test setup host venv venv-dev unit engine integration lint sanity molecule clean bench

demo: host venv
	PATH="$(BIN):$$PATH" ansible-playbook site.yml -i inventories/local

test: host venv-dev
	PATH="$(BIN):$$PATH" tests/run-all.sh

setup: host venv-dev

host:
	scripts/setup-host.sh

venv: $(VENV)/.installed
venv-dev: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed for the controller: set PYTHON=python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

unit engine integration lint sanity molecule: venv-dev
	PATH="$(BIN):$$PATH" tests/run-all.sh $@

clean:
	rm -rf $(VENV) tests/output

bench: host venv
	PATH="$(BIN):$$PATH" bench/run.sh $(BENCH_ARGS)
