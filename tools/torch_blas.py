#!/usr/bin/python3
"""Which BLAS PyTorch's matrix products (linear layers: addmm, mm) run on, for the benchmark headers.

  torch_blas.py

Debian's python3-torch is built with BLAS_INFO=generic: it calls whatever libblas.so.3 the
alternatives system points at. Without OpenBLAS that is netlib's reference BLAS (about 5 GFLOP/s on
a 1024^3 product here, against 60-185 with OpenBLAS), which makes every model with a large linear
layer look slow in PyTorch. OpenBLAS 0.3.21 does not know every newer CPU: on an unknown one it falls
back to its Prescott (SSE3) kernels unless OPENBLAS_CORETYPE names a core (SkylakeX for AVX-512).
Prints one line: the library file, and OpenBLAS's core where it is OpenBLAS."""
import ctypes
import re

import torch

torch.ones(8, 8) @ torch.ones(8, 8)  # loads the BLAS
libs = sorted({line.split()[-1] for line in open("/proc/self/maps") if re.search(r"libblas|openblas|mkl", line) and "lapack" not in line})
core = ""
for lib in libs:
    try:
        f = ctypes.CDLL(lib).openblas_get_corename
        f.restype = ctypes.c_char_p
        core = f().decode()
        break
    except (OSError, AttributeError):
        continue
kind = "OpenBLAS, core " + core if core else ("MKL" if any("mkl" in x for x in libs) else "reference BLAS (netlib): slow")
print("PyTorch BLAS: %s (%s)" % (", ".join(libs) or "none found", kind))
