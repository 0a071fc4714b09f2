"""`evaluate --png`: the reliability diagram and, after --find-threshold, the threshold curve, as one PNG.

matplotlib is the optional `plots` extra, imported only here and only when a chart is asked for.
"""

from __future__ import annotations

import sys
from pathlib import Path

from reviewrnn.errors import ReviewRNNError

# The pip of the Python running reviewrnn: a bare `pip` may be another environment's (a new user's mistake).
INSTALL_HINT = (  # the interpreter running now: right whether reviewrnn came from a clone's .venv or elsewhere
    f"PNG charts need matplotlib, the plots extra: {sys.executable} -m pip install 'matplotlib>=3.7' "
    "(in a clone: .venv/bin/pip install -e '.[plots]')"
)
DPI = 120


def _defined(row: dict, key: str) -> float:
    """A curve value, or NaN (a gap in the line) for a precision where nothing is called positive."""
    return float("nan") if key == "precision" and row["positive_share"] == 0 else row[key]


def check_chart_possible(path: Path) -> None:
    """Fail before evaluate saves a threshold or temperature, not after: no matplotlib, or nowhere to write."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ReviewRNNError(INSTALL_HINT) from None
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)  # as decision_chart would, but before anything is saved
    except OSError as error:
        raise ReviewRNNError(f"{path}: cannot create its folder ({error.strerror}); choose another --png") from None


def decision_chart(calibration: dict, found: dict | None, path: Path) -> Path:
    """Reliability bins (accuracy against confidence, the diagonal is perfect) and the VALID threshold curve."""
    try:
        import matplotlib
    except ImportError:
        raise ReviewRNNError(INSTALL_HINT) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2 if found else 1, figsize=(11 if found else 5.5, 4.5), squeeze=False)
    axis = axes[0][0]
    bins = [row for row in calibration["bins"] if row["count"]]
    centres = [(row["low"] + row["high"]) / 2 for row in bins]
    axis.bar(centres, [row["accuracy"] for row in bins], width=0.09, alpha=0.7, label="accuracy")
    axis.plot([row["confidence"] for row in bins], [row["accuracy"] for row in bins], "o", color="black")
    axis.plot([0, 1], [0, 1], ":", color="grey", label="perfect calibration")
    axis.set(xlabel="top probability", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1))
    axis.set_title(f"Reliability (ECE {calibration['ece']:.4f})")
    axis.legend(loc="upper left")
    if found:
        axis = axes[0][1]
        thresholds = [row["threshold"] for row in found["curve"]]
        for key in ("precision", "recall", "f1", "balanced_accuracy"):
            values = [_defined(row, key) for row in found["curve"]]
            axis.plot(thresholds, values, label=key.replace("_", " "))
        axis.axvline(found["chosen"]["threshold"], color="grey", linestyle="--", label="chosen")
        axis.set(xlabel=f"threshold on P({found['positive_label']})", ylim=(0, 1.02))
        axis.set_title(f"VALID, {found['objective']}")
        axis.legend(loc="lower left")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(figure)
    return path
