"""The report's opening: a plain answer to issue 15's two questions, held to the intervals that back it.

On real reviews read whole, does the vanilla RNN lose accuracy with distance, and do gated cells lose
less? Distance is measured two ways: the review's length (the seeds' length gap, lab/seeds.py) and the
tokens after a review's decisive sentence when it is moved (lab/move.py). Each sentence says yes, no
or "not shown" by whether its interval excludes zero; nothing here knows which answer is expected.
"""

from __future__ import annotations

from reviewrnn.lab.tables import points
from reviewrnn.metrics import difference_interval
from reviewrnn.render import bucket_name


def _signed(item: dict) -> str:
    return f"{item['difference'] * 100:+.1f} points, 95% interval {points(item['ci_low'], item['ci_high'])}"


def length_answer(seeds: dict) -> list[str]:
    cells = {cell["cell"]: cell for cell in seeds.get("cells", [])}
    rnn = cells.get("rnn")
    if not rnn or not rnn["gap"]:
        return []
    gap, k = rnn["gap"], len(rnn["runs"])
    span = f"{bucket_name(gap['short'])} tokens against {bucket_name(gap['long'])} tokens (n={gap['long']['count']})"
    if gap["clear"] and gap["difference"] > 0:
        first = "**Yes, by length.** Read whole, the vanilla RNN is less accurate on the longest reviews"
    elif gap["clear"]:
        first = "**No, by length: the opposite.** Read whole, the vanilla RNN is more accurate on the longest reviews"
    else:
        first = "**Not shown by length.** Read whole, the vanilla RNN's accuracy does not clearly change with length"
    first += f": {span}"
    found = [f"{first}, shortest minus longest {_signed(gap)} (mean of {k} seeds; per seed {_per_seed(gap)})."]
    for other in ("gru", "lstm"):
        item = _pair(seeds, "rnn", other)
        if not item:
            continue
        if item["clear"] and item["difference"] > 0:
            verdict = f"**{other} loses less** with length than the vanilla RNN"
        elif item["clear"]:
            verdict = f"**{other} loses more** with length than the vanilla RNN"
        else:
            verdict = f"**{other} cannot be told apart** from the vanilla RNN by its length gap"
        found.append(
            f"{verdict}: rnn's gap minus {other}'s {_signed(item)} ({other}'s own gap {_signed(cells[other]['gap'])}; "
            f"rnn's gap larger in {item['wins']} of {item['pairs']} seed pairs)."
        )
    return found


def move_contrast(moves: list[dict], cell: str) -> dict | None:
    """A cell's accuracy with the decisive sentence at the end and at the start, pooled over its seeds."""
    runs = [move for move in moves if move["cell"] == cell]
    rows = {p: [run["positions"][p] for run in runs if run["positions"][p]["count"]] for p in ("start", "end")}
    counts = {p: sum(row["count"] for row in rows[p]) for p in rows}
    if not counts["start"] or not counts["end"]:
        return None
    hits = {p: sum(round(row["accuracy"] * row["count"]) for row in rows[p]) for p in rows}
    low, high = difference_interval(hits["end"], counts["end"], hits["start"], counts["start"])
    end, start = hits["end"] / counts["end"], hits["start"] / counts["start"]
    distance = sum(row["mean_distance"] * row["count"] for row in rows["start"]) / counts["start"]
    return {
        "cell": cell, "end": end, "start": start, "difference": end - start, "ci_low": low, "ci_high": high,
        "clear": low > 0 or high < 0, "distance": distance, "reviews": counts["start"], "seeds": len(runs),
    }  # fmt: skip


def move_text(item: dict) -> str:
    clear = "a clear loss" if item["ci_low"] > 0 else "a clear gain" if item["ci_high"] < 0 else "no clear change"
    return (
        f"{item['cell']}: the decisive sentence at the end {item['end']:.1%}, at the start {item['start']:.1%} (on "
        f"average {item['distance']:.0f} tokens before the end): {clear}, end minus start "
        f"{item['difference'] * 100:+.1f} points {points(item['ci_low'], item['ci_high'])} over {item['seeds']} "
        f"seeds, {item['reviews']} reviews."
    )


def move_answer(moves: list[dict]) -> list[str]:
    """Start against end for each cell, pooled over seeds: does a verdict far from the end get lost?"""
    contrasts = (move_contrast(moves, cell) for cell in dict.fromkeys(move["cell"] for move in moves))
    return [move_text(item) for item in contrasts if item]


def plain_answer(results: dict) -> list[str]:
    return [*length_answer(results.get("seeds") or {}), *move_answer(results.get("moves") or [])]


def _pair(seeds: dict, a: str, b: str) -> dict | None:
    return next((p for p in seeds.get("pairs", []) if p["measure"] == "gap" and (p["a"], p["b"]) == (a, b)), None)


def _per_seed(gap: dict) -> str:
    return ", ".join(f"{value * 100:+.1f}" for value in gap["per_seed"])
