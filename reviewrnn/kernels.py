"""Which library runs fastrnn's block products, and how many time steps a block holds: measured on
this machine at first use and cached, like cuDNN's benchmark mode.

oneDNN beats MKL's torch.mm by 2x on an AVX-512 AMD EPYC and loses by 1.6x on an AVX2 one, and the
best block size depends on the cache sizes, so no fixed choice is right everywhere. The first
fast-path training step in a process times both libraries on the layer's own product shapes and
the block sizes on the layer itself (about a second), then writes the result to
$REVIEWRNN_CACHE/kernels/, keyed by CPU model, vector extensions, torch version and thread count;
later processes load it. REVIEWRNN_KERNELS=onednn|mkl skips measuring (block 32); =measure is the default.

Exactness: the choice changes rounding, so runs agree bit for bit only under the same choice. A
process keeps its first choice for good, and the cache gives the same one to every later run on the
machine, so the same seed and data still give the same weights there.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from reviewrnn import cpu
from reviewrnn.errors import ReviewRNNError

ENV = "REVIEWRNN_KERNELS"
BACKENDS = ("onednn", "mkl")
DEFAULT_BLOCK = 32  # time steps per block: a GRU block's few MB stay inside the L3 cache
BLOCKS = (DEFAULT_BLOCK, 16, 64)  # the default first: a tie keeps it
MEASURE_BATCH = 128  # at most: the first batch may be validation's larger one
MEASURE_STEPS = 128  # steps of the synthetic batch the block sizes are timed on: two blocks of 64
# Best of this many rounds (the minimum is the least disturbed by other work), within a time budget.
PRODUCT_REPEATS, PRODUCT_BUDGET_S = 20, 0.3
LAYER_REPEATS, LAYER_BUDGET_S = 3, 1.0
# A measurement that took longer than this ran on a machine too busy to trust: it serves this
# process but is not cached, so a later process measures again.
TRUSTED_S = 2 * (PRODUCT_BUDGET_S + LAYER_BUDGET_S)
CACHE_VERSION = 1


@dataclass(frozen=True)
class Plan:
    """How fastrnn runs one layer: `backend` for the block products, `block` steps per block."""

    backend: str = "onednn"
    block: int = DEFAULT_BLOCK


def _find_onednn_linear():
    """torch's oneDNN linear kernel (the one torch.compile uses on CPU), where this build has it."""
    if not torch.backends.mkldnn.is_available():
        return None
    return getattr(torch.ops.mkldnn, "_linear_pointwise", None)


_ONEDNN_LINEAR = _find_onednn_linear()


def linear(a: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, backend: str = "onednn"):
    """a @ weight.T (+ bias) on `backend`; float64 (tests, gradcheck), a torch without oneDNN and
    `torch.backends.mkldnn.enabled = False` always take torch.mm (MKL)."""
    if backend == "onednn" and a.dtype == torch.float32 and "onednn" in available_backends():
        return _ONEDNN_LINEAR(a, weight, bias, "none", [], "")
    product = a @ weight.t()
    return product if bias is None else product.add_(bias)


def available_backends() -> tuple[str, ...]:
    return BACKENDS if _ONEDNN_LINEAR is not None and torch.backends.mkldnn.enabled else ("mkl",)


def machine() -> dict:
    """What a measurement holds for: CPU model, vector extensions, torch version, thread count."""
    return cpu.identity() | {"torch": torch.__version__, "threads": torch.get_num_threads()}


def cheapest(timings: dict[str, float]) -> str:
    """The option with the least time; ties go to the first listed (the default)."""
    return min(timings, key=lambda name: (timings[name], list(timings).index(name)))


def best_times(runs: dict[str, Callable[[], object]], repeats: int, budget_s: float) -> dict[str, float]:
    """Each option's least time over up to `repeats` rounds, stopping once `budget_s` is spent (the
    machine may be busy with other work). The rounds take the options in turn, so a burst of other
    work slows all of them rather than one."""
    started = time.perf_counter()
    for run in runs.values():
        run()  # the first call pays for allocation and kernel set-up
    times: dict[str, float] = dict.fromkeys(runs, float("inf"))
    for round_ in range(repeats):
        if round_ and time.perf_counter() - started > budget_s:
            break
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            times[name] = min(times[name], time.perf_counter() - started)
    return times


def time_backends(batch: int, inputs: int, hidden: int, gates: int, block: int) -> dict[str, float]:
    """Seconds for one block's products on each library: the input projection (block B, E) @ (E, gates H)
    and the input gradient (block B, gates H) @ (gates H, E), at the layer's own sizes."""
    generator = torch.Generator().manual_seed(0)  # not torch's global one: dropout draws from that
    rows = torch.randn(block * batch, inputs, generator=generator)
    cols = torch.randn(block * batch, gates * hidden, generator=generator)
    weight = torch.randn(gates * hidden, inputs, generator=generator)
    bias = torch.randn(gates * hidden, generator=generator)

    def products(backend: str) -> Callable[[], object]:
        return lambda: (linear(rows, weight, bias, backend), linear(cols, weight.t(), None, backend))

    runs = {backend: products(backend) for backend in available_backends()}
    return best_times(runs, PRODUCT_REPEATS, PRODUCT_BUDGET_S)


def time_blocks(function, batch: int, inputs: int, hidden: int, gates: int, backend: str) -> dict[str, float]:
    """Seconds for the layer's forward and backward over MEASURE_STEPS steps at each block size."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(batch, MEASURE_STEPS, inputs, generator=generator, requires_grad=True)
    weights = [torch.randn(gates * hidden, size, generator=generator) * 0.1 for size in (inputs, hidden)]
    biases = [torch.zeros(gates * hidden) for _ in range(2)]
    parameters = [p.requires_grad_() for p in (*weights, *biases)]
    upstream = torch.randn(batch, MEASURE_STEPS, hidden, generator=generator)

    def layer(block: int) -> Callable[[], object]:
        return lambda: function.apply(x, *parameters, Plan(backend, block)).backward(upstream)

    return best_times({str(block): layer(block) for block in BLOCKS}, LAYER_REPEATS, LAYER_BUDGET_S)


def measure(function, batch: int, inputs: int, hidden: int, gates: int) -> tuple[Plan, dict]:
    """Time the libraries on the products, then the block sizes on the layer with the faster one."""
    backends = time_backends(batch, inputs, hidden, gates, DEFAULT_BLOCK)
    backend = cheapest(backends)
    with torch.inference_mode(False), torch.enable_grad():  # first use may come under scoring's no-grad
        blocks = time_blocks(function, batch, inputs, hidden, gates, backend)
    return Plan(backend, int(cheapest(blocks))), {"backend": backends, "block": blocks}


_CHOSEN: dict[str, tuple[Plan, str]] = {}  # problem -> (plan, where it came from), for this process's life


def problem_key(cell: str, inputs: int, hidden: int) -> str:
    return f"{cell}:{inputs}x{hidden}"


def cache_path(identity: dict) -> Path:
    from reviewrnn.fetch import cache_dir

    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / "kernels" / f"{digest}.json"


def read_cache(path: Path, identity: dict) -> dict:
    """The problems measured on this machine: {} when the file is missing, unreadable, or another machine's."""
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(content, dict) or content.get("version") != CACHE_VERSION or content.get("machine") != identity:
        return {}
    plans = content.get("plans")
    return plans if isinstance(plans, dict) else {}


def plan_from_entry(entry) -> Plan | None:
    """A cached entry as a Plan, or None when it is malformed or names a library this torch lacks."""
    if not isinstance(entry, dict):
        return None
    backend, block = entry.get("backend"), entry.get("block")
    if backend not in available_backends() or block not in BLOCKS:
        return None
    return Plan(backend, block)


def write_cache(path: Path, identity: dict, plans: dict) -> None:
    """Atomic: a reader sees the old file or the new one, never half of one."""
    from reviewrnn.atomic import atomic_write_bytes

    content = json.dumps({"version": CACHE_VERSION, "machine": identity, "plans": plans}, indent=1)
    atomic_write_bytes(path, content.encode("utf-8"))


def forced_plan() -> Plan | None:
    """REVIEWRNN_KERNELS=onednn|mkl: that library and the default block, unmeasured; measure/unset: None."""
    value = os.environ.get(ENV, "measure").strip().lower() or "measure"
    if value == "measure":
        return None
    if value not in BACKENDS:
        raise ReviewRNNError(f"{ENV}={value!r} is not a choice; use onednn, mkl or measure (the default)")
    return Plan(value if value in available_backends() else "mkl", DEFAULT_BLOCK)


def cached_or_measured(function, cell: str, batch: int, inputs: int, hidden: int, gates: int) -> tuple[Plan, str]:
    """(plan, where from): the cached plan for this problem, or a new measurement, stored if trusted."""
    identity, key = machine(), problem_key(cell, inputs, hidden)
    path = cache_path(identity)
    plans = read_cache(path, identity)
    plan = plan_from_entry(plans.get(key))
    if plan is not None:
        return plan, "cache"
    batch, started = min(batch, MEASURE_BATCH), time.perf_counter()
    plan, timings = measure(function, batch, inputs, hidden, gates)
    if time.perf_counter() - started > TRUSTED_S:
        return plan, "measured on a busy machine, not cached"
    plans[key] = {"backend": plan.backend, "block": plan.block, "batch": batch, "seconds": timings}
    with contextlib.suppress(OSError):  # a read-only cache costs a measurement per process, nothing more
        write_cache(path, identity, plans)
    return plan, "measured"


def plan_for(function, cell: str, batch: int, inputs: int, hidden: int, gates: int) -> Plan:
    """This process's plan for a layer: fixed at its first use, so a run never changes kernels mid-way."""
    key = problem_key(cell, inputs, hidden)
    if key not in _CHOSEN:
        forced = forced_plan()
        _CHOSEN[key] = (forced, "env") if forced else cached_or_measured(function, cell, batch, inputs, hidden, gates)
    return _CHOSEN[key][0]


def chosen() -> dict[str, tuple[Plan, str]]:
    """Every plan this process has fixed, with where it came from (for `make bench` and logs)."""
    return dict(_CHOSEN)


def forget() -> None:
    """Drop this process's fixed plans (tests; a benchmark that changes the thread count)."""
    _CHOSEN.clear()
