import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import common  # noqa: E402,F401  (thread defaults before mxnet)

REFERENCE_SYMBOL = os.path.join(ROOT, '..', 'shared', 'reference', 'igcv3-symbol.json')


@pytest.fixture
def reference_symbol_path():
    if not os.path.exists(REFERENCE_SYMBOL):
        pytest.skip('released graph not present at %s' % REFERENCE_SYMBOL)
    return REFERENCE_SYMBOL
