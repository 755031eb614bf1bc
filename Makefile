# make demo   set up, then stand up and train the local federation (inventories/local)
# make test   set up, then run every test: unit, lint, sanity, molecule
# make ee     build the execution environment clarafl/federation-ee:<version> (scripts/build-ee.sh)
# make ee-demo, ee-teardown, ee-clean: stand up and train the local federation from it (project clarafl_ee,
#             ports 8302/8303), tear it down, remove the image and the build's files
PYTHON ?= python3
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
VENV_EE ?= .venv-ee
BIN_EE := $(CURDIR)/$(VENV_EE)/bin

.PHONY: demo test setup host venv venv-dev unit engine integration lint sanity molecule clean bench \
	ee venv-ee ee-demo ee-teardown ee-clean

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

# The engine and the execution environment's base image only: the tests' images are not needed here.
ee: venv-ee
	scripts/setup-host.sh ee-base
	EE_VENV=$(VENV_EE) scripts/build-ee.sh

venv-ee: $(VENV_EE)/.installed

$(VENV_EE)/.installed: requirements-ee.txt requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed for ansible-builder and ansible-navigator: set PYTHON=python3.11"; exit 1; }
	test -x $(BIN_EE)/python || $(PYTHON) -m venv $(VENV_EE)
	$(BIN_EE)/python -m pip install -q -r requirements-ee.txt
	touch $@

ee-demo: ee
	EE_VENV=$(VENV_EE) scripts/ee-run.sh clarafl.federation.site

ee-teardown: venv-ee
	EE_VENV=$(VENV_EE) scripts/ee-run.sh clarafl.federation.teardown -e teardown_provisioning_workspace=true

ee-clean:
	EE_VENV=$(VENV_EE) scripts/build-ee.sh clean

unit engine integration lint sanity molecule: venv-dev
	PATH="$(BIN):$$PATH" tests/run-all.sh $@

clean:
	rm -rf $(VENV) $(VENV_EE) tests/output

bench: host venv
	PATH="$(BIN):$$PATH" bench/run.sh $(BENCH_ARGS)
