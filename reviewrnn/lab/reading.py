"""The plain-language reading of a study's results: sentences built from the measured numbers.

Every statement is conditional on what was measured (an interval that excludes zero, a span that
differs), so the words follow the numbers whichever way they go; nothing here knows the claim's
expected answer except the verdict, which sorts each finding into 'supports' or 'does not'.
"""

from __future__ import annotations

from reviewrnn.metrics import difference_interval

CELLS = ("rnn", "gru", "lstm")


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def points(low: float, high: float) -> str:
    return f"[{low * 100:+.1f}, {high * 100:+.1f}]"


def bucket(part: dict) -> str:
    return f"{part['low']}–{part['high'] - 1} tokens" if part["high"] is not None else f"{part['low']}+ tokens"


def change(gap: dict) -> str:
    """'a drop of 4.2 points [1.0, 7.5]', 'a rise of ...', or 'no clear change (...)'."""
    size = f"{abs(gap['difference']) * 100:.1f} points {points(gap['ci_low'], gap['ci_high'])}"
    if not gap["clear"]:
        interval = points(gap["ci_low"], gap["ci_high"])
        return f"no clear change ({gap['difference'] * 100:+.1f} points, 95% interval {interval})"
    return f"a drop of {size}" if gap["difference"] > 0 else f"a rise of {size}"


def _models(results: dict) -> dict[str, dict]:
    return {model["name"]: model for model in results.get("compare", [])}


def pooled(model: dict, cut: bool) -> tuple[int, int]:
    """(correct, total) over the buckets of truncated (cut=True) or whole reviews."""
    rows = [row for row in model["rows"] if row["cut"] == cut and row["count"]]
    return sum(round(row["accuracy"] * row["count"]) for row in rows), sum(row["count"] for row in rows)


def length_findings(results: dict) -> list[str]:
    models, found = _models(results), []
    for name in CELLS:
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
    models, found = _models(results), []
    head, tail = models.get("rnn"), models.get("rnn-tail")
    if head and tail:
        (hits_h, n_h), (hits_t, n_t) = pooled(head, True), pooled(tail, True)
        if n_h and n_t:
            low, high = difference_interval(hits_t, n_t, hits_h, n_h)
            gap = {"difference": hits_t / n_t - hits_h / n_h, "ci_low": low, "ci_high": high}
            gap["clear"] = low > 0 or high < 0
            if gap["clear"] and gap["difference"] > 0:
                meaning = "so part of what is lost on long reviews is the cut-off ending, not memory"
            elif gap["clear"]:
                meaning = "so the opening of a long review serves this network better than its ending"
            else:
                meaning = "so which end is kept makes no clear difference here"
            found.append(
                f"On the {n_h} test reviews longer than {head['max_tokens']} tokens, the vanilla RNN reading the first "
                f"{head['max_tokens']} tokens gets {pct(hits_h / n_h)}; the same network reading the last "
                f"{tail['max_tokens']} gets {pct(hits_t / n_t)} (tail minus head "
                f"{gap['difference'] * 100:+.1f} points, 95% interval {points(low, high)}), {meaning}."
            )
    for name in CELLS:
        model = models.get(name)
        if not model:
            continue
        (hits_w, n_w), (hits_c, n_c) = pooled(model, False), pooled(model, True)
        if n_w and n_c:
            found.append(
                f"{name}: {pct(hits_w / n_w)} on the {n_w} reviews read whole, "
                f"{pct(hits_c / n_c)} on the {n_c} cut ones."
            )
    return found


def _span(curve: dict) -> str:
    return "not even at d=0" if curve["span"] is None else f"up to d={curve['span']}"


def _chance(curve: dict) -> str:
    last = curve["rows"][-1]
    if curve["chance"] is None:
        return f"never at chance up to d={last['distance']} ({pct(last['accuracy'])} there)"
    return f"at chance from d={curve['chance']}"


def filler_findings(results: dict) -> list[str]:
    filler = results.get("filler", {})
    if filler.get("skipped"):
        return [f"The filler probe was skipped: {filler['skipped']}."]
    found = []
    for curve in filler.get("curves", []):
        text = f"**{curve['name']}** stays at or above 90% {_span(curve)} and is {_chance(curve)}."
        alone = curve["rows"][-1].get("filler_alone") or {}
        if alone and max(alone.values()) > 0.6:
            label, p = max(alone.items(), key=lambda item: item[1])
            names = curve["settings"].get("label_names") or []
            label = names[int(label)] if int(label) < len(names) else label
            text += (
                f" The filler by itself pulls it towards {label} (mean probability {p:.2f} at "
                f"d={curve['rows'][-1]['distance']}), so part of this drop is the filler read as evidence."
            )
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


def _flow(results: dict, name: str, state: str) -> dict | None:
    return next((f for f in results.get("gradients", []) if f["name"] == name and f["state"] == state), None)


def _decay(flow: dict) -> str:
    vanish = (
        f"below 1e-3 of its value at the last token after {flow['vanish_distance']} steps"
        if flow["vanish_distance"] is not None
        else f"never below 1e-3 of its value at the last token within {len(flow['norms']) - 1} steps"
    )
    factor = flow["decay_per_step"]
    return f"{name_of(flow)}: x{factor:.4f} per step, {vanish}" if factor is not None else f"{name_of(flow)}: -"


def name_of(flow: dict) -> str:
    return flow["name"]


def gradient_findings(results: dict) -> list[str]:
    found = []
    for state, words in (("init", "At initialisation"), ("trained", "After training")):
        flows = [_flow(results, name, state) for name in (*CELLS, "rnn-mean", "rnn-max")]
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
    models, found = _models(results), []
    for name in ("rnn", "rnn-mean", "rnn-max"):
        model = models.get(name)
        if model and model["gap_read_whole"]:
            found.append(
                f"{name} ({model['pool']} pooling): test accuracy {pct(model['accuracy'])}; among reviews read whole, "
                f"{change(model['gap_read_whole'])} from the shortest to the longest bucket."
            )
    return found


def _drop(model: dict | None) -> float | None:
    gap = model and model["gap_read_whole"]
    return gap["difference"] if gap else None


def _span_value(curves: list[dict], name: str) -> float | None:
    curve = next((c for c in curves if c["name"] == name), None)
    if curve is None:
        return None
    return -1 if curve["span"] is None else curve["span"]


def verdict(results: dict) -> tuple[list[str], list[str]]:
    """(findings that support the claim, findings that do not), each a sentence with its numbers."""
    supports, against = [], []
    models = _models(results)

    rnn = models.get("rnn")
    rnn_gap = rnn["gap_read_whole"] if rnn else None
    rnn_drops = bool(rnn_gap and rnn_gap["clear"] and rnn_gap["difference"] > 0)
    if rnn_gap:
        if rnn_drops:
            supports.append(
                f"The vanilla RNN loses accuracy on longer reviews even when it reads them whole ({change(rnn_gap)})."
            )
        else:
            against.append(f"Among reviews it read whole, the vanilla RNN shows {change(rnn_gap)} from short to long.")
        gated = [(n, _drop(models.get(n))) for n in ("gru", "lstm") if _drop(models.get(n)) is not None]
        if gated:
            listed = ", ".join(f"{n} {d * 100:+.1f}" for n, d in gated)
            text = f"read-whole drop in points: rnn {rnn_gap['difference'] * 100:+.1f}, {listed}"
            if rnn_drops and all(rnn_gap["difference"] > d for _, d in gated):
                supports.append(f"The vanilla RNN's drop is larger than the gated cells' ({text}).")
            elif rnn_drops:
                against.append(f"The vanilla RNN's drop is not larger than every gated cell's ({text}).")
            else:
                against.append(
                    f"With no clear drop for the vanilla RNN, the cells cannot be told apart by it ({text})."
                )

    per_distance = results.get("synthetic", {}).get("per-distance", [])
    spans = {name: _span_value(per_distance, name) for name in CELLS}
    if all(value is not None for value in spans.values()):
        text = ", ".join(f"{n} {'none' if v < 0 else v}" for n, v in spans.items())
        if spans["rnn"] < min(spans["gru"], spans["lstm"]):
            supports.append(
                f"On the synthetic task, trained per distance, the vanilla RNN bridges the shortest gap ({text})."
            )
        else:
            against.append(
                f"On the synthetic task, trained per distance, the vanilla RNN's span is not the shortest ({text})."
            )

    init = {name: _flow(results, name, "init") for name in CELLS}
    if all(init.values()) and all(flow["decay_per_step"] is not None for flow in init.values()):
        text = ", ".join(f"{n} x{f['decay_per_step']:.4f}" for n, f in init.items())
        if init["rnn"]["decay_per_step"] < min(init["gru"]["decay_per_step"], init["lstm"]["decay_per_step"]):
            supports.append(
                f"At initialisation the gradient vanishes fastest through the vanilla RNN (per step: {text})."
            )
        else:
            against.append(f"At initialisation the vanilla RNN's gradient does not vanish fastest (per step: {text}).")

    tested = {m["name"]: m["count"] for m in results.get("compare", [])}
    clipping = _clipping_verdict(results.get("clipping", []), tested)
    if clipping:
        (supports if clipping[0] else against).append(clipping[1])

    pooled_drops = [(n, _drop(models.get(n))) for n in ("rnn-mean", "rnn-max") if _drop(models.get(n)) is not None]
    if rnn_gap and pooled_drops:
        text = f"rnn {rnn_gap['difference'] * 100:+.1f}, " + ", ".join(f"{n} {d * 100:+.1f}" for n, d in pooled_drops)
        if not rnn_drops:
            against.append(
                f"The last-state RNN shows no clear drop for pooling to flatten (read-whole drop in points: {text})."
            )
        elif all(d < rnn_gap["difference"] for _, d in pooled_drops):
            supports.append(
                f"Pooling over all states flattens the vanilla RNN's length curve (read-whole drop in points: {text})."
            )
        else:
            against.append(
                f"Pooling does not flatten the vanilla RNN's length curve (read-whole drop in points: {text})."
            )
    return supports, against


def _clipping_verdict(runs: list[dict], tested: dict[str, int]) -> tuple[bool, str] | None:
    """Helped: an unclipped run diverged, or clipping won on every seed by more than the test set's noise."""
    off = {r["seed"]: r for r in runs if r["clip_norm"] == 0.0}
    on = {r["seed"]: r for r in runs if r["clip_norm"] > 0}
    seeds = sorted(set(off) & set(on))
    if not seeds:
        return None
    diverged = sum(1 for seed in seeds if off[seed]["summary"]["diverged"])
    outcomes = [_seed_outcome(on[seed], off[seed], tested) for seed in seeds]
    listed = "; ".join(f"seed {seed}: {text}" for seed, (_, text) in zip(seeds, outcomes))
    signs = [sign for sign, _ in outcomes]
    if diverged or all(sign > 0 for sign in signs):
        return True, f"Clipping helped the vanilla RNN ({diverged} of {len(seeds)} unclipped runs diverged; {listed})."
    if all(sign < 0 for sign in signs):
        return False, f"The unclipped vanilla RNN did clearly better on every seed, and none diverged ({listed})."
    return False, f"Clipping made no consistent difference, and no unclipped run diverged ({listed})."


def _seed_outcome(clipped: dict, unclipped: dict, tested: dict[str, int]) -> tuple[int, str]:
    """(+1 clipped clearly better, -1 clearly worse, 0 within noise) on TEST, and the numbers as text."""
    a, b = clipped["summary"]["test_accuracy"], unclipped["summary"]["test_accuracy"]
    count = tested.get(clipped["name"]) or tested.get(unclipped["name"])
    if a is None or b is None or not count:
        return 0, "no test accuracy"
    low, high = difference_interval(round(a * count), count, round(b * count), count)
    sign = 1 if low > 0 else -1 if high < 0 else 0
    return sign, f"{pct(a)} clipped, {pct(b)} not (difference {points(low, high)})"
