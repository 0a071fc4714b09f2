"""The lab's tables, each built once from plain results (the dicts of --json and results.json).

Every table here is a rows.Table: the commands draw it with rows.to_rich, REPORT.md with
rows.to_markdown, so the two can never show different numbers or labels.
"""

from __future__ import annotations

from reviewrnn.lab.clipping import REFERENCE_CLIP, SPIKE_FACTOR, TAIL_STEPS
from reviewrnn.lab.rows import Cell, Column, Table
from reviewrnn.render import bucket_name

MISSING = Cell("-", style="dim")
GRADIENT_DISTANCES = (1, 4, 16, 64, 256, 1024)
STRONG_ACCURACY = 0.9  # probe cells at or above this are bold: the span's level


def _maybe(value, form: str) -> Cell:
    return MISSING if value is None else Cell(format(value, form))


def length_table(models: list[dict]) -> Table:
    """Buckets down, models across; each cell: accuracy, its 95% interval and the count; ✂ = truncated reviews."""
    rows = []
    for index, bucket in enumerate(models[0]["rows"]):
        cells = [model["rows"][index] for model in models]
        if any(row["count"] for row in cells):  # a bucket no test review falls in is left out
            rows.append([Cell(bucket_name(bucket)), *(_length_cell(row) for row in cells)])
    return Table(
        "Test accuracy by length (tokens); ✂ = reviews cut at max_tokens",
        [Column("tokens", left=True), *(Column(model["name"]) for model in models)],
        rows,
    )


def _length_cell(row: dict) -> Cell:
    if not row["count"]:
        return MISSING
    cut = " ✂" if row.get("cut") else ""
    return Cell(f"{row['accuracy']:.1%}{cut}", f"{row['ci_low']:.1%}–{row['ci_high']:.1%} · n={row['count']}")


def points(low: float, high: float) -> str:
    return f"[{low * 100:+.1f}, {high * 100:+.1f}]"


def _gap_cell(gap: dict | None) -> Cell:
    if not gap:
        return MISSING
    return Cell(f"{gap['difference'] * 100:+.1f} {points(gap['ci_low'], gap['ci_high'])}", strong=gap["clear"])


def gap_table(models: list[dict]) -> Table:
    """Per model: shortest minus longest bucket in points, over all buckets and over those read whole."""
    columns = [Column("model", left=True), Column("cell / pool / keep", left=True), Column("test accuracy")]
    columns += [Column("gap, all"), Column("gap, read whole"), Column("longest whole")]
    rows = []
    for model in models:
        whole = model["gap_read_whole"]
        rows.append(
            [
                Cell(model["name"]),
                Cell(f"{model['cell']} / {model['pool']} / {model['truncate']}"),
                Cell(f"{model['accuracy']:.1%}"),
                _gap_cell(model["gap"]),
                _gap_cell(whole),
                Cell(bucket_name(whole["long"])) if whole else MISSING,
            ]
        )
    title = "Shortest minus longest bucket, points [95% interval]; bold: the interval excludes 0"
    return Table(title, columns, rows)


def gradient_table(flows: list[dict]) -> Table:
    """Per model and state: the gradient at the last token, the share left further back, the decay rate."""
    length = max(len(flow["norms"]) for flow in flows)
    distances = [d for d in GRADIENT_DISTANCES if d < length]
    rows = []
    for flow in flows:
        norms, first = flow["norms"], flow["norms"][0]
        shares = [Cell(f"{norms[d] / first:.1e}") if first and d < len(norms) else MISSING for d in distances]
        vanish = flow["vanish_distance"]
        rows.append(
            [Cell(flow["name"]), Cell(flow["state"]), Cell(f"{first:.2e}"), *shares,
             _maybe(flow["decay_per_step"], ".4f"), Cell(str(vanish) if vanish is not None else f"> {len(norms) - 1}")]
        )  # fmt: skip
    columns = [Column("model", left=True), Column("state", left=True), Column("at 0")]
    columns += [Column(f"at {d}") for d in distances] + [Column("decay/step"), Column("< 1e-3 from")]
    title = "Gradient reaching h_t: ||dLoss/dh_t|| at the last token, then as a share of it"
    return Table(title, columns, rows)


def clipping_table(runs: list[dict]) -> Table:
    """One row per run: gradient norms before clipping, spikes, divergence, final loss and accuracy."""
    rows = []
    for run in runs:
        s = run["summary"]
        outcome = Cell("diverged", style="bold red") if s["diverged"] else Cell("ok")
        rows.append(
            [Cell(run["name"]), Cell(f"{run['clip_norm']:g}" if run["clip_norm"] else "off"), Cell(str(run["seed"])),
             Cell(str(s["steps"])), _maybe(s["grad_norm_max"], ".3g"), _maybe(s["grad_norm_median"], ".3g"),
             _maybe(s["above_reference"], ".0%"), Cell(str(s["spikes"])), _maybe(s["final_loss"], ".3f"),
             _maybe(s["best_valid_accuracy"], ".1%"), _maybe(s["test_accuracy"], ".1%"), outcome]
        )  # fmt: skip
    columns = [Column("run", left=True), Column("clip"), Column("seed"), Column("steps", terminal=False)]
    columns += [Column("max norm"), Column("median norm", terminal=False), Column(f"> {REFERENCE_CLIP:g}")]
    columns += [Column("spikes"), Column("loss"), Column("valid"), Column("test")]
    notes = [f"{run['name']}: {run['summary']['diverged']}" for run in runs if run["summary"]["diverged"]]
    title = (
        f"Clipping. Norms are before clipping; > {REFERENCE_CLIP:g}: share of steps above it; spike: a step "
        f"> {SPIKE_FACTOR:g}x the median before it; loss: mean of the last {TAIL_STEPS} steps"
    )
    return Table(title, [*columns, Column("", left=True)], rows, notes=notes)


def probe_table(curves: list[dict], title: str) -> Table:
    """Distances down, models or cells across: accuracy (and for the filler probe, memory), span and chance."""
    memory = all(_has_memory(curve) for curve in curves)
    columns, span, chance = [Column("d")], [Cell("span ≥90%")], [Cell("chance from")]
    for curve in curves:
        columns.append(Column(curve["name"]))
        span.append(_distance_cell(curve["span"], "none"))
        chance.append(_distance_cell(curve["chance"], "-"))
        if memory:
            columns.append(Column(f"{curve['name']} memory"))
            span.append(_distance_cell(curve["memory_span"], "none"))
            chance.append(_distance_cell(curve["memory_chance"], "-"))
    rows = []
    for index, distance in enumerate(row["distance"] for row in curves[0]["rows"]):
        cells = [Cell(str(distance))]
        for curve in curves:
            row = curve["rows"][index]
            cells += [_probe_cell(row), _memory_cell(row["memory"])] if memory else [_probe_cell(row)]
        rows.append(cells)
    return Table(title, columns, rows, [span, chance], [probe_caption(curves[0]["kind"], memory)])


def share(value: float) -> str:
    """A whole percentage, with no '-0%' for a share a hair below zero."""
    return f"{round(value, 2) + 0.0:.0%}"


def _has_memory(curve: dict) -> bool:
    return bool(curve["rows"]) and "memory" in curve["rows"][0]


def _distance_cell(distance: int | None, otherwise: str) -> Cell:
    return Cell(str(distance)) if distance is not None else Cell(otherwise, style="dim" if otherwise == "-" else "")


def _probe_cell(row: dict) -> Cell:
    detail = f"p {row['confidence']:.2f}"
    alone = row.get("filler_alone")
    if alone:
        detail += f" · alone {max(alone.values()):.2f}"
    return Cell(f"{row['accuracy']:.1%}", detail, strong=row["accuracy"] >= STRONG_ACCURACY)


def _memory_cell(memory: dict) -> Cell:
    kept = f"kept {share(memory['kept'])}" if memory["kept"] is not None else ""
    return Cell(f"{memory['accuracy']:.1%}", kept, strong=memory["accuracy"] >= STRONG_ACCURACY)


def probe_caption(kind: str, memory: bool = False) -> str:
    if kind != "filler":
        return "accuracy (bold: ≥90%); p: mean probability of the true class; chance = 50%"
    caption = (
        "accuracy (bold: ≥90%); p: mean probability of the true class; alone: the largest mean class "
        "probability the model gives the filler by itself (0.50 = neutral to it)"
    )
    if memory:
        caption += (
            ". memory: share of reviews that still push the model towards their class once the filler's own "
            "pull is taken out (log-odds of the true class with review + filler minus with the filler alone > 0); "
            "what a filler neutral to this model would leave right. kept: that push as a share of the review's "
            "push with no filler. span: the largest d up to which the column stays ≥90%; chance from: the first "
            "d whose 95% interval contains 50%"
        )
    return caption
