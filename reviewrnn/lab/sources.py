"""The corpus split a saved model was trained on, read once per process and shared by the lab's measurements.

A study measures several models of the same corpus; reading and splitting IMDB takes seconds, so
the split is kept by (corpus, columns, validation share, label order).
"""

from __future__ import annotations

from reviewrnn.config import RunConfig
from reviewrnn.splits import Split

_SPLITS: dict[tuple, Split] = {}


def model_split(config: RunConfig) -> Split:
    """TRAIN/VALID/TEST of the model's own corpus, by the canonical rule."""
    from reviewrnn.source import CorpusSettings, read_split

    corpus = config.corpus
    key = (corpus.name, corpus.text_column, corpus.label_column, corpus.label_map, config.train.valid_fraction)
    key += tuple(corpus.label_names)
    if key not in _SPLITS:
        settings = CorpusSettings.of_run(corpus)  # with the model's --label-map, if it had one
        _SPLITS.clear()  # one corpus at a time: IMDB's texts are ~65 MB
        _SPLITS[key] = read_split(settings, config.train.valid_fraction, corpus.label_names)[1]
    return _SPLITS[key]
