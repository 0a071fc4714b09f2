"""results.json's plain dicts back into the lab's dataclasses, for charts and tables drawn after the fact."""

from __future__ import annotations

from reviewrnn.lab.clipping import ClipRun
from reviewrnn.lab.compare import ModelLengths
from reviewrnn.lab.gradients import GradientFlow
from reviewrnn.lab.probe import ProbeCurve


def length_models(results: dict) -> list[ModelLengths]:
    return [ModelLengths(**model) for model in results["compare"]]


def probe_curves(curves: list[dict]) -> list[ProbeCurve]:
    return [ProbeCurve(**curve) for curve in curves]


def flows(items: list[dict]) -> list[GradientFlow]:
    return [GradientFlow(**{k: v for k, v in item.items() if k != "decay_per_step"}) for item in items]


def clip_runs(items: list[dict]) -> list[ClipRun]:
    return [ClipRun(**{k: v for k, v in item.items() if k != "summary"}) for item in items]
