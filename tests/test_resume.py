"""No lost work: checkpoints, resume, signals, SIGKILL at random moments, and the output lock."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import tiny_configs

from reviewrnn.artifacts import load_checkpoint, load_model, save_run
from reviewrnn.callbacks import Callbacks
from reviewrnn.errors import ReviewRNNError, TrainingInterrupted
from reviewrnn.model import RecurrentClassifier
from reviewrnn.modellock import training_lock
from reviewrnn.runs import prepare_run, resume_step, train_step
from reviewrnn.runtime import seed_everything
from reviewrnn.source import CorpusSettings
from reviewrnn.train import Trainer

EPOCHS = 3


def build_trainer(prepared) -> Trainer:
    config = prepared.config
    torch.set_num_threads(1)
    rng = seed_everything(config.train.seed)
    model = RecurrentClassifier(config.model)
    return Trainer(model, prepared.train_set, prepared.valid_set, config.train, torch.device("cpu"), rng)


@pytest.fixture
def prepared(make_corpus, isolated_env):
    model_config, train_config, tokenizer_config = tiny_configs(epochs=EPOCHS, cell="lstm", dropout=0.2)
    return prepare_run(CorpusSettings(str(make_corpus())), model_config, train_config, tokenizer_config)


def stop_after(steps: int):
    taken = iter(range(10**9))
    return lambda: next(taken) >= steps


@pytest.mark.parametrize(
    "where, ema", [("mid-epoch 1", 0.0), ("epoch boundary", 0.0), ("mid-epoch 2", 0.0), ("mid-epoch 2", 0.9)]
)
def test_interrupted_and_resumed_run_ends_with_identical_weights(prepared, tmp_path, where, ema):
    prepared.config.train.ema = ema  # with --ema the moving average must resume exactly too
    straight = build_trainer(prepared)
    reference = straight.run()
    per_epoch = straight.steps_per_epoch
    stop_at = {"mid-epoch 1": 3, "epoch boundary": per_epoch, "mid-epoch 2": per_epoch + 2}[where]

    first = build_trainer(prepared)
    interrupted = first.run(should_stop=stop_after(stop_at))
    assert interrupted.interrupted
    directory = tmp_path / "run"
    save_run(directory, prepared.config, prepared.tokenizer.to_str(), [], None, first.checkpoint())
    _, _, state, arrays = load_checkpoint(directory)  # through real files: JSON and safetensors only

    second = build_trainer(prepared)
    torch.manual_seed(12345)  # whatever the new process's RNG holds, restore() must replace it
    second.restore(json.loads(json.dumps(state)), arrays)
    resumed = second.run()

    for name, tensor in straight.model.state_dict().items():
        assert torch.equal(tensor, second.model.state_dict()[name]), name
    if ema:
        for live, restored in zip(straight.average.values, second.average.values, strict=True):
            assert torch.equal(live, restored)
    for name, tensor in reference.best_state.items():
        assert torch.equal(tensor, resumed.best_state[name]), name
    assert [e.valid_accuracy for e in reference.history] == [e.valid_accuracy for e in resumed.history]
    assert [e.step_losses for e in reference.history] == [e.step_losses for e in resumed.history]


def test_checkpoint_after_every_epoch_through_train_step(make_corpus, isolated_env):
    directory = isolated_env["models"] / "ckpt"
    seen_epochs = []

    def on_epoch(report):
        _, _, state, _ = load_checkpoint(directory) if directory.exists() else (None, None, {"history": []}, None)
        seen_epochs.append(len(state["history"]))

    train_step(
        CorpusSettings(str(make_corpus())), *tiny_configs(epochs=3), directory, callbacks=Callbacks(epoch=on_epoch)
    )
    # When epoch k is reported, the checkpoint on disk still holds k - 1 epochs; it is written right after.
    assert seen_epochs == [0, 1, 2]
    _, _, state, _ = load_checkpoint(directory)
    assert len(state["history"]) == 3 and state["done"]
    with pytest.raises(ReviewRNNError, match="already finished") as finished:
        resume_step(directory)
    assert str(finished.value) == (  # the default linear schedule: --epochs cannot extend it, so not advised
        f"{directory}: this run already finished, and its learning rate decayed over its 3 epoch(s) (--schedule "
        f"linear), so it cannot go on; for more epochs start a new one with `reviewrnn train --epochs N` and the "
        f"settings in {directory}/config.json"
    )


def test_resume_without_checkpoint_is_a_clear_error(isolated_env):
    (isolated_env["models"] / "empty").mkdir(parents=True)
    with pytest.raises(ReviewRNNError, match="no resumable checkpoint"):
        resume_step(isolated_env["models"] / "empty")


def test_second_training_into_the_same_directory_refuses(make_corpus, isolated_env):
    directory = isolated_env["models"] / "busy"
    with training_lock(directory):
        with pytest.raises(ReviewRNNError, match="being written by another run"):
            train_step(CorpusSettings(str(make_corpus())), *tiny_configs(epochs=1), directory)
    assert not directory.exists()
    train_step(CorpusSettings(str(make_corpus())), *tiny_configs(epochs=1), directory)  # free again afterwards


def test_stop_request_saves_checkpoint_and_raises_with_resume_hint(make_corpus, isolated_env, monkeypatch):
    from reviewrnn import interrupts

    directory = isolated_env["models"] / "stopped"
    calls = iter(range(10**9))
    monkeypatch.setattr(interrupts.StopOnSignals, "__call__", lambda self: next(calls) >= 5)
    monkeypatch.setattr(interrupts.StopOnSignals, "exit_code", property(lambda self: 143))
    with pytest.raises(TrainingInterrupted) as caught:
        train_step(CorpusSettings(str(make_corpus())), *tiny_configs(epochs=2), directory)
    assert caught.value.exit_code == 143
    assert f"reviewrnn train --resume {directory}" in str(caught.value)
    assert not (directory / "config.json").exists()  # no epoch finished: only the checkpoint exists
    with pytest.raises(ReviewRNNError, match="before its first epoch finished.*--resume"):
        load_model(directory)
    monkeypatch.setattr(interrupts.StopOnSignals, "__call__", lambda self: False)
    outcome = resume_step(directory)
    assert outcome.best_epoch >= 1 and load_model(directory).config.train.epochs == 2


def cli_env(isolated_env) -> dict[str, str]:
    return {
        **os.environ,
        "REVIEWRNN_CACHE": str(isolated_env["cache"]),
        "REVIEWRNN_MODELS": str(isolated_env["models"]),
    }


TRAIN_ARGS = [
    "--epochs",
    "40",
    "--hidden",
    "16",
    "--embed",
    "16",
    "--vocab-size",
    "200",
    "--threads",
    "1",
    "--batch-size",
    "8",
    "--max-tokens",
    "64",
    "--device",
    "cpu",
    "--patience",
    "40",
    "--seed",
    "3",
]


def start_training(corpus: Path, env, name: str, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "reviewrnn", "train", "--corpus", str(corpus), "--name", name, *TRAIN_ARGS, *extra]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_checkpoint(directory: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not (directory / "checkpoint" / "state.json").exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)


def wait_for_epochs(directory: Path, process: subprocess.Popen, epochs: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        try:
            if len(load_checkpoint(directory)[2]["history"]) >= epochs:
                return
        except ReviewRNNError:  # caught between the two renames that swap a new checkpoint in
            pass
        time.sleep(0.05)


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_writes_checkpoint_exits_with_code_and_resume_finishes(make_corpus, isolated_env, sent, code):
    env = cli_env(isolated_env)
    directory = isolated_env["models"] / "sig"
    process = start_training(make_corpus(count=200), env, "sig")
    wait_for_checkpoint(directory, process)
    process.send_signal(sent)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    last = stderr.decode().strip().splitlines()[-1]
    assert last.startswith("interrupted: stopped at epoch") and "reviewrnn train --resume" in last
    assert "Traceback" not in stderr.decode()
    load_model(directory)  # the best model so far is intact and loads


def test_random_sigkill_never_corrupts_and_never_loses_a_finished_epoch(make_corpus, isolated_env):
    """Kill training at random moments; each time, what is on disk loads and holds every epoch it reported."""
    kills = int(os.environ.get("REVIEWRNN_SOAK_KILLS", "3"))
    env = cli_env(isolated_env)
    corpus = make_corpus(count=200)
    directory = isolated_env["models"] / "killed"
    chooser = random.Random(0)
    # Epochs take milliseconds here: ask for more than can finish, so every kill lands in a running epoch.
    process = start_training(corpus, env, "killed", "--epochs", "100000", "--patience", "100000")
    wait_for_checkpoint(directory, process)
    seen, on_disk = 0, []  # epochs known to be on disk; epochs found after each kill
    for _ in range(kills):
        time.sleep(chooser.uniform(0.0, 1.5))
        assert process.poll() is None, process.communicate()  # killed while training, not after it ended
        process.kill()
        process.wait()
        _, _, state, arrays = load_checkpoint(directory)
        assert all(np.isfinite(v).all() for v in arrays.values() if v.dtype.kind == "f")
        if (directory / "config.json").exists():
            load_model(directory)
        finished = len(state["history"])
        assert finished >= seen  # a completed epoch is never lost
        on_disk.append(finished)
        process = subprocess.Popen(
            [sys.executable, "-m", "reviewrnn", "train", "--resume", str(directory)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        wait_for_epochs(directory, process, finished + 1)  # training again before the next kill
        seen = finished + 1
    process.kill()
    process.wait()
    print(f"{kills} SIGKILLs, all loadable; epochs on disk after each: {on_disk}")


def test_a_signal_while_the_corpus_is_read_stops_before_training_and_keeps_the_old_model(make_corpus, isolated_env):
    """Nothing is trained yet, so nothing is worth a checkpoint: the --force'd model stays as it was."""
    directory = isolated_env["models"] / "kept"
    train_step(CorpusSettings(str(make_corpus())), *tiny_configs(epochs=1), directory)
    before = {path.name: path.read_bytes() for path in directory.iterdir() if path.is_file()}

    def stage(message: str) -> None:
        if message == "encoding reviews":
            os.kill(os.getpid(), signal.SIGTERM)  # the handler sets its flag; the next stage stops the run

    with pytest.raises(TrainingInterrupted, match="^stopped before training began; nothing was written$") as caught:
        train_step(CorpusSettings(str(make_corpus())), *tiny_configs(epochs=1), directory, callbacks=Callbacks(stage))
    assert caught.value.exit_code == 143
    assert {path.name: path.read_bytes() for path in directory.iterdir() if path.is_file()} == before


def test_a_second_signal_stops_at_once_with_its_own_exit_code():
    from reviewrnn.interrupts import StopNow, StopOnSignals

    with StopOnSignals() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop() and stop.exit_code == 143
        with pytest.raises(StopNow) as caught:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs between bytecodes, before this ends
    assert caught.value.exit_code == 143


def test_the_cli_exits_as_the_second_signal_asks(capsys):
    import typer

    from reviewrnn.commands.common import friendly_errors
    from reviewrnn.interrupts import StopNow

    @friendly_errors
    def stopped_twice() -> None:
        raise StopNow(signal.SIGTERM)

    with pytest.raises(typer.Exit) as caught:
        stopped_twice()
    assert caught.value.exit_code == 143 and "interrupted: stopped by SIGTERM" in capsys.readouterr().err


def test_a_finished_run_extended_with_more_epochs_is_the_longer_run_bit_for_bit(make_corpus, isolated_env):
    settings = CorpusSettings(str(make_corpus()))
    configs = lambda epochs: tiny_configs(epochs=epochs, schedule="constant", patience=9)  # noqa: E731
    straight = isolated_env["models"] / "straight"
    train_step(settings, *configs(4), straight)
    extended = isolated_env["models"] / "extended"
    train_step(settings, *configs(2), extended)
    with pytest.raises(ReviewRNNError, match="already finished; train it further with .*--epochs N"):
        resume_step(extended)
    with pytest.raises(ReviewRNNError, match="is set to train 2 epochs; give more"):
        resume_step(extended, epochs=2)
    from typer.testing import CliRunner

    from reviewrnn.cli import app

    fewer = CliRunner().invoke(app, ["train", "--resume", str(extended), "--epochs", "1"])
    assert fewer.exit_code == 2 and "give more to extend it" in fewer.stderr  # a usage error, one line
    outcome = resume_step(extended, epochs=4)
    assert outcome.config.train.epochs == 4 and load_model(extended).config.train.epochs == 4
    ours, theirs = load_checkpoint(extended)[3], load_checkpoint(straight)[3]
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        assert np.array_equal(ours[name], value), name
    history = lambda directory: [  # noqa: E731
        {key: row[key] for key in ("epoch", "train_loss", "valid_accuracy")}
        for row in json.loads((directory / "history.json").read_text())
    ]
    assert history(extended) == history(straight) and len(history(straight)) == 4


def test_a_run_is_not_extended_where_it_would_not_be_the_longer_run(make_corpus, isolated_env):
    settings = CorpusSettings(str(make_corpus()))
    decayed = isolated_env["models"] / "decayed"
    train_step(settings, *tiny_configs(epochs=1, schedule="linear"), decayed)
    with pytest.raises(
        ReviewRNNError,
        match=r"decays over the 1 epoch\(s\) .*--schedule linear.*`reviewrnn train --epochs 3` with the settings in",
    ):
        resume_step(decayed, epochs=3)
    stopped = isolated_env["models"] / "stopped"
    train_step(settings, *tiny_configs(epochs=6, schedule="constant", lr=1e-9, patience=1), stopped)
    with pytest.raises(
        ReviewRNNError,
        match=r"had not improved for 1 epoch\(s\) \(--patience 1\), so a run of 9 epochs would have stopped there too",
    ):
        resume_step(stopped, epochs=9)
    with pytest.raises(ReviewRNNError, match=r"\(--patience 1\), so a run of 5 epochs"):  # not "give more": none helps
        resume_step(stopped, epochs=5)
    with pytest.raises(ReviewRNNError, match=r"already finished, stopped early by --patience") as finished:
        resume_step(stopped)  # a constant schedule, but --epochs would not help either: not advised
    assert "--epochs N" not in str(finished.value)


def test_an_interrupted_extension_leaves_the_model_as_usable_and_the_same_command_resumes_it(
    make_corpus, isolated_env, monkeypatch
):
    from reviewrnn import interrupts

    settings = CorpusSettings(str(make_corpus()))
    directory = isolated_env["models"] / "extended"
    train_step(settings, *tiny_configs(epochs=2, schedule="constant", patience=9), directory)
    from reviewrnn.scoring import evaluate_step

    evaluate_step(directory, device_name="cpu", threads=1)  # its TEST report, which compare reuses
    before = load_model(directory)
    files = {path.name for path in directory.iterdir()}
    assert {"domain.json", "seen.npy", "config.json", "eval.json"} <= files
    assert before.config.decision.temperature is not None
    calls = iter(range(10**9))
    monkeypatch.setattr(interrupts.StopOnSignals, "__call__", lambda self: next(calls) >= 2)
    with pytest.raises(TrainingInterrupted):
        resume_step(directory, epochs=4)  # stopped after two steps of epoch 3 (an epoch's checkpoint swapped in)
    after = load_model(directory)
    assert {path.name for path in directory.iterdir()} == files  # the domain profile and TEST report still there
    assert after.config.decision == before.config.decision  # so is the calibration
    assert all(np.array_equal(after.weights[name], value) for name, value in before.weights.items())
    monkeypatch.setattr(interrupts.StopOnSignals, "__call__", lambda self: False)
    outcome = resume_step(directory, epochs=4)  # the same command again: a plain resume, not a refusal
    assert outcome.config.train.epochs == 4 and len(json.loads((directory / "history.json").read_text())) == 4


def test_an_extension_stops_early_where_the_longer_run_would(make_corpus, isolated_env):
    """Patience carries over: the extended run ends at the epoch, and with the flag, of the straight one."""
    settings = CorpusSettings(str(make_corpus()))
    configs = lambda epochs: tiny_configs(epochs=epochs, schedule="constant", lr=0.05, patience=1)  # noqa: E731
    straight = isolated_env["models"] / "straight"
    long_run = train_step(settings, *configs(12), straight)
    finished = json.loads((straight / "history.json").read_text())
    assert long_run.stopped_early and len(finished) < 12  # the recipe does stop early (else the test says nothing)
    extended = isolated_env["models"] / "extended"
    train_step(settings, *configs(1), extended)
    outcome = resume_step(extended, epochs=12)
    assert (outcome.best_epoch, outcome.stopped_early) == (long_run.best_epoch, long_run.stopped_early)
    assert len(json.loads((extended / "history.json").read_text())) == len(finished)


def files_under(directory: Path) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes() for path in directory.rglob("*") if path.is_file()}


def test_a_forced_run_stopped_in_its_first_epoch_keeps_the_model_it_was_to_replace(
    make_corpus, isolated_env, monkeypatch
):
    """A new user's Ctrl-C during a `--force` run's first epoch left only a checkpoint where a model had been."""
    from reviewrnn.interrupts import StopOnSignals

    settings = CorpusSettings(str(make_corpus()))
    directory = isolated_env["models"] / "kept"
    train_step(settings, *tiny_configs(epochs=1), directory)
    before = files_under(directory)
    monkeypatch.setattr(StopOnSignals, "__call__", lambda self: True)  # a Ctrl-C at the first step boundary
    kept = "before its first epoch finished; .* still holds the model"
    with pytest.raises(TrainingInterrupted, match=kept) as caught:
        train_step(settings, *tiny_configs(epochs=2, seed=1), directory)
    assert caught.value.exit_code == 130
    assert files_under(directory) == before
    load_model(directory)
    fresh = isolated_env["models"] / "fresh"  # nothing to keep there: the checkpoint is saved, to resume from
    with pytest.raises(TrainingInterrupted, match="checkpoint saved in .*resume with: reviewrnn train --resume"):
        train_step(settings, *tiny_configs(epochs=2), fresh)
    assert load_checkpoint(fresh)[2]["history"] == []
