"""train.py: clipping bounds the gradient the optimiser sees, training learns, seeds repeat, divergence stops."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from conftest import synthetic_reviews, tiny_configs

from reviewrnn import runtime
from reviewrnn.artifacts import load_model
from reviewrnn.averaging import WeightAverage
from reviewrnn.corpus import Examples
from reviewrnn.data import encode_set
from reviewrnn.errors import ReviewRNNError
from reviewrnn.model import RecurrentClassifier, predict_probabilities
from reviewrnn.runs import train_step
from reviewrnn.source import CorpusSettings
from reviewrnn.splits import split_corpus
from reviewrnn.tokenizer import train_tokenizer
from reviewrnn.train import train_model

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def encoded():
    """TRAIN/VALID/TEST encoded sets of a 1200-review synthetic corpus, and a matching tokenizer size."""
    rows = synthetic_reviews(1200, seed=11)
    examples = Examples([t for t, _ in rows], [int(label == "positive") for _, label in rows])
    split = split_corpus(examples)
    _, _, tokenizer_config = tiny_configs()
    tokenizer = train_tokenizer(split.train.texts, tokenizer_config)
    sets = {
        name: encode_set(tokenizer, part.texts, part.labels, 64, "head")
        for name, part in (("train", split.train), ("valid", split.valid), ("test", split.test))
    }
    return sets, tokenizer.get_vocab_size()


def fit(encoded, seed=0, **overrides):
    sets, vocab_size = encoded
    model_config, train_config, _ = tiny_configs(seed=seed, **overrides)
    model_config.vocab_size = vocab_size
    rng = runtime.seed_everything(train_config.seed)
    model = RecurrentClassifier(model_config)
    result = train_model(model, sets["train"], sets["valid"], train_config, CPU, rng)
    return model, result


def accuracy(model, encoded_set) -> float:
    probabilities = predict_probabilities(model, encoded_set, 64, CPU)
    return float((probabilities.argmax(1) == encoded_set.labels).mean())


class RecordingAdam(torch.optim.Adam):
    """Adam that records the norm of the gradient it is about to apply."""

    applied: list[float] = []

    def step(self, closure=None):
        grads = [
            p.grad.detach().flatten() for group in self.param_groups for p in group["params"] if p.grad is not None
        ]
        RecordingAdam.applied.append(float(torch.cat(grads).norm()))
        return super().step(closure)


@pytest.fixture
def recording_adam(monkeypatch):
    RecordingAdam.applied = []
    monkeypatch.setattr(torch.optim, "Adam", RecordingAdam)
    return RecordingAdam.applied


def test_clipping_bounds_the_gradient_the_optimiser_applies(encoded, recording_adam):
    clip = 0.05
    _, result = fit(encoded, epochs=1, cell="rnn", clip_norm=clip)
    epoch = result.history[0]
    assert len(recording_adam) == len(epoch.step_grad_norms) > 10
    assert max(recording_adam) <= clip * (1 + 1e-4)
    raw = np.array(epoch.step_grad_norms)  # the history keeps the norm before clipping
    assert (raw > clip).any()
    assert epoch.clipped_share == pytest.approx((raw > clip).mean())
    assert epoch.clipped_share > 0
    assert epoch.grad_norm_max == pytest.approx(raw.max())
    for before, after in zip(raw, recording_adam):
        assert after == pytest.approx(min(before, clip), rel=1e-3)


def test_clip_norm_zero_turns_clipping_off(encoded, recording_adam):
    _, result = fit(encoded, epochs=1, cell="rnn", clip_norm=0.0)
    epoch = result.history[0]
    assert epoch.clipped_share == 0.0
    np.testing.assert_allclose(recording_adam, epoch.step_grad_norms, rtol=1e-4)
    assert max(recording_adam) > 0.05  # so the clipped run above really had something to clip


def test_a_gru_learns_the_synthetic_corpus(encoded):
    sets, _ = encoded
    model, result = fit(encoded, epochs=6, cell="gru")
    assert result.diverged is None
    assert result.best_valid_accuracy > 0.95
    assert result.history[0].train_loss > result.history[-1].train_loss
    model.load_state_dict(result.best_state)
    assert accuracy(model, sets["valid"]) == pytest.approx(result.best_valid_accuracy)
    assert accuracy(model, sets["test"]) > 0.95


def test_weight_average_follows_its_formula_and_swaps_back():
    weight = torch.nn.Parameter(torch.tensor([0.0, 4.0]))
    average = WeightAverage([weight], decay=0.5)
    expected = weight.detach().clone()
    for updates, new in enumerate(([2.0, 2.0], [4.0, 0.0], [8.0, 8.0])):
        weight.data = torch.tensor(new)
        decay = min(0.5, (1 + updates) / (10 + updates))  # 0.1, 0.18..., then capped at 0.5 from the 3rd
        expected = decay * expected + (1 - decay) * torch.tensor(new)
        average.update(updates)
        assert torch.allclose(average.values[0], expected)
    with average.applied():
        assert torch.equal(weight.detach(), average.values[0])
    assert weight.detach().tolist() == [8.0, 8.0]


def test_ema_saves_and_validates_the_average_without_changing_training(encoded):
    sets, _ = encoded
    _, plain = fit(encoded, seed=2, epochs=2, cell="gru")
    _, barely = fit(encoded, seed=2, epochs=2, cell="gru", ema=1e-9)  # the average is the last weights
    model, averaged = fit(encoded, seed=2, epochs=2, cell="gru", ema=0.9)
    for other in (barely, averaged):  # the trajectory itself never sees the average
        assert [e.step_losses for e in other.history] == [e.step_losses for e in plain.history]
    for name, tensor in plain.best_state.items():
        torch.testing.assert_close(barely.best_state[name], tensor, rtol=0, atol=1e-5)
    assert any(not torch.allclose(averaged.best_state[n], plain.best_state[n]) for n in plain.best_state)
    model.load_state_dict(averaged.best_state)  # the saved weights are the ones validation scored
    assert accuracy(model, sets["valid"]) == pytest.approx(averaged.best_valid_accuracy)


def test_same_seed_gives_identical_weights(encoded):
    _, first = fit(encoded, seed=3, epochs=2, cell="lstm")
    _, second = fit(encoded, seed=3, epochs=2, cell="lstm")
    _, other = fit(encoded, seed=4, epochs=2, cell="lstm")
    assert first.best_state.keys() == second.best_state.keys()
    for name in first.best_state:
        assert torch.equal(first.best_state[name], second.best_state[name]), name
    assert any(not torch.equal(first.best_state[n], other.best_state[n]) for n in first.best_state)
    assert [e.train_loss for e in first.history] == [e.train_loss for e in second.history]


def test_history_and_best_epoch(encoded):
    steps, epochs = [], []
    sets, vocab_size = encoded
    model_config, train_config, _ = tiny_configs(epochs=3, cell="gru")
    model_config.vocab_size = vocab_size
    model = RecurrentClassifier(model_config)
    result = train_model(
        model, sets["train"], sets["valid"], train_config, CPU, runtime.seed_everything(0), steps.append, epochs.append
    )
    per_epoch = math.ceil(len(sets["train"]) / train_config.batch_size)
    assert len(steps) == 3 * per_epoch and len(epochs) == len(result.history) == 3
    assert [s.step for s in steps[:per_epoch]] == list(range(1, per_epoch + 1))
    assert all(s.steps == per_epoch for s in steps)
    best = max(result.history, key=lambda e: e.valid_accuracy)
    assert result.best_valid_accuracy == best.valid_accuracy
    assert result.history[result.best_epoch - 1].improved
    for report in result.history:
        assert 0.0 <= report.valid_accuracy <= 1.0 and report.valid_loss > 0
        assert len(report.step_losses) == len(report.step_grad_norms) == per_epoch
        assert report.to_dict()["epoch"] == report.epoch


def test_validation_on_cpu_runs_predicts_numpy_pass_and_agrees_with_torch(encoded, engine_threads):
    """Each epoch's VALID accuracy and loss come from fastforward.py (faster than torch's forward on CPU),
    on training's thread count, with its workers ended after each epoch; they are torch's to float32 rounding."""
    import threading

    engines = engine_threads
    torch.set_num_threads(2)
    before = threading.active_count()
    model, result = fit(encoded, epochs=3, cell="lstm", threads=2)
    assert engines == [2, 2, 2] and threading.active_count() == before
    last = result.history[-1]
    sets, _ = encoded
    reference = predict_probabilities(model, sets["valid"], 64, CPU)  # the last epoch's weights, through torch
    labels = np.asarray(sets["valid"].labels)
    assert last.valid_accuracy == float((reference.argmax(1) == labels).mean())
    loss = float(-np.log(np.clip(reference[np.arange(len(labels)), labels], 1e-12, 1.0)).mean())
    assert last.valid_loss == pytest.approx(loss, abs=1e-6)


def test_early_stopping_when_validation_stops_improving(encoded):
    _, result = fit(encoded, epochs=10, patience=1, lr=1e-12)
    assert result.stopped_early
    assert len(result.history) == 2 and result.best_epoch == 1


def test_predict_probabilities_keeps_the_set_order(encoded):
    sets, _ = encoded
    model, _ = fit(encoded, epochs=1)
    subset = sets["test"].subset(20)
    together = predict_probabilities(model, subset, 7, CPU)
    assert together.shape == (20, 2)
    np.testing.assert_allclose(together.sum(1), 1.0, rtol=1e-6)
    for i in range(20):
        one = predict_probabilities(
            model, type(subset)([subset.ids[i]], subset.full_lengths[i : i + 1], subset.labels[i : i + 1]), 1, CPU
        )
        np.testing.assert_allclose(together[i], one[0], atol=1e-6)


class NaNLossAfter:
    """Cross-entropy that turns NaN after `good_steps` calls (patched into the training loop)."""

    good_steps = 0
    calls = 0
    real = staticmethod(torch.nn.functional.cross_entropy)

    @staticmethod
    def __call__(logits, target, **options):
        NaNLossAfter.calls += 1
        loss = NaNLossAfter.real(logits, target, **options)
        return loss * float("nan") if NaNLossAfter.calls > NaNLossAfter.good_steps else loss


@pytest.fixture
def nan_loss(monkeypatch):
    def arm(good_steps: int):
        NaNLossAfter.good_steps, NaNLossAfter.calls = good_steps, 0
        monkeypatch.setattr(torch.nn.functional, "cross_entropy", NaNLossAfter())

    return arm


def test_divergence_returns_one_line_and_never_steps_on_nan(encoded, nan_loss):
    nan_loss(0)
    model, result = fit(encoded, epochs=2)
    assert result.diverged is not None
    assert "\n" not in result.diverged
    assert "training diverged at epoch 1, step 1" in result.diverged and "--lr" in result.diverged
    assert result.best_state is None and result.history == []
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_divergence_through_train_step_saves_nothing(make_corpus, nan_loss, isolated_env):
    nan_loss(0)
    directory = isolated_env["models"] / "diverged"
    with pytest.raises(ReviewRNNError) as caught:
        train_step(CorpusSettings(str(make_corpus())), *tiny_configs(epochs=2), directory)
    assert "training diverged" in str(caught.value) and "\n" not in str(caught.value)
    assert "is saved" not in str(caught.value)
    assert not directory.exists()
    assert not isolated_env["models"].exists() or list(isolated_env["models"].iterdir()) == []


def test_divergence_after_a_good_epoch_keeps_the_good_epoch(make_corpus, nan_loss, isolated_env):
    corpus = make_corpus()
    _, train_config, _ = tiny_configs()
    rows = synthetic_reviews(300)
    train_size = len(split_corpus(Examples([t for t, _ in rows], [0] * len(rows))).train)
    nan_loss(math.ceil(train_size / train_config.batch_size) + 1)  # NaN at epoch 2, step 2
    directory = isolated_env["models"] / "half"
    with pytest.raises(ReviewRNNError) as caught:
        train_step(CorpusSettings(str(corpus)), *tiny_configs(epochs=3), directory)
    message = str(caught.value)
    assert "training diverged at epoch 2, step 2" in message
    assert f"the best epoch (1) is saved in {directory}" in message and "\n" not in message
    loaded = load_model(directory)  # checks every tensor is finite
    assert all(np.isfinite(w).all() for w in loaded.weights.values())
    history = json.loads((directory / "history.json").read_text())
    assert [epoch["epoch"] for epoch in history] == [1, 2]
    assert history[1]["diverged"] in message and len(history[1]["step_losses"]) == 1  # the good step before NaN
    from reviewrnn.lab.clipping import run_from_model

    run = run_from_model(directory)
    assert run.diverged == history[1]["diverged"] and len(run.losses) == len(history[0]["step_losses"]) + 1


def test_huge_learning_rate_without_clipping_diverges_and_never_saves_a_nan_model(make_corpus, isolated_env):
    directory = isolated_env["models"] / "wild"
    settings = tiny_configs(epochs=2, lr=1e37, clip_norm=0.0, cell="rnn")
    with pytest.raises(ReviewRNNError, match="training diverged at epoch 1") as caught:
        train_step(CorpusSettings(str(make_corpus())), *settings, directory)
    assert "\n" not in str(caught.value)
    assert not directory.exists()
