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


def describe() -> str:
    """One line for a report: 'AMD EPYC (family 25, model 1): avx avx2 fma ...'. The model name alone can
    be the same for CPUs of different generations (both EPYCs of this project's machines read 'AMD EPYC')."""
    model, flags = _read()
    generation = _generation()
    return f"{model}{f' ({generation})' if generation else ''}: {' '.join(flags) or 'no vector flags read'}"


@functools.cache
def _generation() -> str:
    """'family F, model M' from /proc/cpuinfo, or '' where unreadable."""
    with contextlib.suppress(OSError):
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        found = [re.search(rf"^{key}\s*:\s*(\S+)$", text, re.MULTILINE) for key in ("cpu family", "model")]
        if all(found):
            return f"family {found[0].group(1)}, model {found[1].group(1)}"
    return ""


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
