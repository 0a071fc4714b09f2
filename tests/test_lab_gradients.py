"""gradients: the stepwise forward equals the model, dLoss/dh_t equals a hand computation, decay summary, CLI."""

from __future__ import annotations

import itertools
import json
import math
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from reviewrnn.cli import app
from reviewrnn.config import CELLS, POOLS, ModelConfig
from reviewrnn.errors import ReviewRNNError
from reviewrnn.lab.gradients import decay_summary, gradient_norms, measure_model, stepwise_logits
from reviewrnn.model import RecurrentClassifier

ONE_WAY = {"bidirectional": False, "dropout": 0.0, "pool": "last"}  # spelled out: the tool's defaults may change


def two_step_rnn() -> RecurrentClassifier:
    """A tanh RNN with hidden size 2, fixed weights, pool=last."""
    model = RecurrentClassifier(ModelConfig(cell="rnn", vocab_size=3, embed=1, hidden=2, num_classes=2, **ONE_WAY))
    with torch.no_grad():
        model.embedding.weight.copy_(torch.tensor([[0.0], [0.5], [-1.0]]))
        layer = model.forward_layers[0]
        layer.weight_ih_l0.copy_(torch.tensor([[0.8], [-0.6]]))
        layer.weight_hh_l0.copy_(torch.tensor([[0.5, -0.3], [0.2, 0.9]]))
        layer.bias_ih_l0.copy_(torch.tensor([0.1, -0.2]))
        layer.bias_hh_l0.copy_(torch.tensor([0.05, 0.0]))
        model.head.weight.copy_(torch.tensor([[1.0, -2.0], [-0.5, 1.5]]))
        model.head.bias.copy_(torch.tensor([0.3, -0.1]))
    return model


def test_gradient_norms_match_a_hand_computation():
    model = two_step_rnn()
    got = gradient_norms(model, torch.tensor([[1, 2]]), torch.tensor([1]))
    # By hand: h1 = tanh(W x1 + b), h2 = tanh(W x2 + U h1 + b), logits = V h2 + c, loss = -log softmax[1].
    w, u, b = np.array([0.8, -0.6]), np.array([[0.5, -0.3], [0.2, 0.9]]), np.array([0.15, -0.2])
    v, c = np.array([[1.0, -2.0], [-0.5, 1.5]]), np.array([0.3, -0.1])
    h1 = np.tanh(w * 0.5 + b)
    h2 = np.tanh(w * -1.0 + u @ h1 + b)
    logits = v @ h2 + c
    p = np.exp(logits) / np.exp(logits).sum()
    d_h2 = v.T @ (p - np.array([0.0, 1.0]))  # dLoss/dh2 = V^T (p - y)
    d_h1 = u.T @ (d_h2 * (1 - h2**2))  # back through tanh and U: dLoss/dh1
    np.testing.assert_allclose(got, [np.linalg.norm(d_h2), np.linalg.norm(d_h1)], rtol=1e-5)


@pytest.mark.parametrize("cell,layers,pool", list(itertools.product(CELLS, (1, 2), POOLS)))
def test_stepwise_forward_equals_the_model(cell, layers, pool):
    torch.manual_seed(0)
    model = RecurrentClassifier(
        ModelConfig(cell=cell, vocab_size=20, embed=4, hidden=5, layers=layers, pool=pool, bidirectional=False)
    )
    model.eval()
    ids = torch.randint(1, 20, (3, 7))
    with torch.no_grad():
        expected = model(ids, torch.full((3,), 7))
        got, states = stepwise_logits(model, ids)
    assert len(states) == 7 and states[0].shape == (3, 5)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_total_derivative_includes_the_path_through_later_steps():
    """With pool=last only h_T feeds the head directly; earlier states get gradient only through the recurrence."""
    norms = gradient_norms(two_step_rnn(), torch.tensor([[1, 2, 1, 2]]), torch.tensor([0]))
    assert (norms > 0).all()


def test_decay_summary_of_a_geometric_decay():
    slope, vanish = decay_summary(0.9 ** np.arange(100))
    assert slope == pytest.approx(math.log(0.9)) and vanish == 66  # 0.9**65 = 1.06e-3, 0.9**66 = 9.6e-4
    assert decay_summary(np.ones(10)) == (pytest.approx(0.0, abs=1e-12), None)
    slope, vanish = decay_summary(np.array([1.0, 1e-2, 0.0, 0.0]))  # underflow to 0 is left out of the fit
    assert slope == pytest.approx(math.log(1e-2)) and vanish == 2


def test_bidirectional_models_are_refused(trained_model, pretrained_lm, tmp_path):
    model = RecurrentClassifier(ModelConfig(cell="gru", vocab_size=9, embed=2, hidden=2, bidirectional=True))
    with pytest.raises(ReviewRNNError, match="unidirectional"):
        stepwise_logits(model, torch.tensor([[1, 2]]))
    both_ways = tmp_path / "both-ways"  # a saved one is named, with the flag that trains the other kind
    shutil.copytree(trained_model, both_ways)
    config = json.loads((both_ways / "config.json").read_text())
    config["model"]["bidirectional"] = True
    (both_ways / "config.json").write_text(json.dumps(config))
    with pytest.raises(ReviewRNNError, match=f"^{both_ways}: bidirectional, .* train one with --no-bidirectional$"):
        measure_model(both_ways)
    with pytest.raises(ReviewRNNError, match="a language model, not a classifier; use reviewrnn train --init"):
        measure_model(pretrained_lm)  # said before its shape


def test_measure_a_saved_model(trained_model):
    trained, fresh = measure_model(trained_model, reviews=8, length=10)
    assert (trained.state, fresh.state) == ("trained", "init")
    assert trained.reviews == 8 and trained.length == 10 and len(trained.norms) == 10
    assert trained.norms != fresh.norms and trained.slope is not None
    assert 0 < trained.decay_per_step and trained.to_dict()["decay_per_step"] == trained.decay_per_step
    with pytest.raises(ReviewRNNError, match="smaller --length"):
        measure_model(trained_model, length=10_000)


def test_gradients_cli(trained_model, tmp_path):
    runner = CliRunner()
    args = ["gradients", str(trained_model), "--reviews", "4", "--length", "12", "--threads", "1"]
    flows = json.loads(runner.invoke(app, [*args, "--json"]).stdout)
    assert [flow["state"] for flow in flows] == ["trained", "init"] and len(flows[0]["norms"]) == 12
    human = runner.invoke(app, args)
    assert human.exit_code == 0 and "decay/step" in human.stdout and "tiny-gru" in human.stdout
    if pytest.importorskip("matplotlib"):
        png = tmp_path / "g.png"
        assert runner.invoke(app, [*args, "--png", png]).exit_code == 0 and png.stat().st_size > 1000
