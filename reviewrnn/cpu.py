"""The CPU a figure or a cached choice holds for: its model name and vector extensions (/proc/cpuinfo).

Machines differ from session to session, and a kernel that was fastest on one CPU can be slowest on
the next, so kernels.py caches its choices per CPU and the benchmarks print it beside every figure.
No torch or numpy here, so anything may ask without paying for them.
"""

from __future__ import annotations

import contextlib
import functools
import re
from pathlib import Path

VECTOR_FLAG = re.compile(r"(sse|ssse|avx|fma|f16c|amx)\w*")


def identity() -> dict:
    """{"cpu": model name, "vector": sorted vector-extension flags}; "unknown" and [] where unreadable."""
    model, flags = _read()
    return {"cpu": model, "vector": list(flags)}


@functools.cache
def _read() -> tuple[str, tuple[str, ...]]:
    model, flags = "unknown", []
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        model = found.group(1).strip() if found else model
        line = re.search(r"^(?:flags|Features)\s*:\s*(.+)$", text, re.MULTILINE)
        flags = sorted(f for f in (line.group(1).split() if line else []) if VECTOR_FLAG.fullmatch(f))
    return model, tuple(flags)
