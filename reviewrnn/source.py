"""Where a command's reviews come from: one corpus source with two backends, in memory or --on-disk.

open_source() is the one place that picks the backend and check_parts() the one empty-split check;
both backends resolve and check the file in corpusfile.py and split by the same hash rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from reviewrnn.config import CorpusInfo, TrainConfig
from reviewrnn.corpus import Corpus, Examples, load_corpus
from reviewrnn.errors import ReviewRNNError
from reviewrnn.labelmap import LabelMap, dropped_values
from reviewrnn.splits import Split, split_corpus

SPLITS = ("train", "valid", "test")
ALL = "all"  # every review of a file: evaluate --corpus on a labelled sample the model never trained on


@dataclass
class CorpusSettings:
    """How to find and read the corpus (`--corpus`, `--text-column`, `--label-column`, `--label-map`)."""

    spec: str = "imdb"
    text_column: str | None = None
    label_column: str | None = None
    label_map: LabelMap | None = None
    labels: bool = True  # False: a file's labels are not read (pretraining splits it by its texts alone)

    @classmethod
    def of_run(cls, corpus: CorpusInfo) -> CorpusSettings:
        """The settings a model was trained with, from its config.json."""
        label_map = LabelMap.parse(corpus.label_map) if corpus.label_map else None
        return cls(corpus.name, corpus.text_column, corpus.label_column, label_map)


def read_split(
    settings: CorpusSettings, valid_fraction: float, label_names: list[str] | None = None, needed: str | None = None
) -> tuple[Corpus, Split]:
    """The whole corpus in memory and its canonical split (`needed`: see check_parts)."""
    corpus = load_corpus(
        settings.spec, settings.text_column, settings.label_column, label_names, settings.label_map, settings.labels
    )
    split = split_corpus(corpus.examples, valid_fraction)
    check_parts(settings.spec, split.sizes(), split.unmapped, corpus.unmapped_values, needed)
    return corpus, split


def check_parts(
    spec: str,
    sizes: dict[str, int],
    unmapped: dict[str, int] | None = None,
    values: dict[str, int] | None = None,
    needed: str | None = None,
) -> None:
    """The parts a command reads must keep reviews after de-duplication and --label-map: TRAIN and TEST by
    default (an empty VALID is the caller's to judge), only `needed` when a command reads one part (evaluate
    --split), and any part for ALL. An error names the label values the map dropped, so a map written for
    another file's labels shows what to write instead."""
    unmapped = unmapped or {}
    if needed == ALL:
        if sum(sizes.values()) == 0 and any(unmapped.values()):
            raise _nothing_kept(spec, sum(unmapped.values()), "", values)
        return
    for part in (needed,) if needed else ("train", "test"):
        if sizes[part] == 0:
            if unmapped.get(part):
                raise _nothing_kept(spec, unmapped[part], f" {part}", values)
            if needed:  # a small file's VALID or TEST slice can be empty without any duplicate
                raise ReviewRNNError(
                    f"{spec}: its {part} split holds no review (a small file's {part} slice can be empty); "
                    "score another split"
                )
            raise ReviewRNNError(
                f"{spec}: the {part} split is empty after de-duplication; the corpus needs more reviews"
            )


def _nothing_kept(spec: str, dropped: int, part: str, values: dict[str, int] | None) -> ReviewRNNError:
    found = f" (label values in the file: {dropped_values(values)})" if values else ""
    return ReviewRNNError(
        f"{spec}: the label map maps none of the {dropped}{part} reviews{found}; "
        "give a --label-map for this file's labels"
    )


def open_source(
    settings: CorpusSettings,
    valid_fraction: float,
    on_disk: bool = False,
    label_names: list[str] | None = None,
    limit: int | None = None,
    needed: str | None = None,
) -> InMemorySource | OnDiskSource:
    """The corpus, split, through the backend a run was trained with; `limit` keeps the first TRAIN reviews;
    `needed`: the one part (or ALL) the caller reads, when not TRAIN and TEST (check_parts)."""
    backend = OnDiskSource if on_disk else InMemorySource
    return backend(settings, valid_fraction, label_names, limit, needed)


class InMemorySource:
    """The corpus as Python lists (corpus.py): simple and fast for anything that fits in RAM."""

    def __init__(self, settings: CorpusSettings, valid_fraction: float, label_names=None, limit=None, needed=None):
        corpus, split = read_split(settings, valid_fraction, label_names, needed)
        train = Examples(split.train.texts[:limit], split.train.labels[:limit]) if limit else split.train
        self.parts = {"train": train, "valid": split.valid, "test": split.test}
        self.train_texts = train.texts
        self.info = _info(corpus, split.sizes(), len(train), split.duplicates_dropped, settings, split.unmapped)

    def texts(self, part: str) -> list[str]:
        """One part's texts (ALL: every part's), in the order encode() gives their reviews."""
        return [text for name in (SPLITS if part == ALL else (part,)) for text in self.parts[name].texts]

    def encode(self, tokenizer, part: str, max_tokens: int, keep: str):
        """One part as a data.EncodedSet: ids truncated to `max_tokens`, keeping the head or the tail."""
        from reviewrnn.data import encode_set

        labels = [label for name in (SPLITS if part == ALL else (part,)) for label in self.parts[name].labels]
        return encode_set(tokenizer, self.texts(part), labels, max_tokens, keep)


class OnDiskSource:
    """The corpus as memory-mapped Arrow (ondisk.py): flat memory whatever the corpus size."""

    def __init__(self, settings: CorpusSettings, valid_fraction: float, label_names=None, limit=None, needed=None):
        from reviewrnn.ondisk import TextColumn, load_disk_corpus

        corpus = load_disk_corpus(
            settings.spec, settings.text_column, settings.label_column, valid_fraction, label_names, settings.label_map
        )
        check_parts(settings.spec, corpus.sizes(), corpus.unmapped(), corpus.unmapped_values, needed)
        self.corpus = corpus
        self.rows = {part: corpus.indices(part, limit if part == "train" else None) for part in SPLITS}
        self.train_texts = TextColumn(corpus, self.rows["train"])
        train_used, unmapped = len(self.rows["train"]), corpus.unmapped()
        self.info = _info(corpus, corpus.sizes(), train_used, corpus.duplicates_dropped, settings, unmapped)

    def texts(self, part: str):
        """One part's texts (ALL: every part's), read from the mapped table a slice at a time."""
        from reviewrnn.ondisk import TextColumn

        return TextColumn(self.corpus, self._rows(part))

    def encode(self, tokenizer, part: str, max_tokens: int, keep: str):
        """One part as a data.EncodedSet whose ids are read from an Arrow cache file."""
        from reviewrnn.ondisk import encode_on_disk

        return encode_on_disk(self.corpus, self._rows(part), tokenizer, max_tokens, keep)

    def _rows(self, part: str):
        import numpy as np

        return np.concatenate([self.rows[name] for name in SPLITS]) if part == ALL else self.rows[part]


def _info(corpus, sizes, train_used: int, duplicates_dropped: int, settings, unmapped) -> CorpusInfo:
    """What config.json records about the corpus a run read (with a --label-map: the map, and per
    split how many reviews it dropped)."""
    sizes = sizes | {"train_used": train_used, "duplicates_dropped": duplicates_dropped}
    names = list(corpus.label_names)
    info = CorpusInfo(corpus.name, corpus.sha256, corpus.text_column, corpus.label_column, names, sizes)
    if settings.label_map is not None:
        info.label_map, info.unmapped = settings.label_map.text, dict(unmapped)
        info.unmapped_values = dict(corpus.unmapped_values)
    return info


def corpus_summary(settings: CorpusSettings, valid_fraction: float = TrainConfig.valid_fraction) -> dict:
    """What `reviewrnn corpus` shows: where it lives, split sizes, class balance, length quantiles in words."""
    from reviewrnn.fetch import cache_dir
    from reviewrnn.tokenizer import quantile

    corpus, split = read_split(settings, valid_fraction)
    parts = {}
    for name in SPLITS:
        part = getattr(split, name)
        words = sorted(len(text.split()) for text in part.texts)
        counts = [part.labels.count(k) for k in range(len(corpus.label_names))]
        parts[name] = {
            "count": len(part),
            "class_share": [count / max(len(part), 1) for count in counts],
            "words": {"median": quantile(words, 0.5), "p90": quantile(words, 0.9), "p99": quantile(words, 0.99)},
        }
        if settings.label_map is not None:
            parts[name]["unmapped"] = split.unmapped[name]
    return {
        "name": corpus.name,
        "path": str(corpus.path) if corpus.path else None,
        "sha256": corpus.sha256,
        "cache_dir": str(cache_dir()),
        "rows": len(corpus.examples),
        "duplicates_dropped": split.duplicates_dropped,
        "text_column": corpus.text_column,
        "label_column": corpus.label_column,
        "label_names": corpus.label_names,
        "label_map": settings.label_map.text if settings.label_map else None,
        "unmapped_values": corpus.unmapped_values,
        "splits": parts,
    }
