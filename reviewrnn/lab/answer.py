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


def move_answer(moves: list[dict]) -> list[str]:
    """Start against end for each cell, pooled over seeds: does a verdict far from the end get lost?"""
    found = []
    for cell in dict.fromkeys(move["cell"] for move in moves):
        runs = [move for move in moves if move["cell"] == cell]
        counts = {p: sum(run["positions"][p]["count"] for run in runs) for p in ("start", "end")}
        hits = {p: sum(round(run["positions"][p]["accuracy"] * run["positions"][p]["count"]) for run in runs
                       if run["positions"][p]["count"]) for p in ("start", "end")}  # fmt: skip
        if not counts["start"] or not counts["end"]:
            continue
        low, high = difference_interval(hits["end"], counts["end"], hits["start"], counts["start"])
        end, start = hits["end"] / counts["end"], hits["start"] / counts["start"]
        distance = sum(run["positions"]["start"]["mean_distance"] * run["positions"]["start"]["count"] for run in runs)
        clear = "a clear loss" if low > 0 else "a clear gain" if high < 0 else "no clear change"
        found.append(
            f"{cell}: the decisive sentence at the end {end:.1%}, at the start {start:.1%} (on average "
            f"{distance / counts['start']:.0f} tokens before the end): {clear}, end minus start "
            f"{(end - start) * 100:+.1f} points {points(low, high)} over {len(runs)} seeds, {counts['start']} reviews."
        )
    return found


def plain_answer(results: dict) -> list[str]:
    return [*length_answer(results.get("seeds") or {}), *move_answer(results.get("moves") or [])]


def _pair(seeds: dict, a: str, b: str) -> dict | None:
    return next((p for p in seeds.get("pairs", []) if p["measure"] == "gap" and (p["a"], p["b"]) == (a, b)), None)


def _per_seed(gap: dict) -> str:
    return ", ".join(f"{value * 100:+.1f}" for value in gap["per_seed"])
