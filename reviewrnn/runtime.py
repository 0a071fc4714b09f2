"""Device, thread and seed setup for a torch run, in one place."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

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

    Training starts with this many and, unless --threads was given, times it against one thread
    during its first steps and again when steps slow down (threadtune.py; `make bench-busy`).
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def set_threads(threads: int | None) -> int:
    """torch's thread count; an explicit --threads also caps the tokenizer's Rayon pool, which reads
    RAYON_NUM_THREADS when it starts (a new user's `--threads 1` runs had kept every core busy encoding)."""
    chosen = threads or default_threads()
    if chosen < 1:
        raise ReviewRNNError(f"--threads must be at least 1, got {chosen}")
    torch.set_num_threads(chosen)
    if threads is not None:
        os.environ["RAYON_NUM_THREADS"] = str(threads)
    return chosen


# glibc mallopt parameters (malloc.h): the size above which a block gets its own mapping, and how
# much free memory at the heap's top is returned to the system.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc's upper limit on 64-bit systems


def keep_freed_memory() -> bool:
    """Let glibc reuse freed tensor memory instead of returning it to the system after every step.

    A training step allocates and frees the same few-MB tensors (gate buffers, gradients) every
    batch. With glibc's defaults they come back as fresh mappings whose first touch page-faults:
    10-25% of a training step here. Blocks up to 32 MB now stay on the heap and the heap is not
    trimmed, so memory is reused; peak RSS was unchanged (`make bench-scale`, 100k reviews: 876 MB
    against 904). The setting is process-wide and stays: after training the process keeps its
    peak memory until it exits. Returns False where there is no glibc (macOS, musl).
    """
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX)) and bool(
            libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)
        )
    except (OSError, AttributeError):
        return False


def seed_everything(seed: int) -> np.random.Generator:
    """Seed torch and Python; return the numpy generator that orders batches."""
    random.seed(seed)
    torch.manual_seed(seed)
    return np.random.default_rng(seed)


@dataclass
class Distributed:
    """This process's place in a torchrun job; one process alone is rank 0 of 1 (same code path)."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def all_reduce_sum(self, values: list[float]) -> list[float]:
        """Sum small statistics over all ranks (a no-op alone)."""
        if self.world_size == 1:
            return values
        import torch.distributed as dist

        tensor = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def share_text(self, text: str | None) -> str:
        """Rank 0's `text` on every rank (as bytes in a tensor: nothing is pickled)."""
        if self.world_size == 1:
            return text or ""
        import torch.distributed as dist

        data = (text or "").encode("utf-8") if self.is_main else b""
        size = torch.tensor([len(data)], dtype=torch.int64)
        dist.broadcast(size, src=0)
        buffer = (
            torch.frombuffer(bytearray(data), dtype=torch.uint8)
            if self.is_main
            else torch.empty(int(size.item()), dtype=torch.uint8)
        )
        dist.broadcast(buffer, src=0)
        return bytes(buffer.numpy()).decode("utf-8")

    def wrap(self, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """The module the loop calls: the model alone, or under torchrun a DDP wrapper that sums
        gradients over ranks during backward."""
        if self.world_size == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    def shard(self, indices: np.ndarray) -> np.ndarray | None:
        """This rank's share of a global batch (all of it alone); None when the batch is too small to
        give every rank a review, so that every rank skips it alike."""
        if len(indices) < self.world_size:
            return None
        return indices[self.rank :: self.world_size]

    def any(self, flag: bool) -> bool:
        """True on every rank if it is True on any: a stop request must reach all ranks together."""
        return bool(self.all_reduce_sum([float(flag)])[0]) if self.world_size > 1 else flag


def init_distributed(device: torch.device) -> Distributed:
    """Join the torchrun job when WORLD_SIZE > 1: gloo on CPU, nccl on CUDA."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return Distributed()
    import torch.distributed as dist

    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(dist.get_rank(), dist.get_world_size())


def close_distributed(distributed: Distributed, together: bool = True) -> None:
    """Leave the torchrun job. `together` (a run that ended normally): every rank waits at a barrier
    first, so no rank hangs up while a peer is still working (rank 0 calibrates and saves after the
    others have finished) and gloo never sees a connection close under a live process group. After
    an error a rank leaves at once: its peers then fail on their next collective, as torchrun expects."""
    if distributed.world_size > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            if together:
                dist.barrier()
            dist.destroy_process_group()
