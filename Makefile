# make setup   build .venv from the pinned requirements (fast when nothing changed)
# make test    set up, then run the test suite on the CPU
PYTHON ?= python3
VENV ?= .venv
REQUIREMENTS ?= requirements.txt
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test clean-venv

setup: $(STAMP)

$(STAMP): $(REQUIREMENTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS)
	$(PY) -c "import mxnet, numpy, cv2, gluoncv; print('mxnet', mxnet.__version__, 'numpy', numpy.__version__)"
	touch $@

test: setup
	$(PY) -m pytest tests

clean-venv:
	rm -rf $(VENV)
