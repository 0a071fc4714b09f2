"""Exceptions for every failure the user can act on; the CLI turns each into one line on stderr."""


class ReviewRNNError(Exception):
    """A failure with a message that says what went wrong and how to fix it."""

    exit_code = 1
    label = "error"  # the word the CLI puts before the message


class TrainingInterrupted(ReviewRNNError):
    """Training stopped on SIGINT/SIGTERM after saving a resumable checkpoint (exit 130 or 143)."""

    label = "interrupted"  # the user asked for it: not an error

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class TrainingDiverged(ReviewRNNError):
    """The loss or gradient became NaN or infinite; the last good epoch (if any) is kept."""
