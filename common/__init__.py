"""Shared machinery of the entry points (no entry points here).

Entry points import this package before mxnet, so these CPU defaults take effect unless
the user set the variable (measured with tools/benchmark.py, see the README's speed
section):
- OMP_NUM_THREADS: MXNet's OpenMP uses half the cores unless it is set, which halves CPU
  speed on small machines; here every core is used.
- MXNET_USE_OPERATOR_TUNING=0: MXNet's operator tuning runs cheap elementwise ops (the
  scalar minimum of ReLU6, additions) on one thread; off, they use every core (2-5x
  faster on 2 cores).
"""
import os

os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
os.environ.setdefault('MXNET_USE_OPERATOR_TUNING', '0')

# oneDNN ISA for CPU training; see use_training_kernels.
TRAINING_ISA = 'AVX2'


def use_training_kernels():
    """Cap oneDNN at AVX2 kernels for CPU training, unless DNNL_MAX_CPU_ISA is set.

    On AVX-512 CPUs oneDNN lays activations out in blocks of 16 channels, but in blocks
    of 8 around convolutions whose input channels are not a multiple of 16 (IGCV3's 24).
    When the two meet, MXNet 1.9 hands oneDNN a BatchNorm backward whose data and
    gradient layouts differ, and oneDNN runs its reference kernel: 100x slower, about
    200 ms per call. With AVX2 kernels every layout has blocks of 8 and IGCV3 trains
    about 5x faster (README, Speed). Inference keeps the AVX-512 kernels (it has no
    BatchNorm backward). Call it before the process runs its first oneDNN operator;
    oneDNN reads the variable once. Returns the ISA in effect.
    """
    return os.environ.setdefault('DNNL_MAX_CPU_ISA', TRAINING_ISA)


def one_blocking_kernels():
    """True when DNNL_MAX_CPU_ISA caps oneDNN at AVX2 or below, so that every activation
    has one blocking and the training form may fuse BatchNorm and ReLU
    (symbol.common.bn_relu6)."""
    return os.environ.get('DNNL_MAX_CPU_ISA', '').upper() in ('SSE41', 'AVX', 'AVX2')
