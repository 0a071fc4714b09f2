"""blas.py and cpu.py: what the predict bench prints beside its figures, read from the library and the CPU."""

from __future__ import annotations

import pytest

from reviewrnn import blas, cpu


def test_cpu_identity_names_the_model_and_only_vector_extensions():
    identity = cpu.identity()
    assert set(identity) == {"cpu", "vector"} and identity["cpu"]
    assert identity["vector"] == sorted(identity["vector"])
    assert all(cpu.VECTOR_FLAG.fullmatch(flag) for flag in identity["vector"])


@pytest.mark.skipif(blas._openblas() is None, reason="numpy is not on OpenBLAS here")
def test_core_name_reads_the_kernel_set_openblas_loaded():
    """A name such as 'Haswell' or 'SkylakeX' (an OPENBLAS_CORETYPE pin may alias it: Zen loads Haswell)."""
    name = blas.core_name()
    assert name and name.isascii() and name.isalnum()
