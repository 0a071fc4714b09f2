"""The study's verdict: five findings, each sorted into 'supports the claim' or 'does not' by its numbers.

One function per finding returns (supports, sentence) pairs, or nothing when its measurement is
missing; `verdict` only joins them. Nothing here decides without an interval or a measured order.
"""

from __future__ import annotations

from reviewrnn.lab.plan import CELL_RUNS, POOLED_RUNS
from reviewrnn.lab.reading import change, flow_of, models_by_name, pct, points
from reviewrnn.metrics import difference_interval

Finding = tuple[bool, str]  # (supports the claim, the sentence with its numbers)


def verdict(results: dict) -> tuple[list[str], list[str]]:
    """(findings that support the claim, findings that do not), each a sentence with its numbers."""
    findings = [
        *length_verdict(results),
        *move_verdict(results),
        *synthetic_verdict(results),
        *gradient_verdict(results),
        *clipping_verdict(results),
        *pooling_verdict(results),
    ]
    return [text for good, text in findings if good], [text for good, text in findings if not good]


def _drop(model: dict | None) -> float | None:
    gap = model and model["gap_read_whole"]
    return gap["difference"] if gap else None


def _rnn_gap(results: dict) -> tuple[dict | None, bool]:
    """The vanilla RNN's read-whole gap, and whether it is a clear drop."""
    rnn = models_by_name(results).get("rnn")
    gap = rnn["gap_read_whole"] if rnn else None
    return gap, bool(gap and gap["clear"] and gap["difference"] > 0)


def seed_length_verdict(seeds: dict) -> list[Finding]:
    """Over seeds, read whole: does the vanilla RNN's accuracy drop with length, and more than each gated cell's?"""
    cells = {cell["cell"]: cell for cell in seeds["cells"]}
    if "rnn" not in cells or not cells["rnn"]["gap"]:
        return []
    gap = cells["rnn"]["gap"]
    drops = gap["clear"] and gap["difference"] > 0
    k = len(cells["rnn"]["runs"])
    found = [
        (True, f"Read whole, the vanilla RNN loses accuracy on longer reviews ({change(gap)}, {k} seeds).")
        if drops
        else (False, f"Read whole, the vanilla RNN shows {change(gap)} from short to long reviews ({k} seeds).")
    ]
    pairs = [p for p in seeds["pairs"] if p["measure"] == "gap" and p["a"] == "rnn"]
    if pairs:
        listed = ", ".join(
            f"rnn − {p['b']} {p['difference'] * 100:+.1f} {points(p['ci_low'], p['ci_high'])}" for p in pairs
        )
        if all(p["clear"] and p["difference"] > 0 for p in pairs):
            found.append((True, f"The vanilla RNN's length gap is clearly larger than each gated cell's ({listed})."))
        else:
            found.append(
                (False, f"The vanilla RNN's length gap is not clearly larger than every gated cell's ({listed}).")
            )
    return found


def length_verdict(results: dict) -> list[Finding]:
    """Does the vanilla RNN lose accuracy on long reviews it read whole, and more than the gated cells?"""
    if (results.get("seeds") or {}).get("cells"):
        return seed_length_verdict(results["seeds"])
    gap, drops = _rnn_gap(results)
    if not gap:
        return []
    found = [
        (True, f"The vanilla RNN loses accuracy on longer reviews even when it reads them whole ({change(gap)}).")
        if drops
        else (False, f"Among reviews it read whole, the vanilla RNN shows {change(gap)} from short to long.")
    ]
    models = models_by_name(results)
    gated = [(n, _drop(models.get(n))) for n in CELL_RUNS[1:] if _drop(models.get(n)) is not None]
    if gated:
        listed = ", ".join(f"{n} {d * 100:+.1f}" for n, d in gated)
        text = f"read-whole drop in points: rnn {gap['difference'] * 100:+.1f}, {listed}"
        if drops and all(gap["difference"] > d for _, d in gated):
            found.append((True, f"The vanilla RNN's drop is larger than the gated cells' ({text})."))
        elif drops:
            found.append((False, f"The vanilla RNN's drop is not larger than every gated cell's ({text})."))
        else:
            found.append(
                (False, f"With no clear drop for the vanilla RNN, the cells cannot be told apart by it ({text}).")
            )
    return found


def move_verdict(results: dict) -> list[Finding]:
    """Moved to the start of its own review, is the vanilla RNN's decisive sentence clearly lost more often?"""
    from reviewrnn.lab.answer import move_contrast, move_text

    item = move_contrast(results.get("moves") or [], "rnn")
    if not item:
        return []
    text = f"({move_text(item).removeprefix('rnn: ').rstrip('.')})."
    if item["ci_low"] > 0:
        return [(True, f"On real reviews, the vanilla RNN loses its decisive sentence far from the end {text}")]
    return [
        (False, f"On real reviews, the vanilla RNN does not clearly lose its decisive sentence far from the end {text}")
    ]


def _span_value(curves: list[dict], name: str) -> float | None:
    curve = next((c for c in curves if c["name"] == name), None)
    if curve is None:
        return None
    return -1 if curve["span"] is None else curve["span"]


def synthetic_verdict(results: dict) -> list[Finding]:
    """Trained per distance on the synthetic task, does the vanilla RNN bridge the shortest gap?"""
    per_distance = results.get("synthetic", {}).get("per-distance", [])
    spans = {name: _span_value(per_distance, name) for name in CELL_RUNS}
    if any(value is None for value in spans.values()):
        return []
    text = ", ".join(f"{n} {'none' if v < 0 else v}" for n, v in spans.items())
    if spans["rnn"] < min(spans["gru"], spans["lstm"]):
        return [
            (True, f"On the synthetic task, trained per distance, the vanilla RNN bridges the shortest gap ({text}).")
        ]
    return [
        (False, f"On the synthetic task, trained per distance, the vanilla RNN's span is not the shortest ({text}).")
    ]


def gradient_verdict(results: dict) -> list[Finding]:
    """At initialisation, does the gradient vanish fastest through the vanilla RNN?"""
    init = {name: flow_of(results, name, "init") for name in CELL_RUNS}
    if not all(init.values()) or any(flow["decay_per_step"] is None for flow in init.values()):
        return []
    text = ", ".join(f"{n} x{f['decay_per_step']:.4f}" for n, f in init.items())
    if init["rnn"]["decay_per_step"] < min(init["gru"]["decay_per_step"], init["lstm"]["decay_per_step"]):
        return [(True, f"At initialisation the gradient vanishes fastest through the vanilla RNN (per step: {text}).")]
    return [(False, f"At initialisation the vanilla RNN's gradient does not vanish fastest (per step: {text}).")]


def clipping_verdict(results: dict) -> list[Finding]:
    """Helped: an unclipped run diverged, or clipping won on every seed by more than the test set's noise."""
    runs = results.get("clipping", [])
    tested = {m["name"]: m["count"] for m in results.get("compare", [])}
    off = {r["seed"]: r for r in runs if r["clip_norm"] == 0.0}
    on = {r["seed"]: r for r in runs if r["clip_norm"] > 0}
    seeds = sorted(set(off) & set(on))
    if not seeds:
        return []
    diverged = sum(1 for seed in seeds if off[seed]["summary"]["diverged"])
    outcomes = [_seed_outcome(on[seed], off[seed], tested) for seed in seeds]
    listed = "; ".join(f"seed {seed}: {text}" for seed, (_, text) in zip(seeds, outcomes))
    signs = [sign for sign, _ in outcomes]
    if diverged or all(sign > 0 for sign in signs):
        return [
            (True, f"Clipping helped the vanilla RNN ({diverged} of {len(seeds)} unclipped runs diverged; {listed}).")
        ]
    if all(sign < 0 for sign in signs):
        return [(False, f"The unclipped vanilla RNN did clearly better on every seed, and none diverged ({listed}).")]
    return [(False, f"Clipping made no consistent difference, and no unclipped run diverged ({listed}).")]


def _seed_outcome(clipped: dict, unclipped: dict, tested: dict[str, int]) -> tuple[int, str]:
    """(+1 clipped clearly better, -1 clearly worse, 0 within noise) on TEST, and the numbers as text."""
    a, b = clipped["summary"]["test_accuracy"], unclipped["summary"]["test_accuracy"]
    count = tested.get(clipped["name"]) or tested.get(unclipped["name"])
    if a is None or b is None or not count:
        return 0, "no test accuracy"
    low, high = difference_interval(round(a * count), count, round(b * count), count)
    sign = 1 if low > 0 else -1 if high < 0 else 0
    return sign, f"{pct(a)} clipped, {pct(b)} not (difference {points(low, high)})"


def pooling_verdict(results: dict) -> list[Finding]:
    """Does pooling over all states flatten the vanilla RNN's length curve?"""
    gap, drops = _rnn_gap(results)
    models = models_by_name(results)
    pooled = [(n, _drop(models.get(n))) for n in POOLED_RUNS if _drop(models.get(n)) is not None]
    if not gap or not pooled:
        return []
    text = f"rnn {gap['difference'] * 100:+.1f}, " + ", ".join(f"{n} {d * 100:+.1f}" for n, d in pooled)
    if not drops:
        return [
            (
                False,
                f"The last-state RNN shows no clear drop for pooling to flatten (read-whole drop in points: {text}).",
            )
        ]
    if all(d < gap["difference"] for _, d in pooled):
        return [
            (
                True,
                f"Pooling over all states flattens the vanilla RNN's length curve (read-whole drop in points: {text}).",
            )
        ]
    return [(False, f"Pooling does not flatten the vanilla RNN's length curve (read-whole drop in points: {text}).")]
