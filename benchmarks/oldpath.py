"""The predict path before issue 10, kept runnable so `make bench` can time it beside today's.

`python benchmarks/oldpath.py predict --file reviews.txt` runs the real command line with the old
scoring swapped in: chunks of 256 lines, batches of 64 grouped by length, inference.NumpyClassifier's
plain loop (numpy's BLAS left at its own threads). Tokenizing, reading and writing are today's code.
"""

from __future__ import annotations

import numpy as np

from reviewrnn.data import length_grouped_batches, pad_batch
from reviewrnn.inference import NumpyClassifier

OLD_CHUNK_LINES, OLD_BATCH_SIZE = 256, 64


class OldForward:
    """FastClassifier's interface over the old batching and forward pass."""

    def __init__(self, config, weights, threads=None):  # threads: predict --threads, which the old path lacked
        self.classifier = NumpyClassifier(config, weights)
        self.classes = config.num_classes

    def score(self, sequences) -> np.ndarray:
        lengths = np.fromiter((len(row) for row in sequences), dtype=np.int64, count=len(sequences))
        result = np.empty((len(sequences), self.classes), dtype=np.float32)
        for batch in length_grouped_batches(lengths, OLD_BATCH_SIZE):
            ids, batch_lengths = pad_batch([sequences[j] for j in batch])
            result[batch] = self.classifier.probabilities(ids, batch_lengths)
        return result


def use_old_path() -> None:
    import reviewrnn.predict

    reviewrnn.predict.FastClassifier = OldForward
    reviewrnn.predict.CHUNK_LINES = OLD_CHUNK_LINES


if __name__ == "__main__":
    use_old_path()
    from reviewrnn.cli import main

    main()
