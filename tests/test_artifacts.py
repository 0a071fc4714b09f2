"""artifacts.py: save/load round trip, atomic writes, every way a model directory can be damaged."""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from reviewrnn import artifacts, modellock
from reviewrnn.artifacts import (
    CONFIG_FILE,
    EVAL_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    default_model_dir,
    load_config,
    load_model,
    save_model,
    write_eval,
)
from reviewrnn.atomic import atomic_write_bytes, atomic_write_json
from reviewrnn.config import FORMAT_VERSION, TokenizerConfig
from reviewrnn.data import pad_batch
from reviewrnn.errors import ReviewRNNError
from reviewrnn.inference import NumpyClassifier
from reviewrnn.tokenizer import encode, train_tokenizer

SAMPLE = ["a great superb film", "awful and boring", "the plot", "wonderful wonderful music"]


def probabilities(loaded) -> np.ndarray:
    rows = [np.asarray(ids or [0]) for ids in encode(loaded.tokenizer, SAMPLE)]
    ids, lengths = pad_batch(rows)
    return NumpyClassifier(loaded.config.model, loaded.weights).probabilities(ids, lengths)


def load_error(directory: Path, *fragments: str) -> str:
    with pytest.raises(ReviewRNNError) as caught:
        load_model(directory)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def edit_config(directory: Path, change) -> None:
    path = directory / CONFIG_FILE
    raw = json.loads(path.read_text())
    change(raw)
    path.write_text(json.dumps(raw))


def hidden_entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# --- round trip ---------------------------------------------------------------------------------


def test_save_load_round_trip_gives_identical_probabilities(trained_model, tmp_path):
    original = load_model(trained_model)
    copy = save_model(
        tmp_path / "again",
        original.config,
        original.weights,
        original.tokenizer.to_str(),
        json.loads((trained_model / "history.json").read_text()),
    )
    reloaded = load_model(copy)
    assert reloaded.config == original.config
    assert reloaded.weights.keys() == original.weights.keys()
    for name in original.weights:
        np.testing.assert_array_equal(reloaded.weights[name], original.weights[name])
    assert reloaded.tokenizer.get_vocab() == original.tokenizer.get_vocab()
    np.testing.assert_array_equal(probabilities(reloaded), probabilities(original))
    assert sorted(p.name for p in copy.iterdir()) == [
        "config.json",
        "history.json",
        "model.safetensors",
        "tokenizer.json",
    ]
    assert hidden_entries(tmp_path) == []


def test_saved_weights_equal_the_torch_model(trained_model):
    from reviewrnn.model import RecurrentClassifier

    loaded = load_model(trained_model)
    model = RecurrentClassifier(loaded.config.model)
    model.load_state_dict({name: torch.from_numpy(value) for name, value in loaded.weights.items()})
    rows = [np.asarray(ids or [0]) for ids in encode(loaded.tokenizer, SAMPLE)]
    ids, lengths = pad_batch(rows)
    with torch.no_grad():
        expected = torch.softmax(model.eval()(torch.from_numpy(ids), torch.from_numpy(lengths)), 1).numpy()
    np.testing.assert_allclose(probabilities(loaded), expected, atol=1e-5)


def test_save_replaces_an_existing_model_whole(trained_model, tmp_path):
    loaded = load_model(trained_model)
    target = tmp_path / "model"
    target.mkdir()
    (target / "stale.txt").write_text("from an older run")
    save_model(target, loaded.config, loaded.weights, loaded.tokenizer.to_str(), [])
    assert not (target / "stale.txt").exists()
    assert json.loads((target / "history.json").read_text()) == []
    assert hidden_entries(tmp_path) == []


def test_a_saved_model_is_readable_by_others_as_the_umask_allows(trained_model, tmp_path):
    """mkstemp and mkdtemp make private files (0600) and folders (0700); a saved model gets mkdir's and open()'s."""
    loaded = load_model(trained_model)
    target = save_model(tmp_path / "shared", loaded.config, loaded.weights, loaded.tokenizer.to_str(), [])
    mask = os.umask(0o022)
    os.umask(mask)
    assert (target.stat().st_mode & 0o777) == 0o777 & ~mask
    for name in ("config.json", "model.safetensors", "tokenizer.json", "history.json"):
        assert ((target / name).stat().st_mode & 0o777) == 0o666 & ~mask, name


def test_failed_save_keeps_the_old_model(trained_model, tmp_path, monkeypatch):
    loaded = load_model(trained_model)
    target = tmp_path / "model"
    save_model(target, loaded.config, loaded.weights, loaded.tokenizer.to_str(), [{"epoch": 1}])
    before = {p.name: p.read_bytes() for p in target.iterdir()}

    def broken(path, value):
        raise OSError("disk full")

    monkeypatch.setattr(artifacts, "atomic_write_json", broken)
    with pytest.raises(OSError, match="disk full"):
        save_model(target, loaded.config, loaded.weights, loaded.tokenizer.to_str(), [])
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert hidden_entries(tmp_path) == []


# --- atomic writes ---------------------------------------------------------------------------------


def test_atomic_write_creates_parents_and_leaves_no_temp_file(tmp_path):
    path = tmp_path / "deep" / "er" / "file.bin"
    atomic_write_bytes(path, b"first")
    atomic_write_bytes(path, b"second")
    assert path.read_bytes() == b"second"
    assert os.listdir(path.parent) == ["file.bin"]


def test_atomic_write_keeps_old_content_when_the_rename_fails(tmp_path, monkeypatch):
    path = tmp_path / "out" / "config.json"
    path.parent.mkdir()
    path.write_text("old")

    def refuse(source, destination):
        raise OSError("rename refused")

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", refuse)
        with pytest.raises(OSError, match="rename refused"):
            atomic_write_bytes(path, b"new content")
    assert path.read_text() == "old"
    assert os.listdir(path.parent) == ["config.json"]


def test_atomic_write_keeps_old_content_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "out" / "config.json"
    path.parent.mkdir()
    path.write_text("old")

    def broken_fsync(descriptor):
        raise OSError("I/O error")

    with monkeypatch.context() as patch:
        patch.setattr(os, "fsync", broken_fsync)
        with pytest.raises(OSError, match="I/O error"):
            atomic_write_bytes(path, b"new content")
    assert path.read_text() == "old"
    assert os.listdir(path.parent) == ["config.json"]


def test_atomic_write_json_allows_nan_and_ends_with_newline(tmp_path):
    path = tmp_path / "h.json"
    atomic_write_json(path, {"loss": float("nan"), "epochs": [1, 2]})
    text = path.read_text()
    assert text.endswith("\n") and "NaN" in text
    assert json.loads(text)["epochs"] == [1, 2]


def test_write_eval(tmp_path):
    path = write_eval(tmp_path, {"accuracy": 0.5})
    assert path == tmp_path / "eval.json" and json.loads(path.read_text()) == {"accuracy": 0.5}


@pytest.mark.parametrize(
    "meanwhile", ["a run holds the model", "a run replaced the model", "a threshold was fitted", "nothing"]
)
def test_eval_json_is_saved_only_for_the_weights_scored(model_copy, monkeypatch, meanwhile):
    """A plain evaluate wrote the old model's TEST report into the model a --force run had swapped in meanwhile
    (compare and clipping reuse eval.json). It now checks, under the run lock, that the weights are those scored."""
    from reviewrnn import scoring

    (model_copy / EVAL_FILE).write_text('{"before": true}\n')
    real = scoring._score_models

    def scoring_while_a_run_works(*args):
        report = real(*args)
        if meanwhile in ("a run replaced the model", "a threshold was fitted"):  # a new file, as either leaves it
            changed = model_copy / (WEIGHTS_FILE if meanwhile == "a run replaced the model" else CONFIG_FILE)
            atomic_write_bytes(changed, changed.read_bytes())
        return report

    monkeypatch.setattr(scoring, "_score_models", scoring_while_a_run_works)
    with modellock.training_lock(model_copy) if meanwhile == "a run holds the model" else contextlib.nullcontext():
        report = scoring.evaluate_step(model_copy, threads=1)
    saved = json.loads((model_copy / EVAL_FILE).read_text())
    if meanwhile == "nothing":
        assert saved == json.loads(json.dumps(report)) and "eval_json_not_saved" not in report
    else:
        assert saved == {"before": True}
        expected = "another process holds" if meanwhile == "a run holds the model" else "changed while it was scored"
        assert expected in report["eval_json_not_saved"]
    if meanwhile == "a run holds the model":  # the command says so on stderr
        from typer.testing import CliRunner

        from reviewrnn.cli import app

        with modellock.training_lock(model_copy):
            said = CliRunner().invoke(app, ["evaluate", str(model_copy), "--threads", "1"])
        assert said.exit_code == 0 and f"note: {model_copy}/eval.json not saved: another process" in said.stderr


# --- loading errors ----------------------------------------------------------------------------------


def test_missing_directory(tmp_path):
    load_error(tmp_path / "nothing", str(tmp_path / "nothing"), "no such model directory")


def test_missing_config(model_copy):
    (model_copy / CONFIG_FILE).unlink()
    load_error(model_copy, str(model_copy / CONFIG_FILE), "missing")


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe\x00", b'{"format_version": 1,'])
def test_invalid_json(model_copy, content):
    (model_copy / CONFIG_FILE).write_bytes(content)
    load_error(model_copy, str(model_copy / CONFIG_FILE), "not valid JSON")


def test_config_that_is_not_an_object(model_copy):
    (model_copy / CONFIG_FILE).write_text("[1, 2]")
    load_error(model_copy, str(model_copy / CONFIG_FILE), "JSON object")


@pytest.mark.parametrize(
    "section,field",
    [("model", "hiden"), ("train", "learning_rate"), ("tokenizer", "merges"), ("corpus", "url"), (None, "modle")],
)
def test_unknown_config_field(model_copy, section, field):
    def change(raw):
        (raw[section] if section else raw)[field] = 1

    edit_config(model_copy, change)
    load_error(model_copy, str(model_copy / CONFIG_FILE), f"unknown field '{field}'")


@pytest.mark.parametrize(
    "section,field,value",
    [
        ("model", "hidden", "16"),
        ("model", "hidden", 16.0),
        ("model", "bidirectional", 1),
        ("model", "layers", True),
        ("train", "lr", "fast"),
        ("train", "limit", "all"),
        ("corpus", "label_names", "negative,positive"),
        ("model", None, [1, 2]),
        (None, "format_version", "1"),
        (None, "versions", []),
    ],
)
def test_wrong_field_type(model_copy, section, field, value):
    def change(raw):
        if section and field:
            raw[section][field] = value
        elif section:
            raw[section] = value
        else:
            raw[field] = value

    edit_config(model_copy, change)
    load_error(model_copy, str(model_copy / CONFIG_FILE))


@pytest.mark.parametrize(
    "section,field,value",
    [("model", "cell", "transformer"), ("model", "pool", "attention"), ("model", "hidden", 0), ("train", "lr", -1)],
)
def test_out_of_range_value_names_the_file(model_copy, section, field, value):
    edit_config(model_copy, lambda raw: raw[section].__setitem__(field, value))
    load_error(model_copy, str(model_copy / CONFIG_FILE), field if field != "lr" else "lr")


def test_newer_format_version_names_the_version(model_copy):
    edit_config(model_copy, lambda raw: raw.__setitem__("format_version", FORMAT_VERSION + 41))
    load_error(model_copy, str(model_copy / CONFIG_FILE), f"format version {FORMAT_VERSION + 41}", "upgrade")


def test_missing_format_version(model_copy):
    edit_config(model_copy, lambda raw: raw.pop("format_version"))
    load_error(model_copy, str(model_copy / CONFIG_FILE), "format_version")


def test_load_config_accepts_what_save_wrote(trained_model):
    config = load_config(trained_model)
    assert config.format_version == FORMAT_VERSION
    assert config.model.cell == "gru" and config.corpus.label_names == ["negative", "positive"]


def test_pickle_renamed_to_safetensors(model_copy):
    loaded = load_model(model_copy)
    torch.save({name: torch.from_numpy(w) for name, w in loaded.weights.items()}, model_copy / WEIGHTS_FILE)
    load_error(model_copy, str(model_copy / WEIGHTS_FILE), "not a valid safetensors file")


def test_truncated_safetensors(model_copy):
    path = model_copy / WEIGHTS_FILE
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    load_error(model_copy, str(path), "not a valid safetensors file")


def test_missing_weights(model_copy):
    (model_copy / WEIGHTS_FILE).unlink()
    load_error(model_copy, str(model_copy / WEIGHTS_FILE), "missing")


def rewrite_weights(directory: Path, change) -> None:
    weights = dict(load_model(directory).weights)
    change(weights)
    save_file(weights, str(directory / WEIGHTS_FILE))


def test_wrong_tensor_shape(model_copy):
    def change(weights):
        weights["head.weight"] = np.zeros((3, weights["head.weight"].shape[1]), dtype=np.float32)

    rewrite_weights(model_copy, change)
    load_error(model_copy, str(model_copy / WEIGHTS_FILE), "head.weight", "expected float32[2, 16]")


def test_wrong_tensor_dtype(model_copy):
    rewrite_weights(model_copy, lambda w: w.__setitem__("head.bias", w["head.bias"].astype(np.float64)))
    load_error(model_copy, str(model_copy / WEIGHTS_FILE), "head.bias", "float64")


def test_missing_and_extra_tensors(model_copy):
    def change(weights):
        weights.pop("head.bias")
        weights["surprise"] = np.zeros(2, dtype=np.float32)

    rewrite_weights(model_copy, change)
    load_error(model_copy, str(model_copy / WEIGHTS_FILE), "head.bias", "surprise")


def test_weights_of_another_architecture(model_copy):
    edit_config(model_copy, lambda raw: raw["model"].__setitem__("cell", "lstm"))
    load_error(model_copy, str(model_copy / WEIGHTS_FILE), "expected float32")


def test_nan_tensor(model_copy):
    def change(weights):
        weights["head.bias"] = weights["head.bias"].copy()
        weights["head.bias"][0] = np.nan

    rewrite_weights(model_copy, change)
    load_error(model_copy, str(model_copy / WEIGHTS_FILE), "NaN")


def test_tokenizer_vocab_size_mismatch(model_copy):
    other = train_tokenizer(["alpha beta gamma delta"] * 3, TokenizerConfig(vocab_size=100, min_frequency=1))
    (model_copy / TOKENIZER_FILE).write_text(other.to_str())
    load_error(model_copy, str(model_copy / TOKENIZER_FILE), "vocabulary", "different models")


def test_missing_tokenizer(model_copy):
    (model_copy / TOKENIZER_FILE).unlink()
    load_error(model_copy, str(model_copy / TOKENIZER_FILE), "no tokenizer file")


def test_damaged_tokenizer(model_copy):
    (model_copy / TOKENIZER_FILE).write_text('{"version": "1.0", "model": 5}')
    load_error(model_copy, str(model_copy / TOKENIZER_FILE), "not a valid tokenizer.json")


# --- default model ----------------------------------------------------------------------------------


def fake_model(root: Path, name: str, age_s: float) -> Path:
    directory = root / name
    directory.mkdir(parents=True)
    config = directory / CONFIG_FILE
    config.write_text("{}")
    stamp = time.time() - age_s
    os.utime(config, (stamp, stamp))
    return directory


def test_default_model_dir_picks_the_newest(isolated_env):
    root = isolated_env["models"]
    fake_model(root, "old", 300)
    newest = fake_model(root, "new", 10)
    fake_model(root, "older", 900)
    (root / "not-a-model").mkdir()
    assert default_model_dir() == newest


def test_default_model_dir_prefers_the_environment(isolated_env, monkeypatch, tmp_path):
    fake_model(isolated_env["models"], "new", 0)
    monkeypatch.setenv("REVIEWRNN_MODEL", str(tmp_path / "chosen"))
    with pytest.raises(ReviewRNNError, match=r"\$REVIEWRNN_MODEL=.*chosen: no such model directory; fix or unset it"):
        default_model_dir()  # a variable naming nothing is named, not passed on to fail as an unnamed path
    (tmp_path / "chosen").mkdir()
    assert default_model_dir() == tmp_path / "chosen"


def test_default_model_dir_errors_when_there_is_none(isolated_env):
    with pytest.raises(ReviewRNNError, match="no model found") as caught:
        default_model_dir()  # the folder does not even exist
    assert str(isolated_env["models"]) in str(caught.value)
    isolated_env["models"].mkdir()
    (isolated_env["models"] / "empty").mkdir()
    with pytest.raises(ReviewRNNError, match="reviewrnn train"):
        default_model_dir()


def test_models_root_defaults_to_models(monkeypatch):
    monkeypatch.delenv("REVIEWRNN_MODELS")
    assert artifacts.models_root() == Path("models")


@pytest.mark.parametrize("check", ["load_model", "require_model_directories"])
def test_a_crash_between_the_two_renames_of_a_swap_is_recovered_on_load(check, trained_model, tmp_path):
    """load_model, and the lab commands' check of every MODEL before work, put a parked model back."""
    import shutil

    models = tmp_path / "models"
    models.mkdir()
    retired = models / ".m.old-abc123"
    retired.mkdir()
    shutil.copytree(trained_model, retired / "model")  # the state right after the first rename
    if check == "load_model":
        assert load_model(models / "m").directory == models / "m"
    else:
        artifacts.require_model_directories([models / "m"])
    assert (models / "m" / "config.json").is_file() and not (retired / "model").exists()


def test_a_reader_leaves_a_live_writers_swap_alone(trained_model, tmp_path):
    """Between a writer's two renames the model is parked beside its place; a reader moving it back
    would make the writer's second rename fail. Only with no run holding the lock is it a crash."""
    import shutil

    models = tmp_path / "models"
    models.mkdir()
    retired = models / ".m.old-abc123"
    retired.mkdir()
    shutil.copytree(trained_model, retired / "model")
    with modellock.training_lock(models / "m"):
        shutil.rmtree(models / "m", ignore_errors=True)  # the holder repaired on entry; be mid-swap again
        shutil.copytree(trained_model, retired / "model", dirs_exist_ok=True)
        with pytest.raises(ReviewRNNError, match="no such model directory"):
            artifacts.require_model_directories([models / "m"])
        assert (retired / "model" / "config.json").is_file() and not (models / "m").exists()
    artifacts.require_model_directories([models / "m"])  # the lock is free: now it is a crash's leftover
    assert (models / "m" / "config.json").is_file()


def test_a_lock_file_deleted_under_a_new_holder_is_not_trusted(tmp_path, monkeypatch):
    """A run that opened the lock file just before the last holder deleted it would lock a file no
    longer in place, and a third run could lock a fresh one beside it: the lock is taken again."""
    real_flock, deleted = modellock.fcntl.flock, []

    def flock_then_deleted(descriptor, operation):
        real_flock(descriptor, operation)
        if not deleted and operation & modellock.fcntl.LOCK_EX:
            deleted.append(descriptor)
            (tmp_path / ".m.lock").unlink()  # as the previous holder's exit would

    monkeypatch.setattr(modellock.fcntl, "flock", flock_then_deleted)
    with modellock.training_lock(tmp_path / "m"):
        assert deleted and (tmp_path / ".m.lock").is_file()  # held on the file that is in place
        monkeypatch.setattr(modellock.fcntl, "flock", real_flock)
        with pytest.raises(ReviewRNNError, match="being written by another run"):
            with modellock.training_lock(tmp_path / "m"):
                pass
    assert not (tmp_path / ".m.lock").exists()


def test_recalibrating_an_old_model_does_not_make_it_the_newest(isolated_env):
    root = isolated_env["models"]
    old = fake_model(root, "old", 300)
    newest = fake_model(root, "new", 10)
    for directory, age in ((old, 300), (newest, 10)):
        weights = directory / "model.safetensors"
        weights.write_bytes(b"")
        os.utime(weights, (time.time() - age,) * 2)
    os.utime(old / "config.json")  # evaluate --calibrate rewrote it just now
    assert default_model_dir() == newest
