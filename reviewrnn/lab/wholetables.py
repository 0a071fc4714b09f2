"""The tables of the whole-review runs: cells over seeds (lab/seeds.py) and the sentence move (lab/move.py)."""

from __future__ import annotations

import numpy as np

from reviewrnn.lab.move import distance_name
from reviewrnn.lab.rows import Cell, Column, Table
from reviewrnn.lab.tables import MISSING, points
from reviewrnn.render import bucket_name


def _interval(item: dict) -> str:
    return f"{item['difference'] * 100:+.1f} {points(item['ci_low'], item['ci_high'])}"


def seed_length_table(seeds: dict) -> Table:
    """Buckets down, cells across: the seed-mean accuracy, min-max over seeds, Wilson interval and count."""
    cells = seeds["cells"]
    rows = []
    for index, bucket in enumerate(cells[0]["buckets"]):
        row = [Cell(distance_name(bucket))]
        for cell in cells:
            b = cell["buckets"][index]
            row.append(
                Cell(
                    f"{b['mean']:.1%} ({b['min']:.1%}–{b['max']:.1%})",
                    f"{b['ci_low']:.1%}–{b['ci_high']:.1%} · n={b['count']}",
                )
            )
        rows.append(row)
    title = f"Test accuracy by length (tokens), read whole: mean over {seeds['seeds']} seeds (min–max)"
    notes = ["Detail: 95% Wilson interval of the seed-mean accuracy at the bucket's n · reviews in the bucket."]
    return Table(title, [Column("tokens", left=True), *(Column(c["cell"]) for c in cells)], rows, notes=notes)


def seed_gap_table(seeds: dict) -> Table:
    """Per cell: accuracy and the shortest-minus-longest gap over seeds, each with its combined interval."""
    rows = []
    for cell in seeds["cells"]:
        accuracy, gap = cell["accuracy"], cell["gap"]
        row = [Cell(cell["cell"]), Cell(f"{accuracy['mean']:.1%}", f"{accuracy['min']:.1%}–{accuracy['max']:.1%}")]
        if gap:
            row += [
                Cell(f"{bucket_name(gap['short'])} / {bucket_name(gap['long'])}"),
                Cell(_interval(gap), strong=gap["clear"]),
                Cell(", ".join(f"{value * 100:+.1f}" for value in gap["per_seed"])),
            ]
        rows.append(row if gap else [*row, MISSING, MISSING, MISSING])
    columns = [Column("cell", left=True), Column("test accuracy (min–max)"), Column("short / long", left=True)]
    columns += [Column("gap, points [95%]"), Column("gap per seed")]
    title = "Shortest minus longest bucket over seeds, read whole; bold: the interval excludes 0"
    notes = [
        "Interval: seed mean ± sqrt((t(0.975, k-1) · SD/√k)² + (1.96 · √(mean binomial variance))²): the spread "
        "between seeds, and the review-level noise within a seed (same TEST reviews for every seed, so not /k); "
        "cut at what is possible (0-100% for an accuracy, ±100 points for a gap)."
    ]
    return Table(title, columns, rows, notes=notes)


def pair_table(seeds: dict) -> Table:
    """Every pair of cells on test accuracy and on the gap: difference, interval, seed pairs that agree."""
    rows = []
    for item in seeds["pairs"]:
        label = "test accuracy" if item["measure"] == "accuracy" else "length gap"
        rows.append(
            [
                Cell(f"{item['a']} − {item['b']}"),
                Cell(label),
                Cell(_interval(item), strong=item["clear"]),
                Cell(f"{item['wins']}/{item['pairs']}"),
            ]
        )
    columns = [Column("cells", left=True), Column("measure", left=True), Column("difference, points [95%]")]
    columns += [Column("seed pairs with a > b")]
    title = "The cells' ranking: pairwise differences of seed means; bold: the interval excludes 0"
    notes = [
        "Same combination as above, with the between-seed variances of both cells added (SD²/k each) and "
        "both cells' mean binomial variances; a positive length-gap difference means the first cell loses more "
        f"with length. Ranking by mean test accuracy: {' > '.join(seeds['ranking'])}."
    ]
    return Table(title, columns, rows, notes=notes)


def move_table(moves: list[dict]) -> Table:
    """Distance buckets down, cells across: accuracy averaged over seeds, each seed's figure beside it."""
    cells = list(dict.fromkeys(move["cell"] for move in moves))
    by_cell = {cell: [move for move in moves if move["cell"] == cell] for cell in cells}
    rows = []
    for index, bucket in enumerate(moves[0]["rows"]):
        if not any(move["rows"][index]["count"] for move in moves):
            continue
        row = [Cell(distance_name(bucket))]
        row += [_move_cell([move["rows"][index] for move in by_cell[cell]]) for cell in cells]
        rows.append(row)
    footer = []
    for position in ("start", "middle", "end"):
        row = [Cell(f"at the {position}")]
        row += [_move_cell([move["positions"][position] for move in by_cell[cell]]) for cell in cells]
        footer.append(row)
    reviews = ", ".join(f"{move['name']} {move['reviews']}" for move in moves)
    title = "The decisive sentence moved: accuracy by tokens between it and the end (mean over seeds)"
    notes = [f"Detail: each seed's accuracy · reviews in the bucket (all seeds). Reviews moved per model: {reviews}."]
    return Table(title, [Column("distance", left=True), *(Column(cell) for cell in cells)], rows, footer, notes)


def _move_cell(rows: list[dict]) -> Cell:
    values = [row["accuracy"] for row in rows if row["count"]]
    if not values:
        return MISSING
    each = " / ".join(f"{value:.0%}" for value in values)
    return Cell(f"{np.mean(values):.1%}", f"{each} · n={sum(row['count'] for row in rows)}")
