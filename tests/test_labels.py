"""Star-rated, imbalanced reviews: --label-map (both backends, config, CLI) and --class-weights."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import torch
from conftest import synthetic_reviews, tiny_configs, write_table
from typer.testing import CliRunner

from reviewrnn.artifacts import load_config
from reviewrnn.cli import app
from reviewrnn.config import RunConfig
from reviewrnn.corpus import Examples, load_corpus
from reviewrnn.errors import ReviewRNNError
from reviewrnn.labelmap import UNMAPPED, LabelMap, LabelMapError
from reviewrnn.ondisk import TextColumn, load_disk_corpus
from reviewrnn.source import CorpusSettings, corpus_summary, open_source
from reviewrnn.splits import split_corpus
from reviewrnn.train import class_weights, summed_loss

MAP = "1,2=negative 4,5=positive"


def star_rows(count: int = 400, seed: int = 0, negatives_kept: float = 0.3) -> list[tuple[str, object]]:
    """Synthetic reviews rated 1-5 (and some 3s), about four positives to one negative, stars written
    as numbers, decimals and text alike."""
    rng = random.Random(seed)
    rows = []
    for text, label in synthetic_reviews(count, seed):
        if label == "negative" and rng.random() >= negatives_kept:
            continue
        star = rng.choice([1, 2, "1", "2.0"]) if label == "negative" else rng.choice([4, 5, "4", "5.0", 4.0])
        rows.append((text, 3 if rng.random() < 0.1 else star))
    return rows


@pytest.fixture
def stars_csv(tmp_path):
    return write_table(tmp_path / "stars.csv", star_rows(), ("text", "stars"))


def settings(path, label_map=MAP) -> CorpusSettings:
    return CorpusSettings(str(path), None, "stars", LabelMap.parse(label_map) if label_map else None)


# --- parsing ------------------------------------------------------------------------------------


def test_values_ranges_decimals_and_text_all_map():
    mapping = LabelMap.parse("1-2.5=negative  4 , 5=positive")
    assert mapping.names == ("negative", "positive")
    assert [mapping.name_of(key) for key in ("1", "2", "2.5", "3", "4", "5", "6", "abc", "")] == [
        "negative",
        "negative",
        "negative",
        None,
        "positive",
        "positive",
        None,
        None,
        None,
    ]
    words = LabelMap.parse("bad,awful=low good=high")
    assert words.names == ("low", "high")
    assert (words.name_of("awful"), words.name_of("good"), words.name_of("ok")) == ("low", "high", None)


def test_names_keep_the_maps_order_except_negative_and_positive():
    assert LabelMap.parse("4,5=good 1,2=bad").names == ("good", "bad")
    assert LabelMap.parse("4,5=positive 1,2=negative").names == ("negative", "positive")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("1,2=negative 2,5=positive", "maps '2' twice"),
        ("1-3=negative 3-5=positive", "maps '3-5' twice"),
        ("1,2=negative 2.0=positive", "maps '2.0' twice"),
        ("bad=negative BAD=positive", "maps 'BAD' twice"),
        ("1,2=negative 4,5=", "write VALUES=NAME"),
        ("1,2 4,5", "write VALUES=NAME"),
        ("1,,2=negative 5=positive", "empty value"),
        ("2-1=negative 5=positive", "runs backwards"),
        ("1,2=negative", "names one class (negative)"),
        ("1=negative 2=negative", "names one class"),
        ("negative=1", "names one class (1); a classifier needs at least two; is it backwards"),
        ("   ", "is empty"),
    ],
)
def test_corrupt_or_ambiguous_maps_are_refused(text, fragment):
    with pytest.raises(LabelMapError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        LabelMap.parse(text)


def test_class_names_differing_only_in_case_are_refused_when_typed_not_when_saved(tmp_path):
    """ "Negative" and "negative" made two classes without a word; a model saved with such a map still loads."""
    text = "1,2=Negative 3=negative 4,5=positive"
    assert LabelMap.parse(text).names == ("Negative", "negative", "positive")  # as a saved config reads it
    with pytest.raises(LabelMapError, match="names 'Negative' and 'negative', which differ only in case"):
        LabelMap.parse(text).check_spelling()
    stars = write_table(tmp_path / "s.csv", [("good", "5"), ("bad", "1")], columns=("text", "stars"))
    typed = invoke("corpus", stars, "--label-column", "stars", "--label-map", text)
    assert typed.exit_code == 2 and "differ only in case" in typed.stderr


# --- reading: both backends, the split, drop counts ------------------------------------------------


def test_unmapped_rows_are_dropped_and_kept_rows_keep_their_split(stars_csv):
    plain = split_corpus(load_corpus(str(stars_csv), None, "stars").examples)  # five classes, nothing dropped
    mapped = split_corpus(load_corpus(str(stars_csv), None, "stars", None, LabelMap.parse(MAP)).examples)
    names = load_corpus(str(stars_csv), None, "stars").label_names
    assert names == ["1", "2", "3", "4", "5"]
    for part in ("train", "valid", "test"):
        old, new = getattr(plain, part), getattr(mapped, part)
        kept = [(text, names[label]) for text, label in zip(old.texts, old.labels) if names[label] != "3"]
        assert new.texts == [text for text, _ in kept]  # the same reviews in the same part and order
        assert new.labels == [0 if star in ("1", "2") else 1 for _, star in kept]
        assert mapped.unmapped[part] == sum(names[label] == "3" for label in old.labels)
    assert sum(mapped.unmapped.values()) > 0


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_both_backends_keep_and_drop_the_same_rows(tmp_path, suffix):
    rows = star_rows(seed=2)
    rows += [rows[3], (rows[7][0], 3), (rows[12][0], 3)]  # duplicates, two of them with an unmapped rating
    rows += [(f"{text} again", None) for text, _ in rows[:5]]  # missing ratings are unmapped too
    # One Arrow column holds one type: JSON Lines gets numbers (and nulls), Parquet text; CSV is all text.
    if suffix == ".jsonl":
        rows = [(text, None if star is None else float(star)) for text, star in rows]
    elif suffix == ".parquet":
        rows = [(text, "" if star is None else str(star)) for text, star in rows]
    path = write_table(tmp_path / f"stars{suffix}", rows, ("text", "stars"))
    memory = open_source(settings(path), 0.1)
    disk = open_source(settings(path), 0.1, on_disk=True)
    assert memory.info == disk.info
    assert memory.info.label_map == MAP and sum(memory.info.unmapped.values()) >= 5
    assert memory.info.sizes["duplicates_dropped"] == 3
    corpus = disk.corpus
    for part in ("train", "valid", "test"):
        assert TextColumn(corpus, disk.rows[part])[:] == memory.parts[part].texts
        assert corpus.labels[disk.rows[part]].tolist() == memory.parts[part].labels


def test_on_disk_cache_never_serves_another_maps_split(stars_csv):
    wide = load_disk_corpus(str(stars_csv), None, "stars", 0.1, None, LabelMap.parse("1-3=negative 4,5=positive"))
    narrow = load_disk_corpus(str(stars_csv), None, "stars", 0.1, None, LabelMap.parse(MAP))
    assert (wide.labels != UNMAPPED).all()
    assert sum(narrow.unmapped().values()) > 0


def test_corpus_summary_counts_the_dropped_per_split(stars_csv):
    summary = corpus_summary(settings(stars_csv))
    split = split_corpus(load_corpus(str(stars_csv), None, "stars", None, LabelMap.parse(MAP)).examples)
    assert summary["label_map"] == MAP and summary["label_names"] == ["negative", "positive"]
    assert {part: summary["splits"][part]["unmapped"] for part in split.unmapped} == split.unmapped
    assert summary["splits"]["train"]["class_share"][1] > 0.7  # imbalanced, as star-rated reviews are


def test_a_map_leaving_a_class_without_reviews_names_it(stars_csv):
    for on_disk in (False, True):
        with pytest.raises(ReviewRNNError, match="no review in column 'stars' maps to 'positive'"):
            open_source(settings(stars_csv, "1,2=negative 6-10=positive"), 0.1, on_disk)


def test_a_map_naming_a_label_the_model_lacks_is_refused(stars_csv):
    with pytest.raises(ReviewRNNError, match="names 'good', which this model does not know") as refused:
        open_source(settings(stars_csv, "1,2=negative 4,5=good"), 0.1, label_names=["negative", "positive"])
    assert refused.value.exit_code == 2  # the flag contradicts the model: a usage error


@pytest.mark.parametrize("on_disk", [False, True])
def test_a_map_keeping_nothing_is_checked_on_the_part_read_and_names_the_values(tmp_path, on_disk):
    """Both backends: evaluate checks the part it scores (TRAIN and TEST for everything else) and names the
    file's label values, so a map written for other labels shows what to write."""
    names = ["negative", "positive"]  # a model's labels, as evaluate passes them
    path = write_table(tmp_path / "named.csv", synthetic_reviews(200, seed=4), ("text", "stars"))
    for needed in (None, "test", "all"):
        with pytest.raises(ReviewRNNError, match=r"maps none of the \d+ .*'negative' \d+, 'positive' \d+"):
            open_source(settings(path), 0.1, on_disk=on_disk, label_names=names, needed=needed)
    rows = star_rows(seed=5)
    test_texts = set(split_corpus(Examples([text for text, _ in rows], [0] * len(rows)), 0.1).test.texts)
    path = write_table(
        tmp_path / "unrated.csv", [(t, "" if t in test_texts else s) for t, s in rows], ("text", "stars")
    )
    with pytest.raises(ReviewRNNError, match="maps none of the .* test reviews"):
        open_source(settings(path), 0.1, on_disk=on_disk, label_names=names)
    assert open_source(settings(path), 0.1, on_disk=on_disk, label_names=names, needed="train").info.sizes["train"]
    assert open_source(settings(path), 0.1, on_disk=on_disk, label_names=names, needed="all").info.sizes["test"] == 0


# --- config.json ----------------------------------------------------------------------------------


def test_config_round_trip_keeps_the_map_and_the_weights():
    config = RunConfig()
    config.corpus.label_map, config.corpus.unmapped = MAP, {"train": 3, "valid": 0, "test": 2}
    config.train.class_weights = "balanced"
    again = RunConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


def test_an_old_config_without_the_new_fields_loads_with_the_old_behaviour():
    raw = RunConfig().to_dict()
    del raw["corpus"]["label_map"], raw["corpus"]["unmapped"], raw["train"]["class_weights"]
    config = RunConfig.from_dict(raw)
    assert config.corpus.label_map is None and config.train.class_weights == "none"
    assert CorpusSettings.of_run(config.corpus).label_map is None


def test_a_corrupt_saved_map_or_weighting_fails_at_load():
    raw = RunConfig().to_dict()
    raw["corpus"]["label_map"] = "1,2=negative 2=positive"
    with pytest.raises(ReviewRNNError, match="config.json: corpus: --label-map maps '2' twice"):
        RunConfig.from_dict(raw)
    raw = RunConfig().to_dict()
    raw["train"]["class_weights"] = "inverse"
    with pytest.raises(ReviewRNNError, match="class_weights must be one of none, balanced"):
        RunConfig.from_dict(raw)


# --- class weights ------------------------------------------------------------------------------


def test_balanced_weights_are_n_over_classes_times_count():
    assert class_weights(np.array([0, 1, 1, 1]), 2, "balanced").tolist() == [2.0, 4 / 6]
    assert class_weights(np.array([0, 1, 1, 1]), 2, "none") is None
    with pytest.raises(ReviewRNNError, match="class 2 has no TRAIN reviews"):
        class_weights(np.array([0, 1, 1]), 3, "balanced")


def test_class_weights_change_the_loss_as_computed_by_hand():
    logits = torch.tensor([[2.0, -1.0], [0.5, 0.0], [-1.0, 3.0]])
    labels = torch.tensor([0, 0, 1])
    weights = torch.tensor([2.0, 2 / 3])

    def nll(row, label):  # -log softmax, written out
        return -(row[label] - math.log(sum(math.exp(v) for v in row)))

    rows = logits.tolist()
    losses = [nll(rows[i], int(labels[i])) for i in range(3)]
    by_hand = 2.0 * losses[0] + 2.0 * losses[1] + (2 / 3) * losses[2]
    assert float(summed_loss(logits, labels, weights)) == pytest.approx(by_hand, rel=1e-6)
    assert float(summed_loss(logits, labels, None)) == pytest.approx(sum(losses), rel=1e-6)


def test_trainer_weights_the_loss_by_train_counts_and_resumes_exactly(tmp_path):
    from reviewrnn.model import RecurrentClassifier
    from reviewrnn.runs import prepare_run
    from reviewrnn.runtime import seed_everything
    from reviewrnn.train import Trainer

    path = write_table(tmp_path / "stars.csv", star_rows(300, seed=5), ("text", "stars"))
    model_config, train_config, tokenizer_config = tiny_configs(epochs=2, class_weights="balanced")
    prepared = prepare_run(settings(path), model_config, train_config, tokenizer_config)

    def trainer() -> Trainer:
        rng = seed_everything(0)
        config = prepared.config
        return Trainer(
            RecurrentClassifier(config.model),
            prepared.train_set,
            prepared.valid_set,
            config.train,
            torch.device("cpu"),
            rng,
        )

    counts = np.bincount(prepared.train_set.labels, minlength=2)
    straight = trainer()
    assert straight.class_weights.tolist() == pytest.approx((counts.sum() / (2 * counts)).tolist())
    assert counts[1] > 2 * counts[0]  # imbalanced: the weights are far from 1
    straight.run()
    first = trainer()
    taken = iter(range(10**9))
    assert first.run(should_stop=lambda: next(taken) >= first.steps_per_epoch + 2).interrupted
    state, arrays = first.checkpoint()
    second = trainer()
    second.restore(json.loads(json.dumps(state)), arrays)
    second.run()
    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name


# --- the command line -----------------------------------------------------------------------------


def invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


TINY = ["--epochs", "1", "--vocab-size", "150", "--embed", "8", "--hidden", "8", "--threads", "1"]


def test_cli_corpus_train_evaluate_with_a_label_map(stars_csv, tmp_path, isolated_env):
    shown = invoke("corpus", stars_csv, "--label-column", "stars", "--label-map", MAP, "--json")
    assert shown.exit_code == 0, shown.output
    summary = json.loads(shown.stdout)
    assert summary["label_names"] == ["negative", "positive"] and summary["splits"]["test"]["unmapped"] > 0
    table = invoke("corpus", stars_csv, "--label-column", "stars", "--label-map", MAP)
    assert "unmapped, dropped" in table.stdout
    threes = sum(1 for _, star in star_rows() if star == 3)  # in the whole file, repeated reviews included
    assert summary["unmapped_values"] == {"3": threes} and f"label values the map dropped: '3' {threes}" in table.stdout

    args = ["train", "--corpus", stars_csv, "--label-column", "stars", "--label-map", MAP, *TINY]
    trained = invoke(*args, "--class-weights", "balanced", "--name", "stars", "--json")
    assert trained.exit_code == 0, trained.output
    report = json.loads(trained.stdout)
    assert report["label_map"] == MAP and report["unmapped"] == summary_unmapped(summary)
    model = isolated_env["models"] / "stars"
    config = load_config(model)
    assert config.corpus.label_map == MAP and config.train.class_weights == "balanced"
    assert config.corpus.unmapped == summary_unmapped(summary)
    from reviewrnn.lab.sources import model_split  # the lab's measurements read the corpus with the map too

    counts = {part: summary["splits"][part]["count"] for part in ("train", "valid", "test")}
    assert model_split(config).sizes() == counts

    scored = invoke("evaluate", model, "--json")
    assert scored.exit_code == 0, scored.output
    result = json.loads(scored.stdout)
    assert result["unmapped"] == summary["splits"]["test"]["unmapped"]
    assert {"accuracy", "macro_f1", "balanced_accuracy", "by_length"} <= set(result)
    fitted = invoke("evaluate", model, "--calibrate", "--find-threshold", "f1", "--json")  # VALID, with the map
    assert fitted.exit_code == 0, fitted.output
    assert json.loads(fitted.stdout)["threshold_search"]["count"] == summary["splits"]["valid"]["count"]
    text = invoke("evaluate", model)
    assert (
        "macro-F1" in text.stdout and "balanced accuracy" in text.stdout and "unmapped reviews dropped" in text.stdout
    )
    assert f"(values in the file: '3' {threes})" in " ".join(text.stdout.split())

    # Another file, other stars: the model's own map applies; --label-map replaces it.
    other = write_table(tmp_path / "other.csv", star_rows(300, seed=9), ("text", "stars"))
    own = json.loads(invoke("evaluate", model, "--corpus", other, "--label-column", "stars", "--json").stdout)
    assert own["label_map"] == MAP and own["count"] > 0
    unnamed = invoke("evaluate", model, "--corpus", other, "--json")  # the model's rating column is found
    assert unnamed.exit_code == 0, unnamed.output
    assert {key: json.loads(unnamed.stdout)[key] for key in ("count", "unmapped", "accuracy")} == {
        key: own[key] for key in ("count", "unmapped", "accuracy")
    }
    wide = invoke(
        "evaluate",
        model,
        "--corpus",
        other,
        "--label-column",
        "stars",
        "--label-map",
        "1-3=negative 4-5=positive",
        "--json",
    )
    assert json.loads(wide.stdout)["unmapped"] == 0
    assert json.loads(wide.stdout)["count"] == own["count"] + own["unmapped"]
    # A file labelled by name: the model's star map drops every review, and the error says what to do.
    named = write_table(tmp_path / "named.csv", synthetic_reviews(200, seed=4))
    dropped = invoke("evaluate", model, "--corpus", named)
    assert dropped.exit_code == 1 and "give a --label-map" in dropped.output
    # It counts the split it scores (TEST here, not TRAIN) and names the labels the file has.
    test_size = len(split_corpus(Examples(*map(list, zip(*synthetic_reviews(200, seed=4)))), 0.1).test)
    assert f"maps none of the {test_size} test reviews" in dropped.output
    assert "'negative'" in dropped.output and "'positive'" in dropped.output
    # --split all needs reviews in some part, not in TEST: a file whose TEST half has no rating is scored.
    rows = star_rows(seed=5)
    test_texts = set(split_corpus(Examples([text for text, _ in rows], [0] * len(rows)), 0.1).test.texts)
    unrated = write_table(
        tmp_path / "unrated.csv", [(t, "" if t in test_texts else star) for t, star in rows], ("text", "stars")
    )
    refused = invoke("evaluate", model, "--corpus", unrated)
    assert (
        refused.exit_code == 1
        and "maps none of the" in refused.output
        and "values in the file: empty " in refused.output
    )
    whole = invoke("evaluate", model, "--corpus", unrated, "--split", "all", "--json")
    assert whole.exit_code == 0, whole.output
    assert json.loads(whole.stdout)["count"] > 0
    names = invoke("evaluate", model, "--corpus", named, "--label-map", "negative=negative positive=positive", "--json")
    assert names.exit_code == 0 and json.loads(names.stdout)["unmapped"] == 0


def summary_unmapped(summary: dict) -> dict[str, int]:
    return {part: summary["splits"][part]["unmapped"] for part in ("train", "valid", "test")}


def test_cli_errors_name_the_value_and_the_fix(stars_csv):
    bad = invoke("corpus", stars_csv, "--label-column", "stars", "--label-map", "1,2=negative 2,5=positive")
    assert bad.exit_code == 2 and "maps '2' twice" in bad.output
    one = invoke("train", "--corpus", stars_csv, "--label-column", "stars", "--label-map", "1,2=negative", *TINY)
    assert one.exit_code == 2 and "names one class (negative)" in one.output
    empty = invoke("corpus", stars_csv, "--label-column", "stars", "--label-map", "1,2=negative 9=positive")
    assert empty.exit_code == 1 and "maps to 'positive'" in empty.output and "Traceback" not in empty.output
    weights = invoke("train", "--corpus", stars_csv, "--class-weights", "inverse", *TINY)
    assert weights.exit_code == 2
    alone = invoke("evaluate", "models/none", "--label-map", MAP)
    assert alone.exit_code == 2 and "--corpus" in alone.output


def test_unmapped_line_counts_each_split_or_says_nothing_was_dropped():
    from reviewrnn.render import unmapped_line

    assert unmapped_line("s.csv", "1=n 5=p", {"train": 3, "test": 0}).endswith("dropped: train 3, test 0")
    assert unmapped_line("s.csv", "1=n 5=p", {"test": 0}) == "label map '1=n 5=p' on s.csv: it maps every review"
    values = {"3": 40, "": 2, "five": 1, "6": 1, "0": 1, "7": 1, "8": 1, "9": 1}
    line = unmapped_line("s.csv", "1=n 5=p", {"train": 48}, values)
    assert line.endswith("train 48 (values in the file: '3' 40, empty 2, 'five' 1, '6' 1, '0' 1, '7' 1, 2 more)")


def test_the_values_a_map_dropped_are_counted_by_value(tmp_path, stars_csv):
    """A typo ("five", "6") or an empty rating is named beside the 3s dropped on purpose (a user's file had
    them all lumped into one count)."""
    rows = star_rows() + [("a review rated in words, five", "five"), ("rated six", 6), ("not rated at all", "")]
    corpus = load_corpus(
        str(write_table(tmp_path / "typos.csv", rows, ("text", "stars"))), None, "stars", None, LabelMap.parse(MAP)
    )
    threes = sum(1 for _, star in rows if star == 3)
    assert corpus.unmapped_values == {"3": threes, "five": 1, "6": 1, "": 1}
    info = open_source(settings(tmp_path / "typos.csv"), 0.1).info
    assert info.unmapped_values == corpus.unmapped_values and sum(info.unmapped.values()) == threes + 3


def test_tokenize_takes_the_label_map_train_takes_and_reads_the_train_reviews_it_keeps(tmp_path, isolated_env):
    """A new user's star file with one empty rating: tokenize refused it (every review needs a label) and had
    no --label-map; with the map it reads the TRAIN reviews train keeps, as corpus counts them."""
    rows = [*star_rows(), ("a review whose rating was never filled in", "")]
    stars = write_table(tmp_path / "stars.csv", rows, ("text", "stars"))
    refused = invoke("tokenize", "--corpus", stars, "--label-column", "stars", "--out", tmp_path / "tok.json")
    assert refused.exit_code == 1 and "empty label in column 'stars'" in refused.output
    args = ["--corpus", stars, "--label-column", "stars", "--label-map", MAP]
    made = invoke("tokenize", *args, "--vocab-size", "150", "--out", tmp_path / "tok.json", "--json")
    assert made.exit_code == 0, made.output
    summary = json.loads(invoke("corpus", stars, "--label-column", "stars", "--label-map", MAP, "--json").stdout)
    assert json.loads(made.stdout)["reviews"] == summary["splits"]["train"]["count"]
    assert (tmp_path / "tok.json").is_file()
