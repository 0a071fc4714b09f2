"""kernels.py: the faster library and block size are chosen from timings, cached per machine, reused."""

from __future__ import annotations

import json

import pytest
import torch

from reviewrnn import cpu, kernels
from reviewrnn.errors import ReviewRNNError
from reviewrnn.fastrnn import GRUFunction, run_layer
from reviewrnn.kernels import Plan


@pytest.fixture
def fresh(monkeypatch):
    """No plan fixed yet in this process, and measuring allowed."""
    monkeypatch.setattr(kernels, "_CHOSEN", {})
    monkeypatch.delenv(kernels.ENV, raising=False)


@pytest.fixture
def timings(monkeypatch):
    """Injected timings instead of the clock: MKL and 64-step blocks are the fastest here; counts calls."""
    calls = []

    def fake_backends(batch, inputs, hidden, gates, block):
        calls.append("backend")
        return {"onednn": 2.0, "mkl": 1.0}

    def fake_blocks(function, batch, inputs, hidden, gates, backend):
        calls.append(("block", backend))
        return {"32": 3.0, "16": 4.0, "64": 2.5}

    monkeypatch.setattr(kernels, "time_backends", fake_backends)
    monkeypatch.setattr(kernels, "time_blocks", fake_blocks)
    return calls


def test_cheapest_picks_the_least_time_and_keeps_the_first_on_a_tie():
    assert kernels.cheapest({"onednn": 2.0, "mkl": 1.5}) == "mkl"
    assert kernels.cheapest({"onednn": 0.9, "mkl": 1.5}) == "onednn"
    assert kernels.cheapest({"32": 1.0, "16": 1.0, "64": 1.0}) == "32"


def test_measure_times_blocks_on_the_faster_library(timings):
    plan, seconds = kernels.measure(GRUFunction, 4, 8, 6, 3)
    assert plan == Plan("mkl", 64)
    assert timings == ["backend", ("block", "mkl")]
    assert seconds["backend"] == {"onednn": 2.0, "mkl": 1.0}


def test_measured_once_then_loaded_from_the_cache(fresh, timings):
    plan = kernels.plan_for(GRUFunction, "gru", 4, 8, 6, 3)
    assert plan == Plan("mkl", 64) and len(timings) == 2
    path = kernels.cache_path(kernels.machine())
    written = json.loads(path.read_text())
    assert written["machine"] == kernels.machine() and written["plans"]["gru:8x6"]["block"] == 64
    assert kernels.plan_for(GRUFunction, "gru", 4, 8, 6, 3) == plan and len(timings) == 2  # same process
    kernels.forget()  # as a new process would start
    assert kernels.plan_for(GRUFunction, "gru", 4, 8, 6, 3) == plan and len(timings) == 2
    assert kernels.chosen()["gru:8x6"] == (plan, "cache")


def test_measuring_leaves_torchs_random_numbers_alone():
    """A run that measures must draw the same dropout masks as a later run that reads the cache."""
    torch.manual_seed(7)
    kernels.measure(GRUFunction, 4, 8, 6, 3)
    measured = torch.rand(5)
    torch.manual_seed(7)
    assert torch.equal(torch.rand(5), measured)


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "[]",
        json.dumps({"version": kernels.CACHE_VERSION, "machine": {"cpu": "another"}, "plans": {}}),
        "FOREIGN-ENTRY",
    ],
    ids=["corrupt", "not-an-object", "another-machine", "bad-entry"],
)
def test_a_corrupt_or_foreign_cache_is_measured_again(fresh, timings, content):
    path = kernels.cache_path(kernels.machine())
    path.parent.mkdir(parents=True)
    if content == "FOREIGN-ENTRY":  # this machine's file, but an entry naming a block size we never use
        entry = {"backend": "onednn", "block": 7}
        content = json.dumps(
            {"version": kernels.CACHE_VERSION, "machine": kernels.machine(), "plans": {"gru:8x6": entry}}
        )
    path.write_text(content)
    assert kernels.plan_for(GRUFunction, "gru", 4, 8, 6, 3) == Plan("mkl", 64)
    assert len(timings) == 2
    assert json.loads(path.read_text())["plans"]["gru:8x6"]["backend"] == "mkl"


def test_the_cache_key_holds_cpu_vector_extensions_torch_and_threads():
    identity = kernels.machine()
    assert set(identity) == {"cpu", "vector", "torch", "threads"}
    assert identity["torch"] == torch.__version__ and identity["threads"] == torch.get_num_threads()
    assert all(cpu.VECTOR_FLAG.fullmatch(flag) for flag in identity["vector"])
    other = identity | {"threads": identity["threads"] + 1}
    assert kernels.cache_path(other) != kernels.cache_path(identity)


@pytest.mark.parametrize("backend", kernels.BACKENDS)
def test_the_environment_variable_skips_measuring(fresh, timings, monkeypatch, backend):
    monkeypatch.setenv(kernels.ENV, backend)
    plan = kernels.plan_for(GRUFunction, "gru", 4, 8, 6, 3)
    assert plan.block == kernels.DEFAULT_BLOCK and plan.backend in (backend, "mkl") and timings == []
    assert not kernels.cache_path(kernels.machine()).exists()


def test_a_misspelt_environment_value_names_the_choices(fresh, monkeypatch):
    monkeypatch.setenv(kernels.ENV, "fastest")
    with pytest.raises(ReviewRNNError, match="onednn, mkl or measure"):
        kernels.plan_for(GRUFunction, "gru", 4, 8, 6, 3)


def test_a_real_measurement_is_short_and_gives_a_usable_plan(fresh):
    """The clock, not injected timings: every option is timed and the plan runs the layer."""
    plan, seconds = kernels.measure(GRUFunction, 2, 5, 4, 3)
    assert plan.backend in kernels.available_backends() and plan.block in kernels.BLOCKS
    assert set(seconds["block"]) == {str(block) for block in kernels.BLOCKS}
    assert all(value > 0 for part in seconds.values() for value in part.values())
    layer = torch.nn.GRU(5, 4, batch_first=True)
    x = torch.randn(2, 9, 5)
    assert torch.allclose(run_layer(layer, "gru", x), layer(x)[0], atol=1e-5)


def test_a_measurement_slowed_by_other_work_is_used_but_not_cached(fresh, timings, monkeypatch):
    clock = iter([0.0, 100.0])  # the measurement "took" 100 s
    monkeypatch.setattr(kernels.time, "perf_counter", lambda: next(clock))
    assert kernels.plan_for(GRUFunction, "gru", 4, 8, 6, 3) == Plan("mkl", 64)
    assert not kernels.cache_path(kernels.machine()).exists()
    assert kernels.chosen()["gru:8x6"][1].startswith("measured on a busy machine")


@pytest.mark.parametrize("mode", [torch.no_grad, torch.inference_mode])
def test_a_first_use_while_scoring_still_measures_the_backward(fresh, mode):
    layer = torch.nn.GRU(5, 4, batch_first=True)
    x = torch.randn(2, 9, 5)
    with mode():
        assert torch.allclose(run_layer(layer, "gru", x), layer(x)[0], atol=1e-5)
    assert kernels.chosen()["gru:5x4"][1] != "env"


def test_the_cpu_line_of_a_report_names_the_generation(tmp_path, monkeypatch):
    """Both EPYCs of this project read 'AMD EPYC' as their model name: the family and model tell them apart."""
    info = tmp_path / "cpuinfo"
    info.write_text("cpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\nflags\t\t: fpu avx2 avx fma sse2\n")
    real = cpu.Path

    monkeypatch.setattr(cpu, "Path", lambda path: info if path == "/proc/cpuinfo" else real(path))
    for cached in (cpu._read, cpu._generation):
        cached.cache_clear()
    try:
        assert cpu.describe() == "AMD EPYC (family 25, model 1): avx avx2 fma sse2"
        info.write_text("model name\t: Some CPU\n")
        cpu._read.cache_clear(), cpu._generation.cache_clear()
        assert cpu.describe() == "Some CPU: no vector flags read"
    finally:
        for cached in (cpu._read, cpu._generation):
            cached.cache_clear()  # the real machine's again, for the other tests
