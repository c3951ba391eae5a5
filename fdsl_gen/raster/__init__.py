"""Numba kernels: pure functions of arrays, no I/O, no Python objects."""
