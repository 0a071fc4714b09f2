"""Exploding gradients and clipping: what happened in runs that differ only in --clip-norm.

A run is its per-step training loss and gradient norm *before* clipping (what training records),
plus its validation accuracy per epoch. From a saved model they come from history.json (which ends
with the steps of an epoch that diverged, when one did); the study records them itself through the
training callbacks.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from reviewrnn.errors import ReviewRNNError

SPIKE_FACTOR = 10.0  # a spike: a gradient norm this many times the median of the steps just before it
SPIKE_WINDOW = 50
REFERENCE_CLIP = 1.0  # "would have been clipped": share of steps above this, reported for every run
TAIL_STEPS = 50  # the final loss is the mean over this many last steps


@dataclass
class ClipRun:
    name: str
    clip_norm: float  # 0 = off
    seed: int
    losses: list[float] = field(repr=False)
    grad_norms: list[float] = field(repr=False)  # before clipping
    valid_accuracy: list[float] = field(default_factory=list)  # per finished epoch
    diverged: str | None = None
    test_accuracy: float | None = None
    cell: str = "rnn"  # the chart's title names it; the study's clipping runs are vanilla RNNs

    def to_dict(self) -> dict:
        return asdict(self) | {"summary": summarise(self)}


def spike_steps(norms: np.ndarray, factor: float = SPIKE_FACTOR, window: int = SPIKE_WINDOW) -> list[int]:
    """1-based steps whose norm exceeds `factor` x the median of the previous `window` steps (from step 11 on)."""
    found = []
    for index in range(10, len(norms)):
        before = norms[max(0, index - window) : index]
        if norms[index] > factor * np.median(before):
            found.append(index + 1)
    return found


def summarise(run: ClipRun) -> dict:
    """What the run did: norms, spikes, non-finite values, divergence, final loss and accuracy."""
    norms, losses = np.asarray(run.grad_norms, dtype=float), np.asarray(run.losses, dtype=float)
    finite = norms[np.isfinite(norms)]
    return {
        "steps": len(norms),
        "grad_norm_max": float(finite.max()) if len(finite) else None,
        "grad_norm_median": float(np.median(finite)) if len(finite) else None,
        "spikes": len(spike_steps(finite)),
        "above_reference": float((finite > REFERENCE_CLIP).mean()) if len(finite) else None,
        "non_finite": int((~np.isfinite(norms)).sum() + (~np.isfinite(losses)).sum()) + bool(run.diverged),
        "final_loss": float(np.mean(losses[-TAIL_STEPS:])) if len(losses) else None,
        "best_valid_accuracy": max(run.valid_accuracy) if run.valid_accuracy else None,
        "final_valid_accuracy": run.valid_accuracy[-1] if run.valid_accuracy else None,
        "test_accuracy": run.test_accuracy,
        "diverged": run.diverged,
    }


def run_from_model(directory: Path) -> ClipRun:
    """A saved model's run from its config.json, history.json and, when it scored TEST, eval.json."""
    from reviewrnn.artifacts import load_config

    directory = Path(directory)
    config = load_config(directory)
    try:
        history = json.loads((directory / "history.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise ReviewRNNError(
            f"{directory / 'history.json'}: missing or unreadable; it is written by training"
        ) from None
    losses = [loss for epoch in history for loss in epoch.get("step_losses", [])]
    norms = [norm for epoch in history for norm in epoch.get("step_grad_norms", [])]
    valid = [epoch["valid_accuracy"] for epoch in history if math.isfinite(epoch.get("valid_accuracy", math.nan))]
    diverged = next((epoch["diverged"] for epoch in history if epoch.get("diverged")), None)
    return ClipRun(
        directory.name,
        config.train.clip_norm,
        config.train.seed,
        losses,
        norms,
        valid,
        diverged,
        _test_accuracy(directory),
        config.model.cell,
    )


def _test_accuracy(directory: Path) -> float | None:
    try:
        report = json.loads((directory / "eval.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report.get("accuracy") if report.get("split") == "test" else None


class StepRecorder:
    """Training callbacks that keep every step's loss and pre-clip gradient norm, and each epoch's accuracy."""

    def __init__(self, on_step=None, on_epoch=None):
        self.losses: list[float] = []
        self.grad_norms: list[float] = []
        self.valid_accuracy: list[float] = []
        self._on_step, self._on_epoch = on_step, on_epoch

    def step(self, report) -> None:
        self.losses.append(float(report.loss))
        self.grad_norms.append(float(report.grad_norm))
        if self._on_step:
            self._on_step(report)

    def epoch(self, report) -> None:
        self.valid_accuracy.append(float(report.valid_accuracy))
        if self._on_epoch:
            self._on_epoch(report)

    def record(self) -> dict:
        return {"losses": self.losses, "grad_norms": self.grad_norms, "valid_accuracy": self.valid_accuracy}
