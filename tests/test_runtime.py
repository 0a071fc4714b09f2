"""runtime.py: device choice, thread count and seeding."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest
import torch

from reviewrnn import runtime
from reviewrnn.errors import ReviewRNNError


def test_resolve_device():
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    assert runtime.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ReviewRNNError, match="--device must be"):
        runtime.resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_an_error_not_a_fallback():
    with pytest.raises(ReviewRNNError, match="no CUDA GPU"):
        runtime.resolve_device("cuda")


def test_set_threads():
    import os

    try:
        assert runtime.set_threads(1) == 1 and torch.get_num_threads() == 1
        assert os.environ["RAYON_NUM_THREADS"] == "1"  # the tokenizer's pool too, when it starts
        assert runtime.set_threads(None) == runtime.default_threads() >= 1
        assert os.environ["RAYON_NUM_THREADS"] == "1"  # no --threads: left as it was
    finally:
        torch.set_num_threads(1)


def test_seed_everything_repeats():
    first = (runtime.seed_everything(5).integers(0, 1000, 5).tolist(), torch.rand(3).tolist())
    second = (runtime.seed_everything(5).integers(0, 1000, 5).tolist(), torch.rand(3).tolist())
    assert first == second


def test_keep_freed_memory_applies_on_glibc_only():
    """mallopt refuses out-of-range values with 0, so True means both settings took effect."""
    assert runtime.keep_freed_memory() is (platform.libc_ver()[0] == "glibc")


ALLOCATOR_PROBE = r"""
import ctypes, sys

libc = ctypes.CDLL("libc.so.6")
FIELDS = ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")


class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS]


libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]


def keeps_freed_memory():
    # 128 MB of 64 KB blocks on the heap, freed from the top down: glibc's default trims the heap back
    # (its trim threshold never passes 64 MB), keep_freed_memory's never does.
    blocks = [libc.malloc(64 * 1024) for _ in range(2048)]
    grown = libc.mallinfo2().arena
    for block in reversed(blocks):
        libc.free(block)
    return libc.mallinfo2().arena > grown - 64 * 2**20


from reviewrnn.cli import app
from reviewrnn.config import ModelConfig, TokenizerConfig, TrainConfig
from reviewrnn.runs import train_step
from reviewrnn.source import CorpusSettings

corpus, models = sys.argv[1], sys.argv[2]
seen = [keeps_freed_memory()]
train = TrainConfig(epochs=1, batch_size=16, max_tokens=32, threads=1, device="cpu")
model = ModelConfig(embed=8, hidden=8, bidirectional=False)
train_step(CorpusSettings(corpus), model, train, TokenizerConfig(vocab_size=100), models + "/library")
seen.append(keeps_freed_memory())
arguments = ["train", "--corpus", corpus, "--out", models + "/command", "--epochs", "1", "--hidden", "8"]
arguments += ["--embed", "8", "--vocab-size", "100", "--threads", "1", "--max-tokens", "32", "--device", "cpu"]
try:
    app(arguments)
except SystemExit as stop:
    assert not stop.code, stop.code
seen.append(keeps_freed_memory())
print(seen)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="keep_freed_memory sets glibc's allocator")
def test_only_the_train_command_changes_the_allocator(make_corpus, isolated_env, tmp_path):
    """In a fresh process: the library trains without touching glibc; `reviewrnn train` sets it at its entry."""
    script = tmp_path / "probe.py"
    script.write_text(ALLOCATOR_PROBE)
    arguments = [sys.executable, str(script), str(make_corpus()), str(isolated_env["models"])]
    result = subprocess.run(arguments, capture_output=True, text=True, timeout=300, env=os.environ)
    assert result.returncode == 0, result.stderr[-2000:]
    # before anything, after runs.train_step, after the train command
    assert result.stdout.split("\n")[-2] == "[False, False, True]"


def test_ranks_leave_together_after_a_normal_run_and_at_once_after_an_error(monkeypatch):
    """A normal end waits at a barrier before leaving (rank 0 still calibrates and saves); an error does not."""
    import torch.distributed as dist

    from reviewrnn import runs

    calls = []
    monkeypatch.setattr(runtime, "init_distributed", lambda device: runtime.Distributed(0, 2))
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(dist, "destroy_process_group", lambda: calls.append("destroy"))
    with runs._distributed("cpu"):
        calls.append("work")
    assert calls == ["work", "barrier", "destroy"]
    calls.clear()
    with pytest.raises(RuntimeError), runs._distributed("cpu"):
        raise RuntimeError("a rank failed")
    assert calls == ["destroy"]
