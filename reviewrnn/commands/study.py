"""`reviewrnn study`: the long-dependency experiment end to end, written up in REPORT.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reviewrnn.commands.common import CorpusOption, TrainingThreadsOption, err, friendly_errors, out
from reviewrnn.commands.lab_options import PLOTS_HINT


@friendly_errors
def study(
    quick: Annotated[bool, typer.Option(help="A few minutes: a 6,000-review sample, small networks, 2 seeds.")] = False,
    corpus: CorpusOption = "imdb",
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where models, charts and REPORT.md go (default: models/study, models/study-quick with --quick).",
        ),
    ] = None,
    threads: TrainingThreadsOption = None,
    force: Annotated[bool, typer.Option(help="Retrain every run even when a matching one is there.")] = False,
    charts: Annotated[bool, typer.Option(help=f"Draw PNG charts ({PLOTS_HINT}).")] = True,
) -> None:
    """Train rnn/gru/lstm on whole reviews from 3 seeds each with one budget (plus pooling, truncation and
    clipping runs), then compare, move each review's decisive sentence, probe, measure gradient flow and
    clipping, and write OUT/REPORT.md with tables, charts and a reading.

    Runs already trained with exactly this plan are reused, so an interrupted study continues. The
    progress line names the run going and a rough time left for training.

    \b
    Example: reviewrnn study --quick && less models/study-quick/REPORT.md
    """
    from reviewrnn.artifacts import models_root
    from reviewrnn.callbacks import Callbacks
    from reviewrnn.commands.common import process_settings
    from reviewrnn.commands.display import TrainingDisplay
    from reviewrnn.lab.plan import StudyPlan
    from reviewrnn.lab.study import run_study

    process_settings(threads)  # the study trains: the same process-wide settings as `reviewrnn train`
    plan = StudyPlan.quick(threads, corpus) if quick else StudyPlan(corpus=corpus, threads=threads)
    target = out_dir or models_root() / ("study-quick" if quick else "study")
    with TrainingDisplay() as display:
        results = run_study(plan, target, Callbacks(display.stage, display.step, display.epoch), force, charts)
    minutes = results["timings"]["total"] / 60
    out.print(f"wrote {target / 'REPORT.md'} ({minutes:.1f} min)")
    err.print(f"results: {target / 'results.json'}")
