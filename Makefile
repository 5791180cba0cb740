# make setup   build .venv from the pinned requirements (fast when nothing changed)
# make test    set up, then lint (ruff) and run the test suite on the CPU
# make demo    set up, then train and score IGCV3 on scikit-learn's digits (CPU, ~3 min)
# make fashion-mnist  install Debian's dataset-fashion-mnist if needed, convert it to
#                     data/fashion-mnist/{train,val}.rec + .idx and classes.txt
PYTHON ?= python3
VENV ?= .venv
REQUIREMENTS ?= requirements.txt
# Optional tools' dependencies that the tests exercise (ONNX export).
EXTRA_REQUIREMENTS ?= requirements-deploy.txt
PY := $(VENV)/bin/python
# make test's processes (pytest-xdist), one per core, each with one OpenMP thread: two
# MXNet processes of two threads each on two cores slow each other down several times.
TEST_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
PYTEST := OMP_NUM_THREADS=1 $(PY) -m pytest -n $(TEST_JOBS)
STAMP := $(VENV)/.installed

.PHONY: setup test test-all demo fashion-mnist clean-venv

setup: $(STAMP)

# gluoncv is checked by version, not imported: gluoncv 0.10.5 refuses to import next to
# torch >= 2, which tools/benchmark.py --compare-torch may have installed here.
$(STAMP): $(REQUIREMENTS) $(EXTRA_REQUIREMENTS)
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || { \
	  echo "error: $(PYTHON) is not Python 3.11, which the pinned mxnet 1.9.1 and numpy 1.23.5 need (numpy 1.23.5 has no wheel for newer Pythons); run make setup PYTHON=python3.11" >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r $(REQUIREMENTS) $(addprefix -r ,$(EXTRA_REQUIREMENTS))
	$(PY) -c "import mxnet, numpy, cv2; from importlib.metadata import version; print('mxnet', mxnet.__version__, 'numpy', numpy.__version__, 'gluoncv', version('gluoncv'))"
	touch $@

test: setup
	$(PY) -m ruff check --no-cache .
	$(PYTEST) tests -m "not slow" --durations=15

test-all: setup
	$(PY) -m ruff check --no-cache .
	$(PYTEST) tests --durations=15

demo: setup
	$(PY) tools/demo.py

# Where Debian's package dataset-fashion-mnist puts the four .gz files, and the output.
FASHION_MNIST_SRC ?= /usr/share/datasets/fashion-mnist
FASHION_MNIST_OUT ?= data/fashion-mnist
FASHION_MNIST_FILES := train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte
# apt-get as root, else through sudo when there is one.
SUDO := $(shell [ "$$(id -u)" = 0 ] || { command -v sudo >/dev/null && echo sudo; })

# Without apt-get, or when it fails, the converter's one-line error names what is missing
# and how to fix it.
fashion-mnist: setup
	@missing=; for f in $(FASHION_MNIST_FILES); do \
	  [ -f $(FASHION_MNIST_SRC)/$$f.gz ] || [ -f $(FASHION_MNIST_SRC)/$$f ] || missing=1; done; \
	if [ -n "$$missing" ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's dataset-fashion-mnist"; \
	  $(SUDO) apt-get update && $(SUDO) apt-get install -y dataset-fashion-mnist || true; \
	fi
	$(PY) tools/mnist_to_rec.py $(FASHION_MNIST_SRC) $(FASHION_MNIST_OUT)

clean-venv:
	rm -rf $(VENV)
