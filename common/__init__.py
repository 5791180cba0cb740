"""Shared machinery of the entry points (no entry points here).

MXNet's OpenMP uses half the cores unless OMP_NUM_THREADS is set, which halves CPU speed
on small machines. Entry points import this package before mxnet, so every core is used
unless the user chose a number.
"""
import os

os.environ.setdefault('OMP_NUM_THREADS', str(os.cpu_count() or 1))
