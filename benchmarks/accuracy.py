"""`make bench-accuracy`: reviewrnn's cells beside TF-IDF + logistic regression and fastText, one table.

Every method fits on the canonical TRAIN split, makes its choices on VALID only, and is scored once on
TEST. Train seconds are wall clock around fitting from raw texts; predict seconds are wall clock around
predicting all of TEST from raw texts. Accuracy by length buckets reviews by whitespace word count
(as `reviewrnn corpus` counts words), the same buckets for every method. Needs the bench extra
(`pip install -e ".[bench]"`: scikit-learn, fasttext-wheel).

`--reviewrnn pretrained` is #13's single-model recipe: a language model pretrained on TRAIN's texts
(`reviewrnn pretrain`, timed and reported beside the table; never VALID for training, never TEST), then
`train --init` from it. `--seeds N` trains each single-model row from N seeds, one row each, and adds
their mean (and standard deviation) as a row: an accuracy goal is met by a mean, never by one seed.

  python benchmarks/accuracy.py --json accuracy.json
  python benchmarks/accuracy.py --reviewrnn pretrained --seeds 3        # #13's goal, beside the peers
  python benchmarks/accuracy.py --limit 2000 --epochs 1 --reviewrnn gru --threads 1   # smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from reviewrnn import cpu, runtime
from reviewrnn.atomic import atomic_write_json
from reviewrnn.config import (
    CELL_BATCH_SIZE,
    CELLS,
    DEFAULT_LENGTH_EDGES,
    INIT_DEFAULTS,
    ModelConfig,
    TokenizerConfig,
    TrainConfig,
    pretrain_configs,
)
from reviewrnn.corpus import Examples, load_corpus
from reviewrnn.errors import ReviewRNNError, TrainingInterrupted
from reviewrnn.metrics import accuracy_by_length, wilson_interval
from reviewrnn.presets import PRESETS
from reviewrnn.runs import package_versions
from reviewrnn.source import CorpusSettings
from reviewrnn.splits import split_corpus

TABLE_WIDTH = 150  # the table has ten columns: keep them readable when stdout is a file or a narrow terminal
out, err = Console(width=max(Console().width, TABLE_WIDTH)), Console(stderr=True)
CORPUS = "imdb"
LR_C_GRID = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)  # ascending, so a tie on VALID keeps the smaller C
DEFAULT_RUNS = "rnn,gru,lstm,presets"
# `pretrained`: an LM of hidden 256 pretrained for 6 epochs with pretrain's other defaults, then `train --init`
# from the whole LM for 8 epochs with train --init's other defaults. The LM behind README's 91.67, 91.56 and
# 91.52% ("A longer LM") was 3 epochs continued for 3 more with `pretrain --init` (a fresh Adam state and data
# order), so this is the same recipe in one run, not those figures' LM; 256, 6 and 8 were chosen on VALID
# curves and perplexity, after earlier TEST figures had been seen.
PRETRAINED_LM = {"hidden": 256, "epochs": 6}
PRETRAINED_EPOCHS = 8
# fastText with bigrams as its paper runs it on sentiment (Joulin et al. 2016, section 3.1): 10 hidden units,
# 5 epochs, lr chosen on VALID. With the default dim 100 and lr 0.1, bigrams score below unigrams on VALID here.
FASTTEXT_BIGRAMS = {"wordNgrams": 2, "dim": 10, "epoch": 5, "lr": (0.05, 0.1, 0.25, 0.5)}
# fastText's own normalisation for these corpora (classification-example.sh): lowercase, <br /> out,
# punctuation split off as tokens, since fastText splits words on whitespace alone.
FASTTEXT_PUNCTUATION = str.maketrans(
    {"'": " ' ", '"': "", ".": " . ", ",": " , ", "(": " ( ", ")": " ) ", "!": " ! ", "?": " ? ", ";": " ", ":": " "}
)


@dataclass
class Fitted:
    """A trained method: texts -> class ids, and how it was set up (for the caption and the JSON)."""

    predict: Callable[[list[str]], np.ndarray]
    settings: str
    details: dict = field(default_factory=dict)


@dataclass
class RecurrentRun:
    """One reviewrnn row: a cell with the project's defaults, or a named preset from reviewrnn.presets.PRESETS."""

    name: str
    model: ModelConfig
    train: TrainConfig
    tokenizer: TokenizerConfig
    members: int = 1  # NAME*N: N models from seeds seed..seed+N-1, their probabilities averaged
    init_part: str | None = None  # "all": starts from the language model (`pretrained`), as train --init does
    group: str | None = None  # --seeds: the run this seed's row belongs to, for the mean row


def machine_text() -> str:
    """The CPU the seconds hold for (they differ several-fold between the machines of this project)."""
    return f"CPU: {cpu.describe()}; {len(os.sched_getaffinity(0))} cores"


def threads_text(threads: int) -> str:
    return f"{threads} thread{'s' if threads > 1 else ''}"


def word_counts(texts: list[str]) -> np.ndarray:
    return np.fromiter((len(text.split()) for text in texts), dtype=np.int64, count=len(texts))


def head(examples: Examples, limit: int | None) -> Examples:
    """The first `limit` reviews, as TrainConfig.limit takes them."""
    return examples if not limit else Examples(examples.texts[:limit], examples.labels[:limit])


def measure(name: str, fit: Callable[[], Fitted], test: Examples, words: np.ndarray) -> dict:
    """Fit, predict all of TEST, and score: the same wall-clock brackets for every method."""
    started = time.perf_counter()
    fitted = fit()
    train_seconds = time.perf_counter() - started
    started = time.perf_counter()
    predicted = np.asarray(fitted.predict(test.texts))
    predict_seconds = time.perf_counter() - started
    correct = predicted == np.asarray(test.labels)
    hits = int(correct.sum())
    return {
        "method": name,
        "settings": fitted.settings,
        "test_accuracy": hits / len(correct),
        "test_ci95": wilson_interval(hits, len(correct)),
        "by_length": accuracy_by_length(correct, words, DEFAULT_LENGTH_EDGES),
        "train_seconds": train_seconds,
        "predict_seconds": predict_seconds,
        "details": fitted.details,
    }


# --- TF-IDF + logistic regression ---------------------------------------------------------------


def lowercase_without_breaks(text: str) -> str:
    return text.replace("<br />", " ").lower()


def fit_tfidf_lr(train: Examples, valid: Examples) -> Fitted:
    """Word 1-2 grams, sublinear tf, min_df 2; C chosen on VALID from LR_C_GRID."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(preprocessor=lowercase_without_breaks, ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_train, x_valid = vectorizer.fit_transform(train.texts), vectorizer.transform(valid.texts)
    models, scores, seconds = {}, {}, {}
    for c in LR_C_GRID:
        started = time.perf_counter()
        models[c] = LogisticRegression(C=c, solver="liblinear", random_state=0).fit(x_train, train.labels)
        seconds[c] = time.perf_counter() - started
        scores[c] = models[c].score(x_valid, valid.labels)
    best = max(LR_C_GRID, key=scores.get)
    model = models[best]
    settings = (
        f"sublinear tf, min_df 2, {x_train.shape[1]:,} features, liblinear L2, "
        f"C={best:g} (best on VALID of {', '.join(f'{c:g}' for c in LR_C_GRID)}: {scores[best]:.2%})"
    )
    details = {
        "features": x_train.shape[1],
        "C": best,
        "valid_accuracy_by_C": {str(c): score for c, score in scores.items()},
        "fit_seconds_by_C": {str(c): fit for c, fit in seconds.items()},  # train s covers the whole search
    }
    return Fitted(lambda texts: model.predict(vectorizer.transform(texts)), settings, details)


# --- fastText -------------------------------------------------------------------------------------


def fasttext_text(text: str) -> str:
    """One line in fastText's format: lowercased, <br /> and newlines gone, punctuation as tokens."""
    return " ".join(text.lower().replace("<br />", " ").translate(FASTTEXT_PUNCTUATION).split())


def fit_fasttext(train: Examples, valid: Examples, options: dict, threads: int, scratch: Path) -> Fitted:
    """fastText's supervised training with `options` over its defaults; every option given as a tuple
    (lr, epoch) is searched on VALID, over all their combinations (in order, so a tie keeps the first)."""
    import itertools

    import fasttext

    path = scratch / "fasttext-train.txt"
    with open(path, "w", encoding="utf-8") as handle:
        for text, label in zip(train.texts, train.labels):
            handle.write(f"__label__{label} {fasttext_text(text)}\n")
    fixed = {key: value for key, value in options.items() if not isinstance(value, tuple)}
    searched = {key: value for key, value in options.items() if isinstance(value, tuple)}
    grid = [dict(zip(searched, values)) for values in itertools.product(*searched.values())]
    models, scores = [], []
    for choice in grid:
        models.append(fasttext.train_supervised(input=str(path), thread=threads, verbose=0, **fixed, **choice))
        if len(grid) > 1:
            scores.append(float((fasttext_predict(models[-1], valid.texts) == np.asarray(valid.labels)).mean()))
    best = max(range(len(grid)), key=lambda i: scores[i] if scores else 0.0)
    model = models[best]
    args = model.f.getArgs()
    settings = f"epoch {args.epoch}, lr {args.lr:g}, dim {args.dim}, wordNgrams {args.wordNgrams}"
    if scores:
        tried = ", ".join(f"{key} {'/'.join(f'{v:g}' for v in values)}" for key, values in searched.items())
        settings += f" (best on VALID of {tried}: {scores[best]:.2%})"
    details = {"epoch": args.epoch, "lr": args.lr, "dim": args.dim, "wordNgrams": args.wordNgrams, "thread": threads}
    if scores:
        labels = [", ".join(f"{key} {value:g}" for key, value in choice.items()) for choice in grid]
        details["valid_accuracy_by_choice"] = dict(zip(labels, scores))
    return Fitted(lambda texts: fasttext_predict(model, texts), f"{settings}, {threads_text(threads)}", details)


def fasttext_predict(model, texts: list[str]) -> np.ndarray:
    # A list goes through multilinePredict, which avoids fasttext-wheel's np.array(copy=False) (numpy 2).
    labels, _ = model.predict([fasttext_text(text) for text in texts])
    return np.array([int(found[0].removeprefix("__label__")) if found else 0 for found in labels])


# --- reviewrnn -----------------------------------------------------------------------------------


def split_overrides(overrides: dict, where: str) -> dict[str, dict]:
    """A preset as {"model": {...}, "train": {...}, "tokenizer": {...}} or flat field names of those dataclasses.

    A flat vocab_size goes to the tokenizer: the model's embedding size always follows the tokenizer.
    """
    parts = {"model": ModelConfig, "train": TrainConfig, "tokenizer": TokenizerConfig}
    if not isinstance(overrides, dict):
        raise ReviewRNNError(f"{where}: expected a dict of ModelConfig/TrainConfig overrides")
    if set(overrides) <= set(parts) and all(isinstance(value, dict) for value in overrides.values()):
        nested = {part: dict(overrides.get(part, {})) for part in parts}
        for part, values in nested.items():
            unknown = sorted(set(values) - _fields(parts[part]))
            if unknown:
                raise ReviewRNNError(f"{where}: {unknown[0]!r} is not a {parts[part].__name__} field")
        return nested
    routed: dict[str, dict] = {part: {} for part in parts}
    for key, value in overrides.items():
        owner = next((part for part in ("tokenizer", "model", "train") if key in _fields(parts[part])), None)
        if owner is None:
            raise ReviewRNNError(f"{where}: {key!r} is not a ModelConfig, TrainConfig or TokenizerConfig field")
        routed[owner][key] = value
    return routed


def _fields(kind: type) -> set[str]:
    return {item.name for item in dataclasses.fields(kind)}


def preset_run(name: str, overrides: dict) -> RecurrentRun:
    parts = split_overrides(overrides, f"reviewrnn.presets.PRESETS[{name!r}]")
    model = ModelConfig(**parts["model"])
    batch = {"batch_size": CELL_BATCH_SIZE[model.cell]}  # as `train --preset NAME` picks it, unless the preset does
    return RecurrentRun(
        f"preset:{name}", model, TrainConfig(**batch | parts["train"]), TokenizerConfig(**parts["tokenizer"])
    )


def recurrent_runs(spec: str, presets: dict) -> list[RecurrentRun]:
    """Parse --reviewrnn: cells, preset:NAME, `presets` (all of them), `pretrained` or `none`, comma-separated.

    A cell or preset:NAME followed by *N (lstm*3, preset:wide*3) is an ensemble of N seeds.
    """
    runs: list[RecurrentRun] = []
    for item in (part.strip() for part in spec.split(",")):
        if item in ("", "none"):
            continue
        item, star, count = item.partition("*")
        if star:
            if not count.isdigit() or int(count) < 2 or item in ("presets", "none", ""):
                raise ReviewRNNError(f"--reviewrnn: {item}*{count}: write a cell or preset:NAME, then *N with N >= 2")
            runs.extend(
                dataclasses.replace(run, name=f"{run.name}*{count}", members=int(count))
                for run in recurrent_runs(item, presets)
            )
            continue
        if item in CELLS:  # `train --cell CELL`'s batch size too
            train = TrainConfig(batch_size=CELL_BATCH_SIZE[item])
            runs.append(RecurrentRun(item, ModelConfig(cell=item), train, TokenizerConfig()))
        elif item == "pretrained":  # the shape and tokenizer come from the LM (init_from_lm)
            train = TrainConfig(**INIT_DEFAULTS | {"epochs": PRETRAINED_EPOCHS})
            runs.append(RecurrentRun(item, ModelConfig(), train, TokenizerConfig(), init_part="all"))
        elif item == "presets":
            runs.extend(preset_run(name, overrides) for name, overrides in presets.items())
        elif item.startswith("preset:") and item[7:] in presets:
            runs.append(preset_run(item[7:], presets[item[7:]]))
        else:
            known = ", ".join(f"preset:{name}" for name in presets) or "(reviewrnn.presets.PRESETS defines none)"
            raise ReviewRNNError(
                f"--reviewrnn: unknown run {item!r}; use {', '.join(CELLS)}, presets, pretrained, none, {known}"
            )
    return runs


def with_seeds(runs: list[RecurrentRun], seeds: int) -> list[RecurrentRun]:
    """--seeds N: each single-model run as N runs from seeds seed..seed+N-1 (ensembles stay one row)."""
    names = [run.name for run in runs]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:  # its rows, models folder and mean would collide
        raise ReviewRNNError(f"--reviewrnn names {twice[0]} more than once; use --seeds N for more seeds of it")
    if seeds == 1:
        return runs
    expanded = []
    for run in runs:
        if run.members > 1:
            expanded.append(run)
            continue
        for seed in range(run.train.seed, run.train.seed + seeds):
            train = dataclasses.replace(run.train, seed=seed)
            expanded.append(dataclasses.replace(run, name=f"{run.name} seed {seed}", train=train, group=run.name))
    return expanded


def with_overrides(run: RecurrentRun, epochs: int | None, limit: int | None, threads: int | None) -> RecurrentRun:
    """The command line's --epochs/--limit/--threads win over defaults and presets."""
    changes = {"threads": threads, "limit": limit} | ({"epochs": epochs} if epochs else {})
    return dataclasses.replace(run, train=dataclasses.replace(run.train, **changes))


def shared_tokenizer(run: RecurrentRun, corpus: str, scratch: Path, cache: dict) -> tuple[Path, dict]:
    """The tokenizer `reviewrnn train` would use (from its cache, else trained and cached), made once.

    Doing this before the timed runs keeps tokenizer training out of whichever row happens to come first.
    """
    from reviewrnn.runs import prepare_run

    key = repr((dataclasses.asdict(run.tokenizer), run.train.limit, run.train.valid_fraction))
    if key not in cache:
        err.print(f"[bold]reviewrnn tokenizer[/] for {run.name} (before the clock starts)")
        stages: list[str] = []
        started = time.perf_counter()
        prepared = prepare_run(CorpusSettings(corpus), ModelConfig(), run.train, run.tokenizer, on_stage=stages.append)
        path = scratch / f"tokenizer-{len(cache)}.json"
        path.write_text(prepared.tokenizer.to_str(), encoding="utf-8")
        source = "cached" if "loading cached tokenizer" in stages else "trained"
        cache[key] = (path, {"seconds": time.perf_counter() - started, "source": source})
        err.print(f"  tokenizer {source} in {cache[key][1]['seconds']:.1f} s (corpus read and encoding included)")
    return cache[key]


def pretrain_lm(corpus: str, root: Path, epochs: int, hidden: int | None, limit, threads) -> tuple[Path, dict]:
    """`reviewrnn pretrain` on the corpus's TRAIN texts with the command's settings (these epochs, and this
    hidden size if given): the LM's directory and what it cost."""
    from reviewrnn.artifacts import load_config
    from reviewrnn.lmtexts import TextSpec
    from reviewrnn.pretraining import pretrain_step

    model, train = pretrain_configs(epochs=epochs, limit=limit, threads=threads)
    if hidden:
        model.hidden = hidden
    err.print(
        f"[bold]pretraining[/] a language model of hidden {model.hidden} on TRAIN texts "
        f"({epochs} epoch{'s' if epochs > 1 else ''})"
    )
    runtime.set_threads(train.threads)  # as `reviewrnn pretrain` does at its entry
    started = time.perf_counter()
    outcome = pretrain_step(TextSpec(corpus), model, train, TokenizerConfig(), root / "lm")
    sizes = load_config(outcome.directory).pretrain.sizes
    cost = {
        "seconds": time.perf_counter() - started,
        "perplexity": outcome.perplexity,
        "sizes": sizes,
        "hidden": model.hidden,
        "epochs": epochs,
    }
    err.print(f"  held-out perplexity {outcome.perplexity:.1f} in {cost['seconds'] / 60:.1f} min")
    return outcome.directory, cost


def init_from_lm(lm_dir: Path, part: str | None, model: ModelConfig, tokenizer: TokenizerConfig):
    """What `train --init LM --init-part PART` does to the settings: the LM's shape and tokenizer, and the
    pooling a whole-LM start gets. (The LM's tokenizer file, where the weights start: None for part None,
    a classifier of the LM's shape drawn afresh.)"""
    from reviewrnn.transfer import adopt, init_info, open_pretrained, start_pooling

    lm = open_pretrained(lm_dir)
    adopt(lm, model, tokenizer, given=set())
    if part is None:
        return lm.tokenizer_path, None
    start_pooling(model, part, pool_chosen=False)
    return lm.tokenizer_path, init_info(lm, part, model)


def fit_reviewrnn(
    run: RecurrentRun, tokenizer_path: Path | None, directory: Path, corpus: str, lm_dir: Path | None = None
) -> Fitted:
    """runs.train_step into `directory` (one per seed for an ensemble), then the numpy predictor
    that `reviewrnn predict` uses (`-m A -m B ...` for an ensemble). A run with init_part starts from
    the LM in `lm_dir`, with its tokenizer, as `train --init` does."""
    from reviewrnn.predict import load_predictor
    from reviewrnn.runs import train_step

    model, tokenizer, init, train = run.model, dataclasses.replace(run.tokenizer), None, run.train
    if run.init_part:
        model = dataclasses.replace(model)
        tokenizer_path, init = init_from_lm(lm_dir, run.init_part, model, tokenizer)
        run = dataclasses.replace(run, train=dataclasses.replace(train, batch_size=CELL_BATCH_SIZE[model.cell]))
    runtime.set_threads(run.train.threads)  # what `reviewrnn train` sets at its entry, per run here
    seeds = [run.train.seed + k for k in range(run.members)]
    directories = [directory if run.members == 1 else directory / f"seed-{seed}" for seed in seeds]
    outcomes = [
        train_step(
            CorpusSettings(corpus),
            dataclasses.replace(model),
            dataclasses.replace(run.train, seed=seed),
            tokenizer,
            member,
            tokenizer_path,
            None,
            init,
        )
        for seed, member in zip(seeds, directories, strict=True)
    ]
    predictor = load_predictor(directories)
    index = {name: i for i, name in enumerate(predictor.label_names)}

    def predict(texts: list[str]) -> np.ndarray:
        return np.array([index.get(found.label, 0) for found in predictor.predict(texts)])

    model, train = outcomes[0].config.model, outcomes[0].config.train
    best = ", ".join(f"{o.best_epoch}/{train.epochs} (VALID {o.best_valid_accuracy:.2%})" for o in outcomes)
    settings = (
        ("from the whole LM, " if init else "")
        + f"{model.cell}{' bi' if model.bidirectional else ''} x{model.layers}, embed {model.embed}, "
        f"hidden {model.hidden}, pool {model.pool}, max_tokens {train.max_tokens}, lr {train.lr:g} {train.schedule}, "
        + (f"best epoch {best}" if run.members == 1 else f"seeds {seeds}, probabilities averaged; best epochs {best}")
    )
    details = outcomes[0].config.to_dict() | {
        "best_epoch": [o.best_epoch for o in outcomes] if run.members > 1 else outcomes[0].best_epoch,
        "valid_accuracy": [o.best_valid_accuracy for o in outcomes]
        if run.members > 1
        else outcomes[0].best_valid_accuracy,
        "training_loop_seconds": sum(o.seconds for o in outcomes),
        "seeds": seeds,
    }
    return Fitted(predict, settings, details)


# --- the run and its table -----------------------------------------------------------------------


def bucket_header(row: dict) -> str:
    span = f"{row['low']}-{row['high'] - 1}" if row["high"] is not None else f"{row['low']}+"
    return f"{span} words\nn={row['count']:,}"


def render(report: dict) -> Table:
    """The table: a column per length bucket that holds TEST reviews, a --seeds mean row in bold."""
    rows = report["methods"]
    table = Table(title=report["title"], title_justify="left", caption_justify="left")
    table.add_column("method", min_width=24)
    table.add_column("test acc", justify="right")
    kept = [k for k, bucket in enumerate(rows[0]["by_length"] if rows else []) if bucket["count"]]
    for k in kept:
        table.add_column(bucket_header(rows[0]["by_length"][k]), justify="right")
    table.add_column("train s", justify="right")
    table.add_column("predict s", justify="right")
    for row in rows:
        buckets = [row["by_length"][k]["accuracy"] for k in kept]
        spread = f" ±{row['test_sd']:.2%}" if "test_sd" in row else ""  # a --seeds mean row
        table.add_row(
            row["method"],
            f"{row['test_accuracy']:.2%}{spread}",
            *(f"{value:.1%}" if value is not None else "-" for value in buckets),
            f"{row['train_seconds']:.1f}",
            f"{row['predict_seconds']:.1f}",
            style="bold" if "seeds_of" in row else None,
        )
    table.caption = "\n".join(report["notes"] + [f"{row['method']}: {row['settings']}" for row in rows])
    return table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--reviewrnn",
        default=DEFAULT_RUNS,
        help=f"reviewrnn runs, comma-separated: rnn, gru, lstm, preset:NAME, presets (all), pretrained (from a "
        f"language model: #13's recipe), none; add *N for an ensemble of N seeds, e.g. preset:wide*3 "
        f"(default: {DEFAULT_RUNS})",
    )
    parser.add_argument("--corpus", default=CORPUS, help="a labelled file or imdb (default), split as train splits it")
    parser.add_argument("--seeds", type=int, default=1, help="train each single-model run from N seeds, and add a mean")
    parser.add_argument("--lm", type=Path, help="`pretrained`: start from this LM directory instead of pretraining one")
    parser.add_argument(
        "--lm-epochs", type=int, help=f"`pretrained`: epochs of pretraining (default {PRETRAINED_LM['epochs']})"
    )
    parser.add_argument(
        "--lm-hidden", type=int, help=f"`pretrained`: the LM's hidden size (default {PRETRAINED_LM['hidden']})"
    )
    parser.add_argument("--no-peers", action="store_true", help="Skip TF-IDF+LR and fastText.")
    parser.add_argument("--limit", type=int, help="Train every method on only the first N TRAIN reviews.")
    parser.add_argument("--epochs", type=int, help="Epochs for every reviewrnn run (default: its own setting).")
    parser.add_argument("--threads", type=int, help="CPU threads for every method (default: all cores).")
    parser.add_argument("--json", type=Path, help="Also write the table as JSON here (rewritten after each method).")
    parser.add_argument("--models-dir", type=Path, help="Keep reviewrnn's models here (default: a temporary folder).")
    names = ("limit", "epochs", "threads", "seeds", "lm_epochs", "lm_hidden")
    args = check_positive(parser, parser.parse_args(argv), names)
    named = {item.strip().partition("*")[0] for item in args.reviewrnn.split(",")}
    lm_flags = [
        flag
        for flag, value in (("--lm", args.lm), ("--lm-epochs", args.lm_epochs), ("--lm-hidden", args.lm_hidden))
        if value
    ]
    if lm_flags and "pretrained" not in named:
        parser.error(f"{lm_flags[0]} is for `pretrained` rows; add pretrained to --reviewrnn")
    if args.lm and len(lm_flags) > 1:
        parser.error(f"{lm_flags[1]} shapes a language model pretrained here; --lm reuses one: drop one of them")
    try:
        runs = with_seeds(recurrent_runs(args.reviewrnn, PRESETS), args.seeds)
    except ReviewRNNError as error:
        parser.error(str(error))
    if args.no_peers and not runs:
        parser.error("nothing to run: drop --no-peers or name reviewrnn runs with --reviewrnn")
    return args


def check_positive(parser: argparse.ArgumentParser, args: argparse.Namespace, names) -> argparse.Namespace:
    """A usage error for any of these options given below 1 (None means not given)."""
    for name in names:
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def limit_threads(threads: int | None):
    """Hold numpy's BLAS and the tokenizers' thread pool to `threads` (torch is set by each run)."""
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    os.environ["RAYON_NUM_THREADS"] = str(threads)  # read when tokenizers first starts its pool
    return threadpool_limits(limits=threads)


def benchmark(args: argparse.Namespace, scratch: Path, report: dict) -> None:
    """Fill report["methods"], one method at a time, rewriting --json after each."""
    runs = with_seeds(recurrent_runs(args.reviewrnn, PRESETS), args.seeds)
    runs = [with_overrides(run, args.epochs, args.limit, args.threads) for run in runs]
    corpus = load_corpus(args.corpus)
    split = split_corpus(corpus.examples, TrainConfig.valid_fraction)
    train, valid, test = head(split.train, args.limit), split.valid, split.test
    words = word_counts(test.texts)
    threads = args.threads or len(os.sched_getaffinity(0))
    report["title"] = (
        f"Accuracy on the {'canonical IMDB' if args.corpus == CORPUS else corpus.name} TEST split ({len(test):,} "
        f"reviews), trained on {len(train):,} TRAIN reviews, choices on {len(valid):,} VALID; by length in "
        f"whitespace words; {threads_text(threads)}"
    )
    report["corpus"] = {"name": corpus.name, "sha256": corpus.sha256, "sizes": split.sizes(), "train_used": len(train)}
    methods: list[tuple[str, str | None, Callable[[], Fitted]]] = []
    if not args.no_peers:
        methods += [
            ("TF-IDF 1-2g + LR", None, lambda: fit_tfidf_lr(train, valid)),
            ("fastText", None, lambda: fit_fasttext(train, valid, {}, threads, scratch)),
            ("fastText bigrams", None, lambda: fit_fasttext(train, valid, FASTTEXT_BIGRAMS, threads, scratch)),
        ]
    models_dir = args.models_dir or scratch / "models"
    lm_dir = language_model(args, runs, models_dir, report)
    runs = [run for run in runs if lm_dir is not None or not run.init_part]
    tokenizers: dict = {}
    for run in runs:
        fit = _recurrent_fit(run, args, scratch, models_dir, lm_dir, tokenizers)
        methods.append((f"reviewrnn {run.name}", run.group, fit))
    if not methods:
        raise ReviewRNNError("nothing to run: drop --no-peers or name reviewrnn runs with --reviewrnn")
    if tokenizers:
        shared = ", ".join(f"{info['source']} in {info['seconds']:.1f} s" for _, info in tokenizers.values())
        report["notes"].append(
            f"reviewrnn: train s is wall clock around training (corpus read, encoding, training, saving) "
            f"with the tokenizer made beforehand ({shared}); predict s is the numpy Predictor of `reviewrnn predict`"
        )
    ensembles = [run.name for run in runs if run.members > 1]
    if ensembles and args.seeds > 1:
        report["notes"].append(f"--seeds {args.seeds} leaves ensembles as one row each: {', '.join(ensembles)}")
    if lm_dir is not None:
        report["notes"].append(
            "reviewrnn pretrained: train s is wall clock around training from the LM's weights and tokenizer"
        )
    for name, group, fit in methods:
        err.print(f"[bold]{name}[/]: training")
        try:
            row = measure(name, fit, test, words)
        except TrainingInterrupted:
            raise
        except ReviewRNNError as error:  # e.g. a diverged run: report it, keep the other rows
            err.print(f"[red]{name} failed:[/] {error}")
            report["notes"].append(f"{name} failed: {error}")
            continue
        err.print(
            f"  test {row['test_accuracy']:.2%}, train {row['train_seconds']:.1f} s, "
            f"predict {row['predict_seconds']:.1f} s"
        )
        report["methods"].append(row | ({"group": group} if group else {}))
        add_mean_row(report["methods"], group, args.seeds)
        if args.json:
            atomic_write_json(args.json, report)
    for group in dict.fromkeys(run.group for run in runs if run.group):
        done = sum(row.get("group") == group and "seeds_of" not in row for row in report["methods"])
        if done < args.seeds:  # a failed seed: its mean would not be the mean of --seeds seeds
            report["notes"].append(f"reviewrnn {group}: no mean, {args.seeds - done} of {args.seeds} seeds failed")


def language_model(args: argparse.Namespace, runs: list[RecurrentRun], models_dir: Path, report: dict) -> Path | None:
    """The LM the `pretrained` rows start from: --lm's, or pretrained here before their clocks start (its
    time and perplexity go to the notes and report["pretraining"]); None when no row needs one, or when
    pretraining failed (said in the notes: the other rows still run). Whether it read any TEST review
    (or a near copy) is checked once here, outside every row's clock, and said in the notes."""
    from reviewrnn.transfer import init_info, open_pretrained

    if not any(run.init_part for run in runs):
        return None
    if args.lm is not None:
        lm = reused_lm(args.lm)  # not a language model: an error before any row trains
        report["pretraining"] = {"reused": str(args.lm)}
        report["notes"].append(f"pretrained: the language model in {args.lm} (reused: its pretraining not timed here)")
    else:
        epochs, hidden = args.lm_epochs or PRETRAINED_LM["epochs"], args.lm_hidden or PRETRAINED_LM["hidden"]
        try:
            lm_dir, cost = pretrain_lm(args.corpus, models_dir, epochs, hidden, args.limit, args.threads)
        except ReviewRNNError as error:  # e.g. a diverged LM: the rows without one still run
            err.print(f"[red]pretraining failed:[/] {error}")
            report["notes"].append(f"pretraining failed, so no `pretrained` row: {error}")
            return None
        lm, report["pretraining"] = open_pretrained(lm_dir), cost
        report["notes"].append(
            f"pretrained: a language model of hidden {cost['hidden']} pretrained on {cost['sizes']['texts']:,} "
            f"TRAIN texts for {epochs} epoch{'s' if epochs > 1 else ''} first (held-out perplexity "
            f"{cost['perplexity']:.1f}, {cost['seconds'] / 60:.1f} min, not in train s), then `train --init` from it"
            + (
                f"; {cost['sizes']['train_near_test']:,} TRAIN texts left out as near copies of TEST reviews"
                if cost["sizes"].get("train_near_test")
                else ""
            )
        )
    for line in leak_lines(init_info(lm, "all"), args.corpus):
        err.print(f"[yellow]warning:[/] {line}")
        report["notes"].append(f"pretrained: {line}")
    return lm.directory


def reused_lm(path: Path):
    """--lm's language model, or an error that names --lm (not train's --init, whose words open_pretrained uses)."""
    from reviewrnn.transfer import open_pretrained

    if not path.is_dir():
        what = "a file" if path.exists() else "no such directory"
        raise ReviewRNNError(
            f"--lm {path}: {what}; give the directory `reviewrnn pretrain` saved (models/pretrained/NAME)"
        )
    try:
        return open_pretrained(path)
    except ReviewRNNError as error:
        raise ReviewRNNError(f"--lm {error}".replace("--init takes", "--lm takes")) from None


def leak_lines(init, corpus: str) -> list[str]:
    """What `train --init` says at its end about the LM and this corpus's TEST reviews: a leak, or why the
    check was by file only (transfer.pretraining_leak); nothing when the LM never read them."""
    from reviewrnn.source import open_source
    from reviewrnn.transfer import pretraining_leak

    source = open_source(CorpusSettings(corpus), TrainConfig.valid_fraction, needed="test")
    return [line for line in pretraining_leak(init, source, "test", "TEST reviews") if line]


def add_mean_row(rows: list[dict], group: str | None, seeds: int) -> None:
    """Once the last seed of a --seeds group is in, a row of their means: accuracy, each bucket, seconds; the
    standard deviation of the seeds' accuracies goes in `test_sd` and the settings."""
    members = [row for row in rows if group and row.get("group") == group and "seeds_of" not in row]  # its seeds
    if not group or len(members) < seeds:
        return
    accuracies = [row["test_accuracy"] for row in members]
    buckets = []
    for k, bucket in enumerate(members[0]["by_length"]):
        values = [row["by_length"][k]["accuracy"] for row in members]
        mean = None if None in values else float(np.mean(values))
        buckets.append(bucket | {"accuracy": mean, "ci_low": None, "ci_high": None})  # no interval for a mean
    spread = float(np.std(accuracies, ddof=1))
    rows.append(
        {
            "method": f"reviewrnn {group}, mean of {len(members)} seeds",
            "settings": "seeds' TEST " + ", ".join(f"{a:.2%}" for a in accuracies) + f"; sd {spread:.2%}",
            "test_accuracy": float(np.mean(accuracies)),
            "test_ci95": None,
            "test_sd": spread,
            "by_length": buckets,
            "train_seconds": float(np.mean([row["train_seconds"] for row in members])),
            "predict_seconds": float(np.mean([row["predict_seconds"] for row in members])),
            "seeds_of": group,
            "group": group,
            "details": {"seeds": [row["details"]["seeds"][0] for row in members]},
        }
    )


def _recurrent_fit(run: RecurrentRun, args, scratch: Path, models_dir: Path, lm_dir: Path | None, tokenizers: dict):
    directory = models_dir / run.name.replace(":", "-").replace(" ", "-")
    if run.init_part:  # the LM's tokenizer
        return lambda: fit_reviewrnn(run, None, directory, args.corpus, lm_dir)
    path, _ = shared_tokenizer(run, args.corpus, scratch, tokenizers)  # before the clock starts
    return lambda: fit_reviewrnn(run, path, directory, args.corpus)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = {
        "title": "",
        "length_unit": "whitespace words of the raw review",
        "length_edges": list(DEFAULT_LENGTH_EDGES),
        "threads": args.threads,
        "machine": cpu.identity() | {"cores": len(os.sched_getaffinity(0))},
        "versions": package_versions(),
        "notes": [
            "Every method fits on TRAIN and chooses settings on VALID; TEST is scored once. "
            "Seconds are wall clock from raw texts.",
            machine_text(),
        ],
        "methods": [],
    }
    code = 0
    runtime.keep_freed_memory()  # as `reviewrnn train` does at its entry
    with tempfile.TemporaryDirectory(prefix="bench-accuracy-") as scratch, limit_threads(args.threads):
        try:
            benchmark(args, Path(scratch), report)
        except TrainingInterrupted as error:
            err.print(f"[red]stopped:[/] {error}")
            code = error.exit_code
        except KeyboardInterrupt:
            err.print("[red]stopped[/] (Ctrl-C); the table holds the methods that finished")
            code = 130
        except ReviewRNNError as error:
            err.print(f"[red]error:[/] {error}", soft_wrap=True)  # one line, whatever the terminal's width
            return 1
    if report["methods"]:
        out.print(render(report))
    if args.json:
        atomic_write_json(args.json, report)
        err.print(f"wrote {args.json}")
    return code


if __name__ == "__main__":
    sys.exit(main())
