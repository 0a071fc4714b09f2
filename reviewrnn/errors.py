"""One exception type for every failure the user can fix; the CLI turns it into one line on stderr."""


class ReviewRNNError(Exception):
    """A failure with a message that says what went wrong and how to fix it (exit code 1)."""
