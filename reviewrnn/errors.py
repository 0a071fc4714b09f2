"""Exceptions for every failure the user can act on; the CLI turns each into one line on stderr."""

# Line breaks that a value quoted from the user's data (a label, a column name) may hold.
LINE_BREAKS = str.maketrans(
    {
        "\n": "\\n",
        "\r": "\\r",
        "\x0b": "\\v",
        "\x0c": "\\f",
        "\x85": "\\x85",
        "\u2028": "\\u2028",
        "\u2029": "\\u2029",
        "\x1c": "\\x1c",
        "\x1d": "\\x1d",
        "\x1e": "\\x1e",
    }
)


class ReviewRNNError(Exception):
    """A failure with a message that says what went wrong and how to fix it.

    The message is always one line: line breaks in it (from a quoted label, say) are written as escapes.
    """

    exit_code = 1
    label = "error"  # the word the CLI puts before the message

    def __init__(self, message: str = "", *args):
        super().__init__(str(message).translate(LINE_BREAKS), *args)


class FlagError(ReviewRNNError):
    """A flag the run cannot take, found below the CLI: one that cannot be read (labelmap.LabelMapError), or
    one that contradicts the model or run another flag names (train --init LM --hidden 64 where the LM has
    32). A usage error, exit 2, though only reading that model could tell."""

    exit_code = 2


def brief(error: object, limit: int = 120) -> str:
    """A library's error text on one line and cut short, to quote inside our own one-line message."""
    return " ".join(str(error).split())[:limit]


class RowError(ReviewRNNError):
    """A problem in one data row of a table. The readers count rows; an editor counts lines, and a quoted
    text with line breaks, a blank line or the header puts them apart, so the loader that knows the file
    gives the line with `at_line` (corpusfile.row_line: CSV, TSV and JSON Lines)."""

    def __init__(self, source, row: int, detail: str):
        self.source, self.row, self.detail = source, row, detail
        super().__init__(f"{source}: row {row}: {detail}")

    def __reduce__(self):  # an error raised inside `datasets`' map must survive pickling
        return RowError, (self.source, self.row, self.detail)

    def at_line(self, line: int | None) -> ReviewRNNError:
        """The same error at the file's line (path:line: ..., as for other errors in files), when known."""
        return ReviewRNNError(f"{self.source}:{line}: {self.detail}") if line else self


def not_text(source, row: int, column: str, value) -> RowError:
    """The error for a table cell that should hold a review's text and holds a number or other value."""
    return RowError(source, row, f"column {column!r} is {type(value).__name__}, expected text")


def empty_text(source, row: int, column: str) -> RowError:
    """A review to train on without words: nothing to learn from (a rating with no review)."""
    return RowError(source, row, f"empty text in column {column!r}; remove the rows without a review text")


class TrainingInterrupted(ReviewRNNError):
    """Training stopped on SIGINT/SIGTERM after saving a resumable checkpoint (exit 130 or 143)."""

    label = "interrupted"  # the user asked for it: not an error

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class TrainingDiverged(ReviewRNNError):
    """The loss or gradient became NaN or infinite; the last good epoch (if any) is kept."""
