"""The benchmarks' baselines still run against today's code: `make bench` is not in the suite, so a
change of predict's interface once broke its old-path row (OldForward took no `threads`) unnoticed."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
REVIEWS = ["a great superb film", "awful boring plot", "wonderful brilliant music and acting", "dreadful script"] * 20


def predict_rows(command: list[str], model: Path, reviews: Path) -> list[list[str]]:
    env = dict(os.environ, REVIEWRNN_MODEL=str(model))
    done = subprocess.run(
        [sys.executable, *command, "predict", "--file", str(reviews)], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    return [line.split("\t") for line in done.stdout.splitlines()]


def test_the_old_predict_path_runs_and_agrees_with_todays(trained_model, tmp_path):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("\n".join(REVIEWS) + "\n", encoding="utf-8")
    old = predict_rows([str(BENCHMARKS / "oldpath.py")], trained_model, reviews)
    new = predict_rows(["-m", "reviewrnn"], trained_model, reviews)
    assert len(old) == len(new) == len(REVIEWS)
    assert [row[0] for row in old] == [row[0] for row in new]  # the labels
    for old_row, new_row in zip(old, new, strict=True):
        assert abs(float(old_row[1]) - float(new_row[1])) < 1e-4  # the probabilities, as printed


@pytest.mark.parametrize("script", sorted(path.stem for path in BENCHMARKS.glob("*.py")))
def test_every_benchmark_script_imports(script, monkeypatch):
    """Each script's imports of reviewrnn and of its sibling scripts still resolve (the bench extra's own
    packages, fastText and scikit-learn, are imported only where they are used)."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    before = set(sys.modules)
    try:
        module = importlib.import_module(script)
        assert module.__file__ == str(BENCHMARKS / f"{script}.py")
    finally:  # names such as `labels` and `bench` must not stay importable for the other tests
        for name in set(sys.modules) - before:
            if str(BENCHMARKS) in str(getattr(sys.modules[name], "__file__", "") or ""):
                del sys.modules[name]
