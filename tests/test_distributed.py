"""Training under torchrun (DistributedDataParallel, gloo on CPU) equals one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from reviewrnn.artifacts import load_model

TRAIN = [
    "--epochs",
    "2",
    "--hidden",
    "12",
    "--embed",
    "12",
    "--vocab-size",
    "150",
    "--threads",
    "1",
    "--batch-size",
    "16",
    "--max-tokens",
    "48",
    "--device",
    "cpu",
    "--dropout",
    "0",
    "--seed",
    "5",
    "--cell",
    "gru",
    "--bidirectional",
]


def test_torchrun_two_ranks_matches_one_process(make_corpus, isolated_env):
    corpus = make_corpus(count=240)
    env = {
        **os.environ,
        "REVIEWRNN_CACHE": str(isolated_env["cache"]),
        "REVIEWRNN_MODELS": str(isolated_env["models"]),
        "OMP_NUM_THREADS": "1",
    }
    single = subprocess.run(
        [sys.executable, "-m", "reviewrnn", "train", "--corpus", str(corpus), "--name", "single", *TRAIN],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr.decode()
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    ranked = subprocess.run(
        [*torchrun, "-m", "reviewrnn", "train", "--corpus", str(corpus), "--name", "ddp", *TRAIN],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert ranked.returncode == 0, ranked.stderr.decode()  # whole: a rank's own error sits above the launcher's
    assert ranked.stdout.decode().count("saved ") == 1  # only rank 0 reports
    one, two = load_model(isolated_env["models"] / "single"), load_model(isolated_env["models"] / "ddp")
    for name, weights in one.weights.items():
        np.testing.assert_allclose(two.weights[name], weights, atol=2e-5, err_msg=name)
    history_one = [epoch["valid_accuracy"] for epoch in _history(one.directory)]
    assert history_one == [epoch["valid_accuracy"] for epoch in _history(two.directory)]
    # --on-disk under torchrun: both ranks build (or open) the same Arrow caches and train the same model.
    on_disk = subprocess.run(
        [*torchrun, "-m", "reviewrnn", "train", "--corpus", str(corpus), "--name", "ddp-disk", "--on-disk", *TRAIN],
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert on_disk.returncode == 0, on_disk.stderr.decode()
    three = load_model(isolated_env["models"] / "ddp-disk")
    for name, weights in two.weights.items():
        np.testing.assert_allclose(three.weights[name], weights, atol=2e-5, err_msg=name)


def _history(directory):
    import json

    return json.loads((directory / "history.json").read_text())
