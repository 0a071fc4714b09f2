"""One BLAS thread for the calling thread only, for code that runs its own threads (fastforward.py).

Two threads each driving a multi-threaded OpenBLAS oversubscribe the cores: a 64 x 128 @ 128 x 512
product measured 3x slower than with one BLAS thread. OpenBLAS (0.3.27 on) can set the count per
calling thread, so nothing else in the process changes; elsewhere (another BLAS) this does nothing.
core_name() says which kernels OpenBLAS loaded for this CPU (OPENBLAS_CORETYPE can pin them), for the
benchmarks: the row-exact layouts (exactrows.py), and so the speed, depend on them.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import re
from collections.abc import Iterator

import numpy as np  # noqa: F401  (loads numpy's OpenBLAS, so it appears in the process's mappings)


@functools.cache
def _openblas() -> ctypes.CDLL | None:
    """The OpenBLAS library numpy loaded, or None (another BLAS, or not Linux)."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = set(re.findall(r"(/\S*openblas\S*\.so\S*)", maps.read()))
    except OSError:
        return None
    for path in sorted(paths):
        with contextlib.suppress(OSError):
            return ctypes.CDLL(path)
    return None


@functools.cache
def _set_local_threads():
    """OpenBLAS's openblas_set_num_threads_local from the library numpy loaded, or None."""
    function = getattr(_openblas(), "openblas_set_num_threads_local", None)
    if function is not None:
        function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
    return function


def core_name() -> str | None:
    """The kernels OpenBLAS chose at load ('Haswell', 'SkylakeX', ...), or None where that cannot be read.
    scipy-openblas, which numpy bundles, prefixes and suffixes its exported names."""
    library = _openblas()
    for name in ("openblas_get_corename", "scipy_openblas_get_corename64_", "scipy_openblas_get_corename"):
        function = getattr(library, name, None)
        if function is not None:
            function.restype = ctypes.c_char_p
            return function().decode("ascii", errors="replace")
    return None


def keep_blas_on_this_thread() -> None:
    """For a worker thread's whole life: its BLAS calls run on it alone."""
    function = _set_local_threads()
    if function is not None:
        function(1)


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Within the block, this thread's BLAS calls run on this thread alone."""
    function = _set_local_threads()
    if function is None:
        yield
        return
    previous = function(1)
    try:
        yield
    finally:
        function(previous)
