"""runtime.py: device choice, thread count and seeding."""

from __future__ import annotations

import platform

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
    try:
        assert runtime.set_threads(1) == 1 and torch.get_num_threads() == 1
        assert runtime.set_threads(None) == runtime.default_threads() >= 1
    finally:
        torch.set_num_threads(1)


def test_seed_everything_repeats():
    first = (runtime.seed_everything(5).integers(0, 1000, 5).tolist(), torch.rand(3).tolist())
    second = (runtime.seed_everything(5).integers(0, 1000, 5).tolist(), torch.rand(3).tolist())
    assert first == second


def test_keep_freed_memory_applies_on_glibc_only():
    """mallopt refuses out-of-range values with 0, so True means both settings took effect."""
    assert runtime.keep_freed_memory() is (platform.libc_ver()[0] == "glibc")
