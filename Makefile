# make setup   build .venv from the pinned requirements (fast when nothing changed)
# make test    set up, then run the test suite on the CPU
# make demo    set up, then train and score IGCV3 on scikit-learn's digits (CPU, ~5 min)
PYTHON ?= python3
VENV ?= .venv
REQUIREMENTS ?= requirements.txt
# Optional tools' dependencies that the tests exercise (ONNX export).
EXTRA_REQUIREMENTS ?= requirements-deploy.txt
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup test demo clean-venv

setup: $(STAMP)

# gluoncv is checked by version, not imported: gluoncv 0.10.5 refuses to import next to
# torch >= 2, which tools/benchmark.py --compare-torch may have installed here.
$(STAMP): $(REQUIREMENTS) $(EXTRA_REQUIREMENTS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS) $(addprefix -r ,$(EXTRA_REQUIREMENTS))
	$(PY) -c "import mxnet, numpy, cv2; from importlib.metadata import version; print('mxnet', mxnet.__version__, 'numpy', numpy.__version__, 'gluoncv', version('gluoncv'))"
	touch $@

test: setup
	$(PY) -m pytest tests

demo: setup
	$(PY) tools/demo.py

clean-venv:
	rm -rf $(VENV)
