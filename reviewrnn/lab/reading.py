"""The plain-language reading of a study's results: sentences built from the measured numbers.

Every statement is conditional on what was measured (an interval that excludes zero, a span that
differs), so the words follow the numbers whichever way they go; nothing here knows the claim's
expected answer; verdict.py sorts the claim's findings into 'supports' or 'does not'.
"""

from __future__ import annotations

from reviewrnn.lab.plan import CELL_RUNS, LENGTH_GROUPS, PROBED_RUNS
from reviewrnn.lab.tables import points, share
from reviewrnn.metrics import difference_interval
from reviewrnn.render import bucket_name


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def bucket(part: dict) -> str:
    return f"{bucket_name(part)} tokens"


def change(gap: dict) -> str:
    """'a drop of 4.2 points [1.0, 7.5]', 'a rise of ...', or 'no clear change (...)'."""
    size = f"{abs(gap['difference']) * 100:.1f} points {points(gap['ci_low'], gap['ci_high'])}"
    if not gap["clear"]:
        interval = points(gap["ci_low"], gap["ci_high"])
        return f"no clear change ({gap['difference'] * 100:+.1f} points, 95% interval {interval})"
    return f"a drop of {size}" if gap["difference"] > 0 else f"a rise of {size}"


def models_by_name(results: dict) -> dict[str, dict]:
    return {model["name"]: model for model in results.get("compare", [])}


def pooled(model: dict, cut: bool) -> tuple[int, int]:
    """(correct, total) over the buckets of truncated (cut=True) or whole reviews."""
    rows = [row for row in model["rows"] if row["cut"] == cut and row["count"]]
    return sum(round(row["accuracy"] * row["count"]) for row in rows), sum(row["count"] for row in rows)


def length_findings(results: dict) -> list[str]:
    models, found = models_by_name(results), []
    for name in CELL_RUNS:
        model = models.get(name)
        if not model or not model["gap_read_whole"]:
            continue
        whole, everything = model["gap_read_whole"], model["gap"]
        text = (
            f"**{name}** (test accuracy {pct(model['accuracy'])}): among reviews it read whole, "
            f"{pct(whole['short']['accuracy'])} at {bucket(whole['short'])} (n={whole['short']['count']}) against "
            f"{pct(whole['long']['accuracy'])} at {bucket(whole['long'])} (n={whole['long']['count']}): "
            f"{change(whole)}."
        )
        if everything and everything["long"]["low"] != whole["long"]["low"]:
            text += (
                f" Over all lengths, the longest bucket ({bucket(everything['long'])}, "
                f"n={everything['long']['count']}, cut at {model['max_tokens']} tokens) is at "
                f"{pct(everything['long']['accuracy'])}: {change(everything)}."
            )
        found.append(text)
    return found


def truncation_findings(results: dict) -> list[str]:
    models = models_by_name(results)
    head, tail, whole = models.get("rnn-head"), models.get("rnn-tail"), models.get("rnn")
    if not head:
        return []
    cut = [index for index, row in enumerate(head["rows"]) if row["cut"] and row["count"]]
    found = []
    for other, label in ((tail, f"the last {head['max_tokens']}"), (whole, "the whole review")):
        if other:
            found.append(_against_head(head, other, cut, label))
    return [text for text in found if text]


def _against_head(head: dict, other: dict, cut: list[int], label: str) -> str:
    """The vanilla RNN reading the first max_tokens against another reading, on the reviews the head cut."""
    hits_h, n_h = _hits(head, cut)
    hits_o, n_o = _hits(other, cut)
    if not n_h or not n_o:
        return ""
    low, high = difference_interval(hits_o, n_o, hits_h, n_h)
    difference = hits_o / n_o - hits_h / n_h
    if low > 0:
        meaning = "so part of what is lost on long reviews is text the cut never showed, not memory"
    elif high < 0:
        meaning = "so the opening of a long review serves this network better"
    else:
        meaning = "no clear difference"
    return (
        f"On the {n_h} test reviews longer than {head['max_tokens']} tokens, the vanilla RNN reading the first "
        f"{head['max_tokens']} tokens gets {pct(hits_h / n_h)}; reading {label} it gets {pct(hits_o / n_o)} "
        f"(difference {difference * 100:+.1f} points, 95% interval {points(low, high)}): {meaning}."
    )


def _hits(model: dict, indices: list[int]) -> tuple[int, int]:
    rows = [model["rows"][index] for index in indices if model["rows"][index]["count"]]
    return sum(round(row["accuracy"] * row["count"]) for row in rows), sum(row["count"] for row in rows)


def _span(curve: dict) -> str:
    return "not even at d=0" if curve["span"] is None else f"up to d={curve['span']}"


def _chance(curve: dict) -> str:
    last = curve["rows"][-1]
    if curve["chance"] is None:
        return f"never at chance up to d={last['distance']} ({pct(last['accuracy'])} there)"
    return f"at chance from d={curve['chance']}"


def fall_split(curve: dict) -> str:
    """How much of the accuracy's fall was memory lost and how much the filler's own pull: at the last
    distance, and also where the two differ most when that is elsewhere."""
    rows = curve["rows"]
    if len(rows) < 2 or "memory" not in rows[-1]:
        return ""
    widest = max(rows[1:], key=lambda row: row["memory"]["accuracy"] - row["accuracy"])
    text = "From " + _split_at(rows[0], rows[-1])
    if widest is not rows[-1] and widest["memory"]["accuracy"] - widest["accuracy"] > 0.05:
        text += f" The filler's pull weighs most at d={widest['distance']}: from " + _split_at(rows[0], widest)
    return text


def _split_at(first: dict, row: dict) -> str:
    kept = row["memory"]["accuracy"]
    fall, memory = (first["accuracy"] - row["accuracy"]) * 100, (first["accuracy"] - kept) * 100
    pull = fall - memory
    part = f" ({pull / fall:.0%} of the fall)" if fall > 0 and pull > 0 else ""
    words = (
        f"{pull:.1f} are the filler's own pull{part}"
        if pull >= 0
        else f"the filler's pull, far from adding to it, kept {-pull:.1f} more points right"
    )
    return (
        f"d={first['distance']} to d={row['distance']} accuracy falls {fall:.1f} points; with the filler's pull "
        f"taken out, {pct(kept)} of the reviews still push towards their class, so {memory:.1f} points are memory "
        f"lost and {words}."
    )


def kept_by_class(curve: dict) -> str:
    """Per class, the review's push left at the last distance; uneven shares point at the filler's features."""
    last = curve["rows"][-1]
    kept = {int(k): v for k, v in last["memory"].get("kept_per_class", {}).items() if v is not None}
    if len(kept) < 2:
        return ""
    names = curve["settings"].get("label_names") or [str(k) for k in sorted(kept)]
    listed = ", ".join(f"{names[k] if k < len(names) else k} {share(part)}" for k, part in sorted(kept.items()))
    text = f" At d={last['distance']} the reviews keep this share of their own push, by class: {listed}."
    if max(kept.values()) - min(kept.values()) > 0.3:
        text += (
            " So uneven a split suggests the filler masks the reviews that say what it says (their features are "
            "already driven by the filler), which the measure counts as memory lost: a lower bound for that class."
        )
    return text


def filler_findings(results: dict) -> list[str]:
    filler = results.get("filler", {})
    if filler.get("skipped"):
        return [f"The filler probe was skipped: {filler['skipped']}."]
    found = []
    for curve in filler.get("curves", []):
        text = f"**{curve['name']}** stays at or above 90% {_span(curve)} and is {_chance(curve)}."
        if "memory" in curve["rows"][0]:
            memory = {"span": curve["memory_span"], "chance": curve["memory_chance"]}
            memory["rows"] = [{"distance": r["distance"], "accuracy": r["memory"]["accuracy"]} for r in curve["rows"]]
            text += f" With the filler's pull taken out (memory) it stays at or above 90% {_span(memory)} "
            text += f"and is {_chance(memory)}. "
            text += fall_split(curve) + kept_by_class(curve)
        alone = curve["rows"][-1].get("filler_alone") or {}
        if alone and max(alone.values()) > 0.6:
            label, p = max(alone.items(), key=lambda item: item[1])
            names = curve["settings"].get("label_names") or []
            label = names[int(label)] if int(label) < len(names) else label
            text += (
                f" The filler by itself pulls it towards {label} (mean probability {p:.2f} at "
                f"d={curve['rows'][-1]['distance']})"
            )
            text += "." if "memory" in curve["rows"][0] else ", so part of this drop is the filler read as evidence."
        found.append(text)
    if found:
        curve = filler["curves"][0]
        beyond = next((row["distance"] for row in curve["rows"] if row.get("longer_than_trained", 0) > 0), None)
        if beyond is not None:
            found.append(
                f"From d={beyond} on, some probe sequences are longer than the {curve['settings']['max_tokens']} "
                "tokens the models were trained on, so the far end of the curve also tests lengths never seen in "
                "training."
            )
    return found


def synthetic_findings(results: dict) -> list[str]:
    found = []
    for protocol, curves in results.get("synthetic", {}).items():
        spans = ", ".join(f"{c['name']} {_span(c)} ({_chance(c)})" for c in curves)
        how = (
            "a fresh network trained and tested at each distance (can the cell learn to bridge d steps?)"
            if protocol == "per-distance"
            else "one network trained on all distances together (once learned at short gaps, is the token held?)"
        )
        found.append(f"**{protocol}**, {how}: {spans}.")
    return found


def flow_of(results: dict, name: str, state: str) -> dict | None:
    return next((f for f in results.get("gradients", []) if f["name"] == name and f["state"] == state), None)


def _decay(flow: dict) -> str:
    vanish = (
        f"below 1e-3 of its value at the last token after {flow['vanish_distance']} steps"
        if flow["vanish_distance"] is not None
        else f"never below 1e-3 of its value at the last token within {len(flow['norms']) - 1} steps"
    )
    factor = flow["decay_per_step"]
    return f"{flow['name']}: x{factor:.4f} per step, {vanish}" if factor is not None else f"{flow['name']}: -"


def gradient_findings(results: dict) -> list[str]:
    found = []
    for state, words in (("init", "At initialisation"), ("trained", "After training")):
        flows = [flow_of(results, name, state) for name in PROBED_RUNS]
        flows = [flow for flow in flows if flow]
        if flows:
            found.append(f"{words}, the gradient reaching h_t changes by " + "; ".join(_decay(f) for f in flows) + ".")
    return found


def clipping_findings(results: dict) -> list[str]:
    runs = results.get("clipping", [])
    found = []
    for clip, words in ((0.0, "Without clipping"), (1.0, "With clipping at 1")):
        chosen = [run for run in runs if run["clip_norm"] == clip]
        if not chosen:
            continue
        diverged = sum(1 for run in chosen if run["summary"]["diverged"])
        norms = [run["summary"]["grad_norm_max"] for run in chosen if run["summary"]["grad_norm_max"] is not None]
        spikes = sum(run["summary"]["spikes"] for run in chosen)
        tests = [run["summary"]["test_accuracy"] for run in chosen if run["summary"]["test_accuracy"] is not None]
        text = (
            f"{words} ({len(chosen)} seeds): {diverged} diverged; the largest gradient norm before clipping was "
            f"{max(norms):.3g}; {spikes} spikes in all"
            if norms
            else f"{words}: no steps recorded"
        )
        if tests:
            text += f"; test accuracy {', '.join(pct(t) for t in tests)} (mean {pct(sum(tests) / len(tests))})"
        found.append(text + ".")
    return found


def pooling_findings(results: dict) -> list[str]:
    models, found = models_by_name(results), []
    for name in LENGTH_GROUPS["pooling"]:
        model = models.get(name)
        if model and model["gap_read_whole"]:
            found.append(
                f"{name} ({model['pool']} pooling): test accuracy {pct(model['accuracy'])}; among reviews read whole, "
                f"{change(model['gap_read_whole'])} from the shortest to the longest bucket."
            )
    return found
