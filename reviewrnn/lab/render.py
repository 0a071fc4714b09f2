"""Rich renderables for the trace (`predict --trace`): plain values in, text out, no printing."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.text import Text

SPARKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 100  # longer traces are sampled down to this many characters
MOVE_STYLES = (  # (smallest |change| of the traced probability, style when it rises, when it falls)
    (0.15, "bold white on dark_green", "bold white on red3"),
    (0.05, "bold green", "bold red"),
    (0.01, "green", "red"),
)


def sparkline(values: np.ndarray, width: int = SPARK_WIDTH) -> str:
    """Probabilities in [0, 1] as block characters; at most `width` of them."""
    values = np.asarray(values, dtype=float)
    if len(values) > width:
        values = values[np.linspace(0, len(values) - 1, width).round().astype(int)]
    levels = np.clip((values * len(SPARKS)).astype(int), 0, len(SPARKS) - 1)
    return "".join(SPARKS[level] for level in levels)


def move_style(change: float) -> str:
    for smallest, rising, falling in MOVE_STYLES:
        if abs(change) >= smallest:
            return rising if change > 0 else falling
    return ""


def trace_view(trace, top: int = 5) -> Group:
    """The review coloured by how each token moved the prediction, a sparkline, and the biggest moves."""
    if not trace.tokens:
        return Group(Text("(no tokens: nothing to trace)", style="dim"))
    moves = trace.moves()
    body, position = Text(), 0
    for (start, end), change in zip(trace.offsets, moves):
        body.append(trace.text[position:start])
        body.append(trace.text[start:end], style=move_style(float(change)))
        position = end
    body.append(trace.text[position:] if not trace.dropped else " …")
    name = trace.label_names[trace.traced]
    series = trace.probabilities[:, trace.traced]
    final = trace.to_record()
    line = Text.assemble(
        (f"P({name}) ", "bold"),
        sparkline(series),
        f"  {trace.prior[trace.traced]:.2f} → {series[-1]:.2f}   ",
        (f"{final['label']} {final['probability']:.1%}", "bold"),
    )
    order = np.argsort(-np.abs(moves))[:top]
    biggest = Text("moved most: ", style="dim")
    for rank, index in enumerate(order):
        biggest.append(" · " if rank else "")
        biggest.append(f"{trace.tokens[index]} {moves[index]:+.2f}", style=move_style(float(moves[index])))
    if trace.dropped:
        biggest.append(f"   ({trace.dropped} tokens past the model's max_tokens not read)", style="dim")
    return Group(body, line, biggest)


def trace_legend(name: str) -> Text:
    return Text(f"green raised P({name}), red lowered it; the stronger the colour, the larger the change", style="dim")
