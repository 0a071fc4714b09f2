"""Shared fixtures: an isolated environment, tiny synthetic corpora, and one tiny trained model.

Every test runs with REVIEWRNN_CACHE and REVIEWRNN_MODELS pointing at fresh temporary folders, with
REVIEWRNN_MODEL unset and the working directory moved to a temporary folder, so the user's cache and
the repository's models/ are never touched.
"""

from __future__ import annotations

import csv
import json
import os
import random
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hypothesis import settings

# Property-based tests: modest example counts in `make test`, many more in `make soak` (HYPOTHESIS_PROFILE=soak).
# No example database: the suite leaves no .hypothesis folder behind; a failure prints its example.
settings.register_profile("suite", max_examples=60, deadline=None, database=None)
settings.register_profile("soak", max_examples=600, deadline=None, database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "suite"))

# Quiet, fork-safe tokenizers in this process and in the CLI subprocesses it starts.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One torch thread: the models here are tiny, and with another process busy on the same cores
# multi-threaded torch waits on its own threads (a 20x slowdown measured on 2 cores).
os.environ.setdefault("OMP_NUM_THREADS", "1")


def single_thread() -> None:
    if "torch" in sys.modules:  # only once something has imported it
        sys.modules["torch"].set_num_threads(1)


NEUTRAL_WORDS = (
    "the a movie film plot story actor actress scene was is and it this that with for of to in on "
    "very quite really music ending camera script director screen cast some two hours watched saw"
).split()
POSITIVE_WORDS = ("great", "superb", "wonderful", "brilliant")
NEGATIVE_WORDS = ("awful", "boring", "terrible", "dreadful")
CLASS_WORDS = {"negative": NEGATIVE_WORDS, "positive": POSITIVE_WORDS}


def synthetic_reviews(
    count: int,
    seed: int = 0,
    classes: Sequence[str] = ("negative", "positive"),
    polarity_words: int = 2,
    words: tuple[int, int] = (4, 20),
) -> list[tuple[str, str]]:
    """(text, label) pairs: random neutral words plus a few words that give the class away.

    Classes other than negative/positive get their own marker words ("<name>ish", "<name>y").
    """
    rng = random.Random(seed)
    markers = {name: CLASS_WORDS.get(name, (f"{name}ish", f"{name}y")) for name in classes}
    rows = []
    for index in range(count):
        label = classes[index % len(classes)]
        tokens = [rng.choice(NEUTRAL_WORDS) for _ in range(rng.randint(*words))]
        for _ in range(polarity_words):
            tokens.insert(rng.randrange(len(tokens) + 1), rng.choice(markers[label]))
        rows.append((" ".join(tokens), label))
    return rows


def write_table(
    path: Path,
    rows: Sequence[tuple[object, object]],
    columns: tuple[str, str] = ("review", "sentiment"),
) -> Path:
    """Write (text, label) rows as CSV, TSV, JSONL or Parquet, chosen by the file's extension."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, delimiter="\t" if suffix == ".tsv" else ",")
            writer.writerow(columns)
            writer.writerows(rows)
    elif suffix in (".jsonl", ".json"):
        with open(path, "w", encoding="utf-8") as handle:
            for text, label in rows:
                handle.write(json.dumps({columns[0]: text, columns[1]: label}) + "\n")
    elif suffix == ".parquet":
        import datasets

        data = {columns[0]: [text for text, _ in rows], columns[1]: [label for _, label in rows]}
        datasets.Dataset.from_dict(data).to_parquet(str(path))
    else:
        raise ValueError(f"no writer for {suffix}")
    return path


@pytest.fixture(scope="session", autouse=True)
def session_env(tmp_path_factory) -> Path:
    """Session-wide isolation, so session fixtures (the trained model) never see the user's folders."""
    root = tmp_path_factory.mktemp("session-env")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REVIEWRNN_CACHE", str(root / "cache"))
        patch.setenv("REVIEWRNN_MODELS", str(root / "models"))
        patch.delenv("REVIEWRNN_MODEL", raising=False)
        patch.delenv("REVIEWRNN_DEBUG", raising=False)
        yield root


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch) -> dict[str, Path]:
    """Per test: fresh cache and models folders, no default model, cwd in a temporary folder."""
    cache, models, work = tmp_path / "cache", tmp_path / "models", tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("REVIEWRNN_CACHE", str(cache))
    monkeypatch.setenv("REVIEWRNN_MODELS", str(models))
    monkeypatch.delenv("REVIEWRNN_MODEL", raising=False)
    monkeypatch.delenv("REVIEWRNN_DEBUG", raising=False)
    monkeypatch.delenv("RAYON_NUM_THREADS", raising=False)  # runtime.set_threads sets it; undone after the test
    monkeypatch.chdir(work)
    single_thread()  # a command under test may have set more (runtime.set_threads)
    return {"cache": cache, "models": models, "work": work}


@pytest.fixture
def make_corpus(tmp_path) -> Callable[..., Path]:
    """Write a synthetic corpus file: make_corpus(count=300, name="tiny.csv", seed=0, classes=..., columns=...)."""

    def make(
        count: int = 300,
        name: str = "tiny.csv",
        seed: int = 0,
        classes: Sequence[str] = ("negative", "positive"),
        columns: tuple[str, str] = ("review", "sentiment"),
    ) -> Path:
        return write_table(tmp_path / "data" / name, synthetic_reviews(count, seed, classes), columns)

    return make


@pytest.fixture
def tiny_csv(make_corpus) -> Path:
    """A 300-row review,sentiment CSV with negative/positive labels."""
    return make_corpus()


@pytest.fixture(scope="session")
def session_corpus(tmp_path_factory) -> Path:
    return write_table(tmp_path_factory.mktemp("corpus") / "reviews.csv", synthetic_reviews(1200, seed=1))


def tiny_configs(**overrides):
    """Small, fast (model, train, tokenizer) settings; each override goes to the config that has the field
    (vocab_size to the tokenizer: train_step sets the model's from the tokenizer)."""
    from reviewrnn.config import ModelConfig, TokenizerConfig, TrainConfig

    parts = {
        TokenizerConfig: {"vocab_size": 200, "min_frequency": 2},
        TrainConfig: {
            "epochs": 5,
            "batch_size": 16,
            "lr": 0.01,
            "max_tokens": 64,
            "threads": 1,
            "device": "cpu",
            "patience": 5,
        },
        ModelConfig: {"cell": "gru", "embed": 16, "hidden": 16, "bidirectional": False, "pool": "last", "dropout": 0.0},
    }
    for key, value in overrides.items():
        owner = next((kind for kind in parts if key in kind.__dataclass_fields__), None)
        if owner is None:
            raise KeyError(key)
        parts[owner][key] = value
    return (
        ModelConfig(**parts[ModelConfig]),
        TrainConfig(**parts[TrainConfig]),
        TokenizerConfig(**parts[TokenizerConfig]),
    )


@pytest.fixture(scope="session")
def tiny_settings():
    """The factory above, as a fixture: tiny_settings(cell="lstm", epochs=1) -> (model, train, tokenizer)."""
    return tiny_configs


@pytest.fixture(scope="session")
def trained_model(session_env, session_corpus) -> Path:
    """A tiny GRU trained once per session on the synthetic corpus, through runs.train_step."""
    from reviewrnn.runs import train_step
    from reviewrnn.source import CorpusSettings

    model_config, train_config, tokenizer_config = tiny_configs(epochs=6)
    directory = session_env / "models" / "tiny-gru"
    outcome = train_step(CorpusSettings(str(session_corpus)), model_config, train_config, tokenizer_config, directory)
    assert outcome.best_valid_accuracy > 0.9
    return directory


@pytest.fixture
def model_copy(trained_model, tmp_path) -> Path:
    """A private copy of the trained model that a test may damage."""
    import shutil

    return Path(shutil.copytree(trained_model, tmp_path / "model-copy"))


@pytest.fixture(scope="session")
def pretrained_lm(session_env, session_corpus) -> Path:
    """A tiny bidirectional GRU language model pretrained once per session on the synthetic corpus's TRAIN texts."""
    from reviewrnn.lmtexts import TextSpec
    from reviewrnn.pretraining import pretrain_step

    model_config, train_config, tokenizer_config = tiny_configs(epochs=2, bidirectional=True)
    directory = session_env / "models" / "pretrained" / "tiny-lm"
    pretrain_step(TextSpec(str(session_corpus)), model_config, train_config, tokenizer_config, directory)
    return directory


@pytest.fixture
def engine_threads(monkeypatch) -> list:
    """The `threads` each FastClassifier is built with from now on in this test, in order."""
    from reviewrnn import fastforward

    made = []
    real_init = fastforward.FastClassifier.__init__

    def spy(self, config, weights, threads=None):
        made.append(threads)
        real_init(self, config, weights, threads)

    monkeypatch.setattr(fastforward.FastClassifier, "__init__", spy)
    return made
