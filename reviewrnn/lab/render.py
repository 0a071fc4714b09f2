"""Rich renderables for the lab's results: plain values in, tables and text out, no printing."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from reviewrnn.render import bucket_name


def _accuracy_cell(row: dict) -> Text:
    if not row["count"]:
        return Text("-", style="dim")
    cell = Text(f"{row['accuracy']:.1%}" + (" ✂" if row.get("cut") else ""))
    cell.append(f"\n{row['ci_low']:.1%}–{row['ci_high']:.1%} · {row['count']}", style="dim")
    return cell


def compare_table(models: list) -> Table:
    """Buckets down, models across; each cell: accuracy, its 95% interval and the count; ✂ = truncated reviews."""
    table = Table(title="Test accuracy by length (tokens); ✂ = reviews cut at max_tokens", title_justify="left")
    table.add_column("tokens")
    for model in models:
        table.add_column(model.name, justify="right")
    for index, row in enumerate(models[0].rows):
        table.add_row(bucket_name(row), *(_accuracy_cell(model.rows[index]) for model in models))
    return table


def _gap_text(gap: dict | None) -> Text:
    if gap is None:
        return Text("-", style="dim")
    text = Text(f"{gap['difference'] * 100:+.1f}", style="bold" if gap["clear"] else "")
    text.append(f" [{gap['ci_low'] * 100:+.1f}, {gap['ci_high'] * 100:+.1f}]", style="dim")
    return text


def gap_table(models: list) -> Table:
    """Per model: shortest minus longest bucket in points, over all buckets and over those read whole."""
    table = Table(
        title="Shortest minus longest bucket, points [95% interval]; bold: the interval excludes 0",
        title_justify="left",
    )
    for column in ("model", "setup", "acc", "gap, all", "gap, read whole", "longest whole"):
        table.add_column(column, justify="left" if column in ("model", "setup") else "right")
    for model in models:
        whole = model.gap_read_whole
        table.add_row(
            model.name,
            f"{model.cell} {model.pool} {model.truncate}",
            f"{model.accuracy:.1%}",
            _gap_text(model.gap),
            _gap_text(whole),
            bucket_name(whole["long"]) if whole else "-",
        )
    return table


GRADIENT_DISTANCES = (1, 4, 16, 64, 256)


def gradient_table(flows: list) -> Table:
    """Per model and state: the gradient at the last token, the share left further back, the decay rate."""
    table = Table(
        title="Gradient reaching h_t: ||dLoss/dh_t|| at the last token, then as a share of it", title_justify="left"
    )
    distances = [d for d in GRADIENT_DISTANCES if any(d < len(flow.norms) for flow in flows)]
    for column in ("model", "state", "at 0", *(f"at {d}" for d in distances), "decay/step", "< 1e-3 from"):
        table.add_column(column, justify="left" if column in ("model", "state") else "right")
    for flow in flows:
        first = flow.norms[0]
        shares = [f"{flow.norms[d] / first:.1e}" if d < len(flow.norms) and first else "-" for d in distances]
        decay = f"{flow.decay_per_step:.4f}" if flow.decay_per_step is not None else "-"
        vanish = str(flow.vanish_distance) if flow.vanish_distance is not None else f"> {len(flow.norms) - 1}"
        table.add_row(flow.name, flow.state, f"{first:.2e}", *shares, decay, vanish)
    return table


def _probe_cell(row: dict, kind: str) -> Text:
    cell = Text(f"{row['accuracy']:.1%}", style="bold" if row["accuracy"] >= 0.9 else "")
    detail = f"\np {row['confidence']:.2f}"
    if kind == "filler" and row.get("filler_alone"):
        detail += f" · alone {row['filler_alone'][max(row['filler_alone'])]:.2f}"
    cell.append(detail, style="dim")
    return cell


def probe_table(curves: list, title: str) -> Table:
    """Distances down, models or cells across: accuracy, mean probability of the true class, span and chance."""
    table = Table(title=title, title_justify="left")
    table.add_column("d", justify="right")
    for curve in curves:
        table.add_column(curve.name, justify="right")
    for index, row in enumerate(curves[0].rows):
        table.add_row(str(row["distance"]), *(_probe_cell(curve.rows[index], curve.kind) for curve in curves))
    table.add_section()
    table.add_row("span ≥90%", *(str(c.span) if c.span is not None else "none" for c in curves))
    table.add_row("chance from", *(str(c.chance) if c.chance is not None else "-" for c in curves))
    return table


def probe_caption(kind: str) -> str:
    if kind == "filler":
        return (
            "accuracy (bold: ≥90%); p: mean probability of the true class; alone: mean probability of the "
            "last class for the filler by itself (0.50 = neutral to the model)"
        )
    return "accuracy (bold: ≥90%); p: mean probability of the true class; chance = 50%"


def _maybe(value, form: str) -> str:
    return "-" if value is None else format(value, form)


def clipping_table(runs: list) -> Table:
    """One row per run: gradient norms before clipping, spikes, divergence, final loss and accuracy."""
    from reviewrnn.lab.clipping import REFERENCE_CLIP, SPIKE_FACTOR, TAIL_STEPS, summarise

    table = Table(
        title=f"Clipping. Norms are before clipping; > {REFERENCE_CLIP:g}: share of steps above it; spike: a step "
        f"> {SPIKE_FACTOR:g}x the median before it; loss: mean of the last {TAIL_STEPS} steps",
        title_justify="left",
    )
    for column in ("run", "clip", "seed", "max norm", f"> {REFERENCE_CLIP:g}", "spikes", "loss", "valid", "test", ""):
        table.add_column(column, justify="left" if column in ("run", "") else "right")
    for run in runs:
        s = summarise(run)
        table.add_row(
            run.name,
            f"{run.clip_norm:g}" if run.clip_norm else "off",
            str(run.seed),
            _maybe(s["grad_norm_max"], ".3g"),
            _maybe(s["above_reference"], ".0%"),
            str(s["spikes"]),
            _maybe(s["final_loss"], ".3f"),
            _maybe(s["best_valid_accuracy"], ".1%"),
            _maybe(s["test_accuracy"], ".1%"),
            Text("diverged", style="bold red") if s["diverged"] else Text("ok"),
        )
    return table
