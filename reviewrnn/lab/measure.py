"""The study's measurements on its trained runs: lengths, both probes, gradient flow and clipping.

Each takes the plan, the saved models by run name and an optional stage(text) callback, and
returns the plain dicts that results.json keeps; none trains a review model or writes a file.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from reviewrnn.errors import ReviewRNNError
from reviewrnn.lab.plan import CELL_RUNS, PROBED_RUNS, StudyPlan, clipped_name, seed_name


def measure_lengths(plan: StudyPlan, models: dict[str, Path], stage=None, results=None) -> list[dict]:
    from reviewrnn.lab.compare import compare_models

    return [m.to_dict() for m in compare_models(list(models.values()), device="cpu", threads=plan.threads)]


def measure_filler(plan: StudyPlan, models: dict[str, Path], stage=None, results=None) -> dict:
    from reviewrnn.lab.probe import probe_with_filler

    try:
        curves = [
            probe_with_filler(models[name], plan.filler_distances, plan.filler_reviews, plan.short_max, plan.seed)
            for name in PROBED_RUNS
            if name in models
        ]
    except ReviewRNNError as error:  # a corpus without neutral sentences, say: the rest of the study stands
        return {"skipped": str(error), "curves": []}
    return {"skipped": None, "curves": [curve.to_dict() for curve in curves]}


def measure_synthetic(plan: StudyPlan, models: dict[str, Path], stage=None, results=None) -> dict:
    from reviewrnn.lab.probe import PROTOCOLS, probe_synthetic

    settings = dataclasses.replace(plan.synthetic, seed=plan.seed)
    results = {}
    for protocol in PROTOCOLS:
        curves = []
        for cell in CELL_RUNS:
            if stage:
                stage(f"synthetic task, {protocol}: {cell}")
            curves.append(probe_synthetic(cell, settings, protocol).to_dict())
        results[protocol] = curves
    return results


def measure_gradients(plan: StudyPlan, models: dict[str, Path], stage=None, results=None) -> list[dict]:
    """Gradient flow out to the longest TEST reviews: the `gradient_reviews` longest, cut to the shortest of them."""
    from reviewrnn.lab.gradients import measure_model
    from reviewrnn.lab.whole import gradient_length

    length = gradient_length(results["whole"], plan.gradient_reviews)
    flows = []
    for name in PROBED_RUNS:
        if name in models:
            flows += [flow.to_dict() for flow in measure_model(models[name], plan.gradient_reviews, length, plan.seed)]
    return flows


def measure_moves(plan: StudyPlan, models: dict[str, Path], stage=None, results=None) -> list[dict]:
    """The sentence move (lab/move.py) for every cell and seed read whole."""
    from reviewrnn.lab.move import move_probe

    moves = []
    for seed in (plan.seed, *(s for s in plan.seeds if s != plan.seed)):
        for cell in CELL_RUNS:
            name = seed_name(cell, seed, plan)
            if name in models:
                if stage:
                    stage(f"sentence move: {name}")
                moves.append(
                    move_probe(models[name], plan.move_reviews, plan.seed, name) | {"cell": cell, "seed": seed}
                )
    return moves


def seed_summary(plan: StudyPlan, results: dict) -> dict:
    """The cells over their seeds (lab/seeds.py): buckets, gaps and the ranking, each with its interval."""
    from reviewrnn.lab.seeds import summarise_cells

    models = {model["name"]: model for model in results["compare"]}
    seeds = (plan.seed, *(s for s in plan.seeds if s != plan.seed))
    runs = {cell: [models[seed_name(cell, seed, plan)] for seed in seeds if seed_name(cell, seed, plan) in models]
            for cell in CELL_RUNS}  # fmt: skip
    return summarise_cells({cell: chosen for cell, chosen in runs.items() if chosen})


def clipping_runs(plan: StudyPlan, results: dict) -> list[dict]:
    """The vanilla-RNN runs with and without clipping, with their recorded steps and TEST accuracy."""
    from reviewrnn.lab.clipping import ClipRun

    tested = {model["name"]: model["accuracy"] for model in results["compare"]}
    runs = []
    for seed in plan.clip_seeds:
        for clip in (0.0, 1.0):
            name = f"rnn-clip0-seed{seed}" if clip == 0.0 else clipped_name(plan, seed)
            record = results["runs"][name]
            run = ClipRun(
                name, clip, seed, record["losses"], record["grad_norms"], record["valid_accuracy"],
                record["diverged"], tested.get(name),
            )  # fmt: skip
            runs.append(run.to_dict())
    return runs


STAGES = (  # (name in results.json, measurement), in the order the study runs them
    ("compare", measure_lengths),
    ("moves", measure_moves),
    ("filler", measure_filler),
    ("synthetic", measure_synthetic),
    ("gradients", measure_gradients),
)
