"""Device, thread and seed setup for a torch run, in one place."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from reviewrnn.errors import ReviewRNNError


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA when present; asking for CUDA without it is an error, not a silent fallback."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ReviewRNNError("--device cuda asked for, but torch sees no CUDA GPU; use --device cpu")
    if name not in ("cpu", "cuda"):
        raise ReviewRNNError(f"--device must be auto, cpu or cuda; got {name!r}")
    return torch.device(name)


def default_threads() -> int:
    """All cores this process may use: measured fastest here when the machine is otherwise idle.

    With another busy process on the same cores, pass --threads 1 (see `make bench`).
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def set_threads(threads: int | None) -> int:
    chosen = threads or default_threads()
    if chosen < 1:
        raise ReviewRNNError(f"--threads must be at least 1, got {chosen}")
    torch.set_num_threads(chosen)
    return chosen


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch and Python; return the numpy generator that orders batches."""
    random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)
