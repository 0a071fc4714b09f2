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


def test_bench_accuracy_trains_the_pretrained_recipe_from_each_seed_and_adds_their_mean(make_corpus, tmp_path):
    """`--reviewrnn pretrained --seeds 2`: one LM pretrained on TRAIN texts, then `train --init` from it per seed
    (the LM's shape, tokenizer and weights, as the command does), one row each and a row of their mean."""
    import json

    from reviewrnn.artifacts import load_config

    accuracy = bench_accuracy()
    corpus, models = make_corpus(count=300), tmp_path / "models"
    flags = ["--corpus", str(corpus), "--no-peers", "--reviewrnn", "pretrained", "--seeds", "2", "--threads", "1"]
    args = accuracy.parse_args([*flags, "--lm-epochs", "1", "--lm-hidden", "16", "--epochs", "2"])
    args.models_dir = models
    report = {"notes": [], "methods": []}
    accuracy.benchmark(args, tmp_path / "scratch", report)
    first, second, mean = report["methods"]
    assert [first["method"], second["method"]] == ["reviewrnn pretrained seed 0", "reviewrnn pretrained seed 1"]
    assert mean["method"] == "reviewrnn pretrained, mean of 2 seeds"
    assert mean["test_accuracy"] == pytest.approx((first["test_accuracy"] + second["test_accuracy"]) / 2)
    assert mean["test_sd"] == pytest.approx(abs(first["test_accuracy"] - second["test_accuracy"]) / 2**0.5)
    lm = models / "lm"
    assert report["pretraining"]["hidden"] == 16 and report["pretraining"]["epochs"] == 1
    assert any(note.startswith("pretrained: a language model of hidden 16") for note in report["notes"])
    for seed in (0, 1):
        config = load_config(models / f"pretrained-seed-{seed}")
        assert config.train.seed == seed and config.train.epochs == 2 and config.train.schedule == "constant"
        assert config.model.hidden == 16 and config.model.pool == "mean"  # the LM's shape, a whole-LM start's pool
        assert config.init.path == str(lm.resolve()) and config.init.part == "all"
        tokenizer = json.loads((models / f"pretrained-seed-{seed}" / "tokenizer.json").read_text())
        assert tokenizer == json.loads((lm / "tokenizer.json").read_text())
    table = accuracy.render(report)
    assert "pretrained" in table.caption
    headers = [str(column.header) for column in table.columns]  # buckets without TEST reviews are left out
    assert all("n=0" not in header for header in headers) and len(headers) < 4 + len(mean["by_length"])
    assert [bucket["ci_low"] for bucket in mean["by_length"]] == [None] * len(mean["by_length"])  # a mean, no interval
    assert mean["details"]["seeds"] == [0, 1] and mean["test_ci95"] is None


def bench_accuracy():
    """benchmarks/accuracy.py as a module (the scripts are not a package)."""
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import accuracy
    finally:
        sys.path.remove(str(BENCHMARKS))
    return accuracy


def test_bench_accuracy_reuses_an_lm_and_trains_at_the_commands_batch_size(
    pretrained_lm, session_corpus, trained_model, tmp_path
):
    """--lm: a GRU LM's classifier trains at `train --init`'s batch for a GRU (128, not the config's 64); the
    TEST check finds nothing to say of an LM pretrained with this corpus; a classifier as --lm is refused
    before any row trains."""
    accuracy = bench_accuracy()
    flags = ["--corpus", str(session_corpus), "--no-peers", "--reviewrnn", "pretrained", "--epochs", "1"]
    args = accuracy.parse_args([*flags, "--threads", "1", "--lm", str(pretrained_lm)])
    args.models_dir = tmp_path / "models"
    report = {"notes": [], "methods": []}
    accuracy.benchmark(args, tmp_path / "scratch", report)
    (row,) = report["methods"]
    assert row["method"] == "reviewrnn pretrained" and row["details"]["train"]["batch_size"] == 128
    assert row["details"]["model"]["cell"] == "gru" and row["details"]["init"]["part"] == "all"
    assert report["pretraining"] == {"reused": str(pretrained_lm)}
    assert not any("pretraining text" in note or "sha256" in note for note in report["notes"])
    for lm, words in ((trained_model, "a classifier, not a language model; --lm takes"), (tmp_path, "config.json")):
        args.lm = lm
        with pytest.raises(accuracy.ReviewRNNError, match=f"^--lm {lm}.*{words}"):
            accuracy.benchmark(args, tmp_path / "scratch2", {"notes": [], "methods": []})
    args.lm = trained_model / "config.json"
    with pytest.raises(accuracy.ReviewRNNError, match=r"^--lm .*config\.json: a file; give the directory"):
        accuracy.benchmark(args, tmp_path / "scratch2", {"notes": [], "methods": []})


def test_bench_accuracy_refuses_lm_flags_it_would_ignore(capsys):
    accuracy = bench_accuracy()
    for argv in (
        ["--reviewrnn", "gru,gru"],
        ["--reviewrnn", "bogus"],
        ["--reviewrnn", "none", "--no-peers"],
        ["--lm", "x"],
        ["--reviewrnn", "gru", "--lm-hidden", "64"],
        ["--reviewrnn", "pretrained", "--lm", "x", "--lm-epochs", "2"],
    ):
        with pytest.raises(SystemExit) as stopped:
            accuracy.parse_args(argv)
        assert stopped.value.code == 2
    said = capsys.readouterr().err
    assert "names gru more than once" in said and "unknown run 'bogus'" in said and "nothing to run" in said
    assert "--lm reuses one" in said
    with pytest.raises(accuracy.ReviewRNNError, match="names gru more than once"):
        accuracy.with_seeds(accuracy.recurrent_runs("gru,lstm,gru", {}), 2)


def test_bench_accuracy_cells_and_presets_train_at_the_commands_batch_sizes():
    from reviewrnn.config import CELL_BATCH_SIZE
    from reviewrnn.presets import PRESETS

    accuracy = bench_accuracy()
    runs = accuracy.recurrent_runs("rnn,gru,lstm,presets", PRESETS)
    assert {run.name: run.train.batch_size for run in runs} == {
        "rnn": CELL_BATCH_SIZE["rnn"],
        "gru": CELL_BATCH_SIZE["gru"],
        "lstm": CELL_BATCH_SIZE["lstm"],
        **{f"preset:{name}": CELL_BATCH_SIZE[values["cell"]] for name, values in PRESETS.items()},
    }


def test_bench_accuracy_seeds_leave_ensembles_whole():
    accuracy = bench_accuracy()
    runs = accuracy.with_seeds(accuracy.recurrent_runs("gru,lstm*2,pretrained", {}), 3)
    assert [run.name for run in runs] == [
        *(f"gru seed {k}" for k in range(3)),
        "lstm*2",
        *(f"pretrained seed {k}" for k in range(3)),
    ]
    assert [run.train.seed for run in runs] == [0, 1, 2, 0, 0, 1, 2]
    assert {run.group for run in runs} == {"gru", None, "pretrained"}
    with pytest.raises(accuracy.ReviewRNNError, match="pretrained, none"):
        accuracy.recurrent_runs("bogus", {})


def test_bench_names_the_faster_matmul_library_from_its_own_measurement(monkeypatch):
    """The caption follows the run's figures: on the AVX2 EPYCs MKL went further, on the AVX-512 one oneDNN."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    monkeypatch.delitem(sys.modules, "bench", raising=False)  # undone after the test: no `bench` left behind
    bench = importlib.import_module("bench")

    assert bench.faster_library(105.0, 64.0) == "MKL's kernels go further here."
    assert bench.faster_library(215.0, 465.0) == "oneDNN's kernels go further here."
    assert "alike" in bench.faster_library(65.0, 65.0) and "alike" in bench.faster_library(65.0, 63.0)
    assert "not measured" in bench.faster_library(65.0, None)
