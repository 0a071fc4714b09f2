"""REPORT.md for a study: the setup, the plain-language reading, then each measurement's tables and charts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from reviewrnn.lab import reading
from reviewrnn.lab.clipping import REFERENCE_CLIP, SPIKE_FACTOR, TAIL_STEPS
from reviewrnn.lab.render import GRADIENT_DISTANCES

LENGTH_GROUPS = {
    "cells": ("rnn", "gru", "lstm"),
    "pooling": ("rnn", "rnn-mean", "rnn-max"),
    "truncation": ("rnn", "rnn-tail"),
}


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items) if items else "- (nothing measured)"


def chart(charts: dict[str, str], key: str, alt: str) -> str:
    return f"![{alt}]({charts[key]})" if key in charts else ""


def _bucket(row: dict) -> str:
    return f"{row['low']}–{row['high'] - 1}" if row["high"] is not None else f"{row['low']}+"


def length_table(models: list[dict]) -> str:
    headers = ["tokens", *(model["name"] for model in models)]
    rows = []
    for index, row in enumerate(models[0]["rows"]):
        if not any(model["rows"][index]["count"] for model in models):
            continue  # a bucket no test review falls in
        cells = []
        for model in models:
            r = model["rows"][index]
            cut = " ✂" if r["cut"] else ""
            cells.append(
                f"{r['accuracy']:.1%}{cut} [{r['ci_low']:.1%}–{r['ci_high']:.1%}] n={r['count']}" if r["count"] else "–"
            )
        rows.append([_bucket(row), *cells])
    return table(headers, rows)


def _gap(gap: dict | None) -> str:
    if not gap:
        return "–"
    text = f"{gap['difference'] * 100:+.1f} {reading.points(gap['ci_low'], gap['ci_high'])}"
    return f"**{text}**" if gap["clear"] else text


def gap_table(models: list[dict]) -> str:
    rows = [
        [m["name"], f"{m['cell']} / {m['pool']} / {m['truncate']}", f"{m['accuracy']:.1%}", _gap(m["gap"]),
         _gap(m["gap_read_whole"])]
        for m in models
    ]  # fmt: skip
    headers = ["model", "cell / pool / keep", "test accuracy", "gap, all buckets", "gap, read whole"]
    return table(headers, rows)


def probe_table(curves: list[dict]) -> str:
    headers = ["d", *(curve["name"] for curve in curves)]
    rows = []
    for index, row in enumerate(curves[0]["rows"]):
        cells = []
        for curve in curves:
            r = curve["rows"][index]
            cell = f"{r['accuracy']:.1%} (p {r['confidence']:.2f})"
            alone = r.get("filler_alone")
            if alone:
                cell += f" alone {max(alone.values()):.2f}"
            cells.append(f"**{cell}**" if r["accuracy"] >= 0.9 else cell)
        rows.append([str(row["distance"]), *cells])
    rows.append(["span ≥90%", *(str(c["span"]) if c["span"] is not None else "none" for c in curves)])
    rows.append(["chance from", *(str(c["chance"]) if c["chance"] is not None else "–" for c in curves)])
    return table(headers, rows)


def gradient_table(flows: list[dict]) -> str:
    length = max(len(flow["norms"]) for flow in flows)
    distances = [d for d in GRADIENT_DISTANCES if d < length]
    headers = ["model", "state", "norm at 0", *(f"share at {d}" for d in distances), "decay / step", "< 1e-3 from"]
    rows = []
    for flow in flows:
        first = flow["norms"][0]
        shares = [f"{flow['norms'][d] / first:.1e}" if first and d < len(flow["norms"]) else "–" for d in distances]
        decay = f"{flow['decay_per_step']:.4f}" if flow["decay_per_step"] is not None else "–"
        vanish = str(flow["vanish_distance"]) if flow["vanish_distance"] is not None else f"> {len(flow['norms']) - 1}"
        rows.append([flow["name"], flow["state"], f"{first:.2e}", *shares, decay, vanish])
    return table(headers, rows)


def clipping_table(runs: list[dict]) -> str:
    def fmt(value, form):
        return "–" if value is None else format(value, form)

    headers = ["run", "clip", "seed", "steps", "max norm", "median norm", f"> {REFERENCE_CLIP:g}", "spikes"]
    headers += [f"loss, last {TAIL_STEPS}", "best valid", "test", "outcome"]
    rows = []
    for run in runs:
        s = run["summary"]
        rows.append(
            [run["name"], f"{run['clip_norm']:g}" if run["clip_norm"] else "off", str(run["seed"]), str(s["steps"]),
             fmt(s["grad_norm_max"], ".3g"), fmt(s["grad_norm_median"], ".3g"), fmt(s["above_reference"], ".0%"),
             str(s["spikes"]), fmt(s["final_loss"], ".4f"), fmt(s["best_valid_accuracy"], ".2%"),
             fmt(s["test_accuracy"], ".2%"), "diverged: " + s["diverged"] if s["diverged"] else "finished"]
        )  # fmt: skip
    return table(headers, rows)


def setup_section(results: dict) -> str:
    plan, corpus, machine = results["plan"], results["corpus"], results["machine"]
    source = corpus.get("source") or corpus["spec"]
    sample = f" (a seeded sample of {corpus['sample']} reviews)" if corpus.get("sample") else ""
    synthetic = plan["synthetic"]
    rows = [
        ["corpus", f"{source}{sample}; canonical TRAIN/VALID/TEST split, accuracy on TEST"],
        ["networks", f"embedding {plan['embed']}, hidden {plan['hidden']}, 1 layer, unidirectional"],
        ["training", f"{plan['epochs']} epochs (no early stop; best validation epoch kept), batch "
         f"{plan['batch_size']}, Adam lr {plan['lr']} ({plan['schedule']}), no dropout, clip norm 1 unless stated, "
         f"seed {plan['seed']}"],
        ["reading", f"first {plan['max_tokens']} tokens (head) unless stated; WordPiece vocabulary "
         f"{plan['vocab_size']}, one tokenizer for every run"],
        ["clipping seeds", ", ".join(map(str, plan["clip_seeds"]))],
        ["filler probe", f"{plan['filler_reviews']} short (≤ {plan['short_max']} tokens) TEST reviews, "
         f"d = {', '.join(map(str, plan['filler_distances']))}"],
        ["synthetic task", f"{synthetic['train_size']} training sequences, {synthetic['epochs']} epochs, embedding "
         f"{synthetic['embed']}, hidden {synthetic['hidden']}, d = {', '.join(map(str, synthetic['distances']))}"],
        ["gradients", f"{plan['gradient_reviews']} TEST reviews of at least {plan['max_tokens']} tokens"],
        ["machine", f"{machine['threads']} of {machine['cpus']} CPU threads, torch {machine['torch']}, "
         f"{machine['platform']}"],
        ["time", ", ".join(f"{k} {v / 60:.1f} min" for k, v in results.get("timings", {}).items())],
    ]  # fmt: skip
    return table(["", ""], rows)


def quick_caveat(results: dict) -> str:
    """In a sampled (--quick) run the networks are small and barely trained: say so before any finding."""
    if not results["corpus"].get("sample"):
        return ""
    accuracies = [m["accuracy"] for m in results["compare"]]
    spread = f"{min(accuracies):.1%}–{max(accuracies):.1%}" if accuracies else "unknown"
    return (
        f"> **Quick mode.** {results['corpus']['sample']} reviews, small networks, {results['plan']['epochs']} "
        f"epochs: test accuracy is {spread}, so the findings below are a smoke test of the pipeline, not evidence. "
        "Run the full study (`make study`) for figures to quote."
    )


def render_report(results: dict, charts: dict[str, str], out: Path = Path("models/study")) -> str:
    models = {m["name"]: m for m in results["compare"]}
    supports, against = reading.verdict(results)
    quick = " --quick" if results["corpus"].get("sample") else ""
    parts = [
        "# Where and why a vanilla RNN forgets: the long-dependency study",
        f"Generated by `reviewrnn study{quick}` on {datetime.now():%Y-%m-%d}. Every number below was measured "
        "in this run; the plan was fixed before it ran. The raw numbers are in `results.json`.",
        "## Setup: one budget for every cell",
        setup_section(results),
        quick_caveat(results),
        "## What the numbers say",
        "The claim under test: a vanilla RNN cannot carry information across long spans because backpropagation "
        "through time multiplies many Jacobians, so gradients vanish or explode; clipping tames the explosions, "
        "gated cells (GRU, LSTM) ease the vanishing.",
        "**Findings in line with the claim**",
        bullets(supports),
        "**Findings not in line with it (or not shown here)**",
        bullets(against),
        "## 1. Accuracy by review length",
        "Buckets are split at max_tokens: below the cut every review was read whole, so a drop there is about "
        "memory; above it (✂) the model saw only part of each review. Each cell: accuracy [95% Wilson interval] "
        "and count. Gaps are shortest minus longest non-empty bucket in points [95% Newcombe interval]; bold: "
        "the interval excludes 0.",
        chart(charts, "length-cells", "accuracy by length per cell"),
    ]
    cells = [models[n] for n in LENGTH_GROUPS["cells"] if n in models]
    if cells:
        parts += [length_table(cells), gap_table(cells), bullets(reading.length_findings(results))]
    parts += ["## 2. Truncation or memory?", chart(charts, "length-truncation", "head against tail truncation")]
    truncation = [models[n] for n in LENGTH_GROUPS["truncation"] if n in models]
    if truncation:
        parts += [length_table(truncation), bullets(reading.truncation_findings(results))]
    parts += probe_sections(results, charts)
    parts += [
        "## 4. Gradient flow",
        "Mean norm of dLoss/dh_t over a batch of long TEST reviews, by distance from the last token, for each "
        "trained model and for the same configuration freshly initialised. 'decay / step' is exp of the slope of "
        "log-norm against distance; '< 1e-3 from' is the first distance where the norm is below 1e-3 of its value "
        "at the last token.",
        chart(charts, "gradients", "gradient norm by distance"),
        gradient_table(results["gradients"]) if results["gradients"] else "",
        bullets(reading.gradient_findings(results)),
        "## 5. Exploding gradients and clipping",
        f"The vanilla RNN trained from the same seeds with clipping at 1 and without. Norms are before clipping; "
        f"'> {REFERENCE_CLIP:g}': the share of steps above {REFERENCE_CLIP:g} (what clipping at 1 rescales); a spike "
        f"is a step more than {SPIKE_FACTOR:g}x the median of the 50 before it.",
        chart(charts, "clipping", "loss and gradient norm with and without clipping"),
        clipping_table(results["clipping"]) if results["clipping"] else "",
        bullets(reading.clipping_findings(results)),
        "## 6. A shortcut as contrast: pooling over all states",
        "Mean and max pooling give every token a one-step gradient path to the loss. If the lesson is right, "
        "pooling flattens the vanilla RNN's length curve.",
        chart(charts, "length-pooling", "last state against pooling"),
    ]
    pooling = [models[n] for n in LENGTH_GROUPS["pooling"] if n in models]
    if pooling:
        parts += [length_table(pooling), gap_table(pooling), bullets(reading.pooling_findings(results))]
    parts += ["## Reproduce", reproduce(quick, out)]
    return "\n\n".join(part for part in parts if part) + "\n"


def probe_sections(results: dict, charts: dict[str, str]) -> list[str]:
    parts = [
        "## 3. Memory-span probes",
        "### (a) Filler: short reviews + d neutral tokens",
        "Short TEST reviews each model classifies correctly (half of each class), followed by d tokens of "
        "neutral text: TRAIN sentences whose every token is about as frequent in each class as overall (within "
        "25%). Cells: accuracy (p: mean probability of the true class; alone: the model's largest mean class "
        "probability for the filler by itself, 0.50 = neutral to it). Span: the largest d up to which accuracy "
        "stays at or above 90%; chance from: the first d whose 95% interval contains 50%.",
        chart(charts, "probe-filler", "filler probe"),
    ]
    curves = results["filler"]["curves"]
    if curves:
        parts.append(probe_table(curves))
    parts += [
        bullets(reading.filler_findings(results)),
        "### (b) Synthetic task, trained from scratch per cell",
        "Random neutral tokens with one polarity token d steps before the end; the label is that token's. Every "
        "cell gets the same sequences, sizes, epochs and seed.",
    ]
    for protocol, items in results["synthetic"].items():
        parts += [f"**{protocol}**", chart(charts, f"probe-synthetic-{protocol}", f"synthetic {protocol}")]
        if items:
            parts.append(probe_table(items))
    parts.append(bullets(reading.synthetic_findings(results)))
    return parts


def reproduce(quick: str, out: Path) -> str:
    models = out / "models"
    return (
        "```sh\n"
        f"make study{' STUDY_ARGS=--quick' if quick else ''}    # or: reviewrnn study{quick} --threads 2\n"
        f"reviewrnn compare {models}/rnn {models}/gru {models}/lstm --png by-length.png\n"
        f"reviewrnn probe filler {models}/rnn {models}/lstm\n"
        "reviewrnn probe synthetic --cell all\n"
        f"reviewrnn gradients {models}/rnn {models}/gru {models}/lstm\n"
        f"reviewrnn clipping {models}/rnn {models}/rnn-clip0-seed0\n"
        f'reviewrnn predict --model {models}/lstm --trace "The dog barked all night, but the ending was lovely."\n'
        "```"
    )


def write_report(results: dict, path: Path, charts: dict[str, str]) -> Path:
    from reviewrnn.artifacts import atomic_write_bytes

    atomic_write_bytes(Path(path), render_report(results, charts, Path(path).parent).encode("utf-8"))
    return Path(path)
