"""blas.py and cpu.py: what the predict bench prints beside its figures, read from the library and the CPU."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from reviewrnn import blas, cpu


def test_cpu_identity_names_the_model_and_only_vector_extensions():
    identity = cpu.identity()
    assert set(identity) == {"cpu", "vector"} and identity["cpu"]
    assert identity["vector"] == sorted(identity["vector"])
    assert all(cpu.VECTOR_FLAG.fullmatch(flag) for flag in identity["vector"])


@pytest.mark.skipif(blas._openblas() is None, reason="numpy is not on OpenBLAS here")
@pytest.mark.skipif("avx2" not in cpu.identity()["vector"], reason="the kernel sets named need an AVX2 CPU")
def test_core_name_follows_openblas_coretype():
    """OPENBLAS_CORETYPE is read as OpenBLAS loads, so each kernel set is checked in a new process."""
    assert blas.core_name()
    script = "from reviewrnn import blas; print(blas.core_name())"
    for core in ("Haswell", "Sandybridge"):
        env = os.environ | {"OPENBLAS_CORETYPE": core}
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        assert done.stdout.strip() == core
