# make setup   build .venv from the pinned requirements (fast when nothing changed)
# make test    set up, then run the test suite on the CPU
# make demo    set up, then train and score IGCV3 on scikit-learn's digits (CPU, ~8 min)
PYTHON ?= python3
VENV ?= .venv
REQUIREMENTS ?= requirements.txt
# Optional tools' dependencies that the tests exercise (ONNX export).
EXTRA_REQUIREMENTS ?= requirements-deploy.txt
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test demo clean-venv

setup: $(STAMP)

$(STAMP): $(REQUIREMENTS) $(EXTRA_REQUIREMENTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS) $(addprefix -r ,$(EXTRA_REQUIREMENTS))
	$(PY) -c "import mxnet, numpy, cv2, gluoncv; print('mxnet', mxnet.__version__, 'numpy', numpy.__version__)"
	touch $@

test: setup
	$(PY) -m pytest tests

demo: setup
	$(PY) tools/demo.py

clean-venv:
	rm -rf $(VENV)
