"""`make bench`'s kernel table: what fastrnn runs its block products on here (kernels.py: oneDNN or
MKL, and the block size), and what every alternative measured, freshly timed beside the choice."""

from __future__ import annotations

import os

import torch
from rich.console import Console
from rich.table import Table

from reviewrnn import kernels
from reviewrnn.fastrnn import FAST_FUNCTIONS, GATES


def kernels_table(console: Console, batch: int, embed: int, hidden: int) -> None:
    """What fastrnn runs its block products on here, and what every alternative measured (kernels.py)."""
    table = Table(
        title=f"fastrnn's kernels (batch {batch}, embed/hidden {embed}/{hidden}, {torch.get_num_threads()} threads; "
        f"{kernels.ENV}={os.environ.get(kernels.ENV, 'measure')})",
        title_justify="left",
    )
    for column in ("cell", "used", "from", "block products: " + " / ".join(kernels.BACKENDS), "layer ms by block"):
        table.add_column(column, justify="right")
    for cell, function in FAST_FUNCTIONS.items():
        plan = kernels.plan_for(function, cell, batch, embed, hidden, GATES[cell])
        source = kernels.chosen()[kernels.problem_key(cell, embed, hidden)][1]
        _, seconds = kernels.measure(function, batch, embed, hidden, GATES[cell])  # measured again, to show
        products = " / ".join(f"{1e3 * seconds['backend'].get(name, float('nan')):.2f}" for name in kernels.BACKENDS)
        blocks = "  ".join(
            f"{block}: {1e3 * value:.0f}"
            for block, value in sorted(seconds["block"].items(), key=lambda kv: int(kv[0]))
        )
        table.add_row(cell, f"{plan.backend}, {plan.block} steps", source, products + " ms", blocks)
    table.caption = "used: this process's plan (from the cache or measured now); the timings are a fresh measurement."
    console.print(table)
