"""One BLAS thread for the calling thread only, for code that runs its own threads (fastforward.py).

Two threads each driving a multi-threaded OpenBLAS oversubscribe the cores: a 64 x 128 @ 128 x 512
product measured 3x slower than with one BLAS thread. OpenBLAS (0.3.27 on) can set the count per
calling thread, so nothing else in the process changes; elsewhere (another BLAS) this does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import re
from collections.abc import Iterator

import numpy as np  # noqa: F401  (loads numpy's OpenBLAS, so it appears in the process's mappings)


@functools.cache
def _set_local_threads():
    """OpenBLAS's openblas_set_num_threads_local from the library numpy loaded, or None."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = set(re.findall(r"(/\S*openblas\S*\.so\S*)", maps.read()))
    except OSError:  # not Linux: leave BLAS as it is
        return None
    for path in sorted(paths):
        try:
            function = ctypes.CDLL(path).openblas_set_num_threads_local
        except (OSError, AttributeError):
            continue
        function.argtypes, function.restype = [ctypes.c_int], ctypes.c_int
        return function
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
