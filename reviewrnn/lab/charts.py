"""PNG charts of the lab's results, with matplotlib as an optional extra (`pip install -e '.[plots]'`).

Plain values (the dicts of --json and results.json) in, a file out. matplotlib is imported only
when a chart is asked for, so the rest of the tool, the terminal rendering included, never needs it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reviewrnn.calibration_chart import INSTALL_HINT
from reviewrnn.errors import ReviewRNNError
from reviewrnn.render import bucket_name

DPI = 120
SMOOTH_STEPS = 25  # moving-average window for loss curves; the raw steps are drawn faintly behind
SEED_STYLES = ("-", "--", ":", "-.")  # clipping runs: colour = clipping setting, line style = seed


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend, or one clear error saying how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise ReviewRNNError(INSTALL_HINT) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    pyplot().close(figure)
    return path


def length_chart(models: list[dict], path: Path, title: str = "Test accuracy by review length") -> Path:
    """Accuracy per length bucket for each model, 95% intervals as error bars, the truncation cut marked."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.5))
    positions = np.arange(len(models[0]["rows"]))
    width = 0.8 / len(models)
    for index, model in enumerate(models):
        rows = model["rows"]
        shown = [i for i, row in enumerate(rows) if row["count"]]
        x = positions[shown] + (index - (len(models) - 1) / 2) * width
        y = np.array([rows[i]["accuracy"] for i in shown])
        errors = np.array([[y[j] - rows[i]["ci_low"], rows[i]["ci_high"] - y[j]] for j, i in enumerate(shown)]).T
        axis.errorbar(x, y, yerr=errors, marker="o", capsize=3, label=model["name"])
    for limit in sorted({model["max_tokens"] for model in models}):
        first_cut = next((i for i, row in enumerate(models[0]["rows"]) if row["low"] > limit), None)
        if first_cut is not None:
            axis.axvline(first_cut - 0.5, color="grey", linestyle=":", linewidth=1)
            axis.annotate(f"cut at {limit} tokens →", (first_cut - 0.45, 0.02), xycoords=("data", "axes fraction"))
    axis.set_xticks(positions, [bucket_name(row) for row in models[0]["rows"]])
    axis.set_xlabel("review length (tokens)")
    axis.set_ylabel("accuracy")
    axis.set_title(title)
    axis.grid(axis="y", alpha=0.3)
    axis.legend()
    return _save(figure, path)


def probe_chart(curves: list[dict], path: Path, title: str) -> Path:
    """Accuracy against the distance d of the evidence from the end, one line per model or cell."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.5))
    distances = curves[0]["rows"]
    positions = np.arange(len(distances))
    for curve in curves:
        y = np.array([row["accuracy"] for row in curve["rows"]])
        low = np.array([row["ci_low"] for row in curve["rows"]])
        high = np.array([row["ci_high"] for row in curve["rows"]])
        (line,) = axis.plot(positions, y, marker="o", label=curve["name"])
        axis.fill_between(positions, low, high, color=line.get_color(), alpha=0.15)
        if "memory" in curve["rows"][0]:  # the filler probe: the review's own push, the filler's pull taken out
            memory = [row["memory"]["accuracy"] for row in curve["rows"]]
            axis.plot(positions, memory, "--", marker=".", color=line.get_color(), label=f"{curve['name']} memory")
    axis.axhline(0.9, color="grey", linestyle="--", linewidth=1)
    axis.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    axis.annotate("90%", (positions[-1], 0.905), ha="right")
    axis.annotate("chance", (positions[-1], 0.505), ha="right")
    axis.set_xticks(positions, [str(row["distance"]) for row in distances])
    axis.set_xlabel("distance d from the evidence to the end (tokens)")
    axis.set_ylabel("accuracy (dashed: memory)" if "memory" in distances[0] else "accuracy")
    axis.set_ylim(0.3, 1.02)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    return _save(figure, path)


def gradient_chart(flows: list[dict], path: Path, title: str = "Gradient reaching each hidden state") -> Path:
    """Mean ||dLoss/dh_t|| against distance from the last token on a log scale; trained solid, initial dashed."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.5))
    colours = {}
    for flow in flows:
        norms = np.asarray(flow["norms"], dtype=float)
        norms = np.where(norms > 0, norms, np.nan)  # log scale: an exact zero (underflow) is left out
        colour = colours.setdefault(flow["name"], f"C{len(colours)}")
        style = "-" if flow["state"] == "trained" else "--"
        axis.plot(np.arange(len(norms)), norms, style, color=colour, label=f"{flow['name']} ({flow['state']})")
    axis.set_yscale("log")
    axis.set_xlabel("distance from the last token (steps)")
    axis.set_ylabel("mean ||dLoss/dh_t||")
    axis.set_title(title)
    axis.grid(alpha=0.3, which="both")
    axis.legend(fontsize="small")
    return _save(figure, path)


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    if len(values) < window:
        return values
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


CELL_NAMES = {"rnn": "Vanilla RNN", "gru": "GRU", "lstm": "LSTM"}


def clipping_chart(runs: list[dict], path: Path, title: str | None = None) -> Path:
    """Loss (top) and pre-clip gradient norm (bottom, log) per step; one colour per clipping setting.
    The default title names the runs' cells (a results.json from before runs named theirs: the study's RNN)."""
    if title is None:
        cells = dict.fromkeys(CELL_NAMES.get(run.get("cell", "rnn"), run.get("cell")) for run in runs)
        title = f"{', '.join(cells)} with and without gradient clipping"
    plt = pyplot()
    figure, (loss_axis, norm_axis) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
    colours, styles = {}, {}
    for run in runs:
        clip, seed = run["clip_norm"], run["seed"]
        colour = colours.setdefault(clip, f"C{len(colours)}")
        style = styles.setdefault(seed, SEED_STYLES[len(styles) % len(SEED_STYLES)])
        label = f"clip {clip:g} seed {seed}" if clip else f"no clipping, seed {seed}"
        losses, norms = np.asarray(run["losses"], dtype=float), np.asarray(run["grad_norms"], dtype=float)
        steps = np.arange(1, len(losses) + 1)
        loss_axis.plot(steps, losses, color=colour, alpha=0.12, linewidth=0.6)
        smooth = _moving_average(losses, max(1, min(SMOOTH_STEPS, len(losses) // 10)))
        loss_axis.plot(steps[len(steps) - len(smooth) :], smooth, style, color=colour, linewidth=1.2, label=label)
        norm_axis.plot(steps, norms, style, color=colour, alpha=0.7, linewidth=0.6, label=label)
        if run["diverged"]:
            loss_axis.axvline(len(losses) + 1, color=colour, linestyle=":")
    if any(run["clip_norm"] for run in runs):
        for limit in sorted({run["clip_norm"] for run in runs if run["clip_norm"]}):
            norm_axis.axhline(limit, color="grey", linestyle="--", linewidth=1)
    loss_axis.set_ylabel(f"training loss (moving average, up to {SMOOTH_STEPS} steps)")
    norm_axis.set_ylabel("gradient norm before clipping")
    norm_axis.set_yscale("log")
    norm_axis.set_xlabel("training step")
    loss_axis.set_title(title)
    for axis in (loss_axis, norm_axis):
        axis.grid(alpha=0.3)
    loss_axis.legend(fontsize="small")
    return _save(figure, path)


LENGTH_TITLES = {
    "cells": "Test accuracy by review length, one budget per cell",
    "pooling": "Vanilla RNN: last state against mean and max pooling",
    "truncation": "Vanilla RNN: keeping the first (head) or last (tail) max_tokens",
}


def band_chart(series: dict[str, list[tuple]], labels: list[str], path: Path, title: str, xlabel: str) -> Path:
    """One line per cell through the seed means, shaded from the lowest to the highest seed."""
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.5))
    positions = np.arange(len(labels))
    for name, points in series.items():
        mean, low, high = (np.array(column, dtype=float) for column in zip(*points))
        (line,) = axis.plot(positions, mean, marker="o", label=name)
        axis.fill_between(positions, low, high, color=line.get_color(), alpha=0.15)
    axis.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    axis.set_xticks(positions, labels)
    axis.set_xlabel(xlabel)
    axis.set_ylabel("accuracy (line: seed mean; band: min–max over seeds)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    return _save(figure, path)


def seed_charts(results: dict, out: Path) -> dict[str, Path]:
    """Accuracy by length over seeds, and the sentence move's accuracy by distance over seeds."""
    from reviewrnn.lab.move import distance_name

    drawn, cells = {}, (results.get("seeds") or {}).get("cells") or []
    if cells:
        series = {c["cell"]: [(b["mean"], b["min"], b["max"]) for b in c["buckets"]] for c in cells}
        labels = [bucket_name(bucket) for bucket in cells[0]["buckets"]]
        title = "Test accuracy by review length, read whole"
        drawn["length-seeds"] = band_chart(series, labels, out / "length-seeds.png", title, "review length (tokens)")
    moves = results.get("moves") or []
    filled = [i for i, row in enumerate(moves[0]["rows"]) if all(m["rows"][i]["count"] for m in moves)] if moves else []
    if filled:
        series = {}
        for move in moves:
            series.setdefault(move["cell"], []).append([move["rows"][i]["accuracy"] for i in filled])
        series = {cell: [(np.mean(v), min(v), max(v)) for v in zip(*runs)] for cell, runs in series.items()}
        labels = [distance_name(moves[0]["rows"][i]) for i in filled]
        title = "The decisive sentence moved: accuracy by the review's own tokens after it"
        drawn["move"] = band_chart(series, labels, out / "move.png", title, "tokens between the sentence and the end")
    return drawn


def study_charts(results: dict, out: Path) -> dict[str, str]:
    """Every chart of a study's REPORT.md as a PNG in `out`; returns {chart: file name}."""
    from reviewrnn.lab.plan import LENGTH_GROUPS

    models = {model["name"]: model for model in results["compare"]}
    drawn = seed_charts(results, out)
    for group, names in LENGTH_GROUPS.items():
        chosen = [models[name] for name in names if name in models]
        if chosen:
            drawn[f"length-{group}"] = length_chart(chosen, out / f"length-{group}.png", LENGTH_TITLES[group])
    if results["filler"]["curves"]:
        title = "Filler probe: short reviews + d neutral tokens"
        drawn["probe-filler"] = probe_chart(results["filler"]["curves"], out / "probe-filler.png", title)
    for protocol, curves in results["synthetic"].items():
        title = f"Synthetic task ({protocol}): one polarity token d steps before the end"
        drawn[f"probe-synthetic-{protocol}"] = probe_chart(curves, out / f"probe-synthetic-{protocol}.png", title)
    if results["gradients"]:
        drawn["gradients"] = gradient_chart(results["gradients"], out / "gradients.png")
    if results["clipping"]:
        drawn["clipping"] = clipping_chart(results["clipping"], out / "clipping.png")
    return {key: path.name for key, path in drawn.items()}
