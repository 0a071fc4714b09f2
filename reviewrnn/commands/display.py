"""Live training progress on stderr: a bar per epoch on a terminal, one line per stage and epoch in a log."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from reviewrnn.commands.common import err


class TrainingDisplay:
    """Draws the training callbacks: a bar per epoch (loss, accuracy, tokens/s, ETA), then a table row."""

    def __init__(self):
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeRemainingColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,  # a log or a pipe gets the lines alone: a stopped display writes a blank line
        )
        self.task = None
        self.header_shown = False

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def callbacks(self):
        from reviewrnn.callbacks import Callbacks

        return Callbacks(self.stage, self.step, self.epoch)

    def stage(self, message: str) -> None:
        self.progress.console.print(f"{message}…", style="dim")

    def step(self, report) -> None:
        if self.task is None:
            self.task = self.progress.add_task(f"epoch {report.epoch}", total=report.steps, stats="")
        self.progress.update(self.task, completed=report.step, stats=self.step_stats(report))

    def step_stats(self, report) -> str:
        """What the bar shows beside the step count (pretrain's display shows perplexity instead)."""
        return f"loss {report.loss:.3f} acc {report.running_accuracy:.1%} {report.tokens_per_s:,.0f} tok/s"

    def end_bar(self) -> None:
        """Remove the finished epoch's bar, so the epoch's line takes its place."""
        if self.task is not None:
            self.progress.remove_task(self.task)
            self.task = None

    def epoch(self, report) -> None:
        from reviewrnn.render import epoch_header, epoch_row

        self.end_bar()
        if not self.header_shown:
            self.progress.console.print(epoch_header(), style="bold")
            self.header_shown = True
        self.progress.console.print(epoch_row(report, report.improved))
