"""Corpora larger than memory (`train --on-disk`): read, split and encode through `datasets`' Arrow cache.

The in-memory path keeps every text and token id in Python lists, which is fine for IMDB's 50k
reviews and not for millions. Here the file becomes a memory-mapped Arrow table once; the split is
computed by `Dataset.map(batched=True)` with the same hash rule as `splits.split_corpus`; each part
is tokenized by another batched map into an Arrow cache file; and training batches read their ids
straight from that mapped file. What stays in RAM is a few numbers per review (split, label,
length), so memory stays flat as the corpus grows.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata

import numpy as np
from tokenizers import Tokenizer

from reviewrnn import fetch
from reviewrnn.corpus import (
    LABEL_COLUMNS,
    TEXT_COLUMNS,
    encode_labels,
    infer_label_names,
    label_key,
    pick_column,
    read_file,
)
from reviewrnn.corpusfile import CorpusFile, quiet_datasets, resolve, row_line, unreadable
from reviewrnn.data import EncodedSet, RaggedIds, truncate
from reviewrnn.errors import ReviewRNNError, RowError, empty_text, not_text
from reviewrnn.labelmap import UNMAPPED, LabelMap
from reviewrnn.splits import is_test_text, is_valid_text
from reviewrnn.tokenizer import encode

PARTS = {"train": 0, "valid": 1, "test": 2}
DUPLICATE = -1
MAP_BATCH = 1000  # reviews per batched map call: large enough for the Rust tokenizer, small enough for RAM
CACHE_VERSION = 2  # bump when what the cached Arrow files hold changes


@dataclass
class DiskCorpus:
    """A memory-mapped corpus plus, per row, its split part (or DUPLICATE) and integer label (or UNMAPPED)."""

    name: str
    sha256: str
    dataset: object  # datasets.Dataset, memory-mapped
    text_column: str
    label_column: str
    label_names: list[str]
    parts: np.ndarray  # int8 per row: PARTS value, or DUPLICATE for a repeated text
    labels: np.ndarray  # int64 per row
    unmapped_values: dict[str, int] = field(default_factory=dict)  # label values a --label-map dropped, counted

    def indices(self, part: str, limit: int | None = None) -> np.ndarray:
        rows = np.flatnonzero((self.parts == PARTS[part]) & (self.labels != UNMAPPED))
        return rows[:limit] if limit else rows

    def sizes(self) -> dict[str, int]:
        return {part: int(((self.parts == code) & (self.labels != UNMAPPED)).sum()) for part, code in PARTS.items()}

    def unmapped(self) -> dict[str, int]:
        """Per part: the reviews a --label-map dropped (counted after de-duplication, as in memory)."""
        return {part: int(((self.parts == code) & (self.labels == UNMAPPED)).sum()) for part, code in PARTS.items()}

    @property
    def duplicates_dropped(self) -> int:
        return int((self.parts == DUPLICATE).sum())


class TextColumn:
    """The texts of some rows, read from the mapped table a slice at a time (for tokenizer training)."""

    def __init__(self, corpus: DiskCorpus, rows: np.ndarray) -> None:
        self.texts = corpus.dataset.select_columns([corpus.text_column])
        self.column = corpus.text_column
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, wanted: slice) -> list[str]:
        return self.texts[self.rows[wanted]][self.column]


def load_disk_corpus(
    spec: str,
    text_column: str | None,
    label_column: str | None,
    valid_fraction: float,
    label_names: list[str] | None = None,
    label_map: LabelMap | None = None,
) -> DiskCorpus:
    """Read 'imdb' or a CSV/TSV/JSONL/Parquet file as Arrow and assign every row its split part."""
    datasets = quiet_datasets()
    found = resolve(spec, on_disk=True)
    dataset, path, digest = _arrow_table(found), found.path, found.sha256
    text_col = pick_column(dataset.column_names, text_column, TEXT_COLUMNS, "text", path)
    label_col = pick_column(dataset.column_names, label_column, LABEL_COLUMNS, "label", path)
    if len(dataset) == 0:
        raise ReviewRNNError(f"{path}: the corpus has no rows; it needs at least one review per class")
    feature = dataset.features[label_col]
    if not isinstance(feature, datasets.Value):
        raise ReviewRNNError(
            f"{path}: column {label_col!r} holds {type(feature).__name__} values; a label is a class name or number"
        )
    training = label_names is None
    if label_map is not None:
        label_names = label_names or list(label_map.names)
    elif training:
        keys = {label_key(value, path, 1, label_col) for value in dataset.unique(label_col)} - {""}
        label_names = infer_label_names(keys, path, label_col)
    settings = [CACHE_VERSION, digest, text_col, label_col, label_names, valid_fraction]
    settings += [label_map.text] if label_map else []  # keeps the cache key of runs without a map
    try:
        split = dataset.map(
            _SplitRows(path, text_col, label_col, label_names, valid_fraction, label_map),
            batched=True,
            batch_size=MAP_BATCH,
            with_indices=True,
            remove_columns=dataset.column_names,  # the new file holds only the small per-row columns
            cache_file_name=_cache_file("split", settings),
            new_fingerprint=_key(settings),
        )
    except RowError as error:
        raise error.at_line(row_line(found, error.row)) from None
    if len(split) != len(dataset):  # a cache file from another version of this file: never reuse it silently
        raise ReviewRNNError(f"{path}: the split cache does not match the file; delete {fetch.cache_dir() / 'ondisk'}")
    table = split.data.table
    labels = table.column("label").to_numpy().astype(np.int64)  # every row's, as the file gives them
    if training and (row := _first_empty_text(dataset, text_col, labels)) is not None:  # as corpus.py, uncached
        raise empty_text(path, row, text_col).at_line(row_line(found, row))
    if label_map is not None and training:
        label_map.check_present(np.bincount(labels[labels != UNMAPPED], minlength=len(label_names)), path, label_col)
    dropped = _dropped_values(dataset, label_col, labels, path) if label_map is not None else {}
    parts, kept = _parts_without_duplicates(table, labels)
    return DiskCorpus(found.name, digest, dataset, text_col, label_col, list(label_names), parts, kept, dropped)


def _first_empty_text(dataset, text_col: str, labels: np.ndarray) -> int | None:
    """The 1-based row of the first kept review whose text is empty or blank, if any."""
    import pyarrow.compute

    texts = dataset.data.table.column(text_col)
    blank = pyarrow.compute.equal(pyarrow.compute.utf8_trim_whitespace(texts), "").to_numpy(zero_copy_only=False)
    found = np.flatnonzero(blank & (labels != UNMAPPED))
    return int(found[0]) + 1 if len(found) else None


def _dropped_values(dataset, label_col: str, labels: np.ndarray, path) -> dict[str, int]:
    """The label values a --label-map dropped, counted by Arrow over the memory-mapped column (distinct values
    only ever reach Python), in the in-memory reader's order: most frequent first, then first seen."""
    import pyarrow
    import pyarrow.compute

    column = dataset.data.table.column(label_col).filter(pyarrow.array(labels == UNMAPPED))
    counts = Counter()
    for item in pyarrow.compute.value_counts(column).to_pylist():
        counts[label_key(item["values"], path, 0, label_col)] += item["counts"]
    return dict(counts.most_common())


def _parts_without_duplicates(table, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's split part, with every repeat of an earlier row's text marked DUPLICATE; and the labels, where
    a text's first copy is one a --label-map drops and a later copy one it keeps, with that copy's label on the
    first (as splits.split_corpus does)."""
    digests = np.stack([table.column("digest_high").to_numpy(), table.column("digest_low").to_numpy()], axis=1)
    parts = table.column("part").to_numpy().astype(np.int8)
    _, first, group = np.unique(digests, axis=0, return_index=True, return_inverse=True)
    repeated = np.ones(len(parts), dtype=bool)
    repeated[first] = False
    parts[repeated] = DUPLICATE
    kept = labels.copy()
    mapped = np.flatnonzero(labels != UNMAPPED)
    first_mapped = np.full(len(first), -1)
    first_mapped[group.ravel()[mapped][::-1]] = mapped[::-1]  # reversed: the earliest mapped copy is written last
    late = (labels[first] == UNMAPPED) & (first_mapped >= 0)
    kept[first[late]] = labels[first_mapped[late]]
    return parts, kept


class _SplitRows:
    """Batched map: each row's text hash (for de-duplication), split part and integer label.

    A class rather than a closure so `datasets` can fingerprint it; duplicates are found afterwards
    from 128-bit text hashes (two int64 columns), so a false match between different texts is as
    good as impossible.
    """

    def __init__(self, path, text_col, label_col, label_names, valid_fraction, label_map=None) -> None:
        self.path, self.text_col, self.label_col = str(path), text_col, label_col
        self.label_names, self.valid_fraction, self.label_map = label_names, valid_fraction, label_map

    def __call__(self, batch: dict, indices: list[int]) -> dict:
        texts = batch[self.text_col]
        for offset, text in enumerate(texts):
            if not isinstance(text, str):
                raise not_text(self.path, indices[offset] + 1, self.text_col, text)
        labels, _ = encode_labels(
            batch[self.label_col], self.path, self.label_col, self.label_names, indices[0] + 1, self.label_map
        )
        digests = [_digest(text) for text in texts]
        parts = [_part(text, self.valid_fraction) for text in texts]
        high, low = [high for high, _ in digests], [low for _, low in digests]
        return {"digest_high": high, "digest_low": low, "part": parts, "label": labels}


def _digest(text: str) -> tuple[int, int]:
    """The first 16 bytes of the text's sha256 as two signed int64 (Arrow's integer type)."""
    head = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(head[:8], "big", signed=True), int.from_bytes(head[8:16], "big", signed=True)


def _part(text: str, valid_fraction: float) -> int:
    if is_test_text(text):
        return PARTS["test"]
    return PARTS["valid"] if is_valid_text(text, valid_fraction) else PARTS["train"]


def _arrow_table(found: CorpusFile):
    """The checked file as a memory-mapped `datasets.Dataset`; CSV/TSV keep every field as the text it is.

    The Arrow copy is cached per content hash: `datasets` itself knows a file by path and mtime only.
    """
    if found.reader not in ("csv", "tsv"):
        return read_file(found)  # JSON Lines and Parquet already come back as mapped Arrow
    datasets = quiet_datasets()
    separator = found.separator
    with open(found.path, newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle, delimiter=separator))
    features = datasets.Features({column: datasets.Value("string") for column in header})
    try:
        return datasets.Dataset.from_csv(
            str(found.path),
            cache_dir=str(fetch.cache_dir() / "datasets" / found.sha256[:32]),
            features=features,
            sep=separator,
            keep_default_na=False,
        )
    except Exception as error:  # datasets wraps pandas/pyarrow errors in many types
        raise unreadable(found, error) from None


def encode_on_disk(
    corpus: DiskCorpus, rows: np.ndarray, tokenizer: Tokenizer, max_tokens: int, keep: str
) -> EncodedSet:
    """Tokenize `rows` with a batched map into an Arrow cache file and serve their ids from it."""
    import datasets

    if len(rows) == 0:  # datasets skips a map over no rows, so there would be no ids column
        return EncodedSet(RaggedIds([]), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    tokenizer_json = tokenizer.to_str()
    settings = [CACHE_VERSION, metadata.version("tokenizers"), corpus.sha256, corpus.text_column]
    settings.append(hashlib.sha256(tokenizer_json.encode()).hexdigest())
    settings += [max_tokens, keep, hashlib.sha256(rows.tobytes()).hexdigest()]
    features = datasets.Features(
        {"ids": datasets.List(datasets.Value("int32")), "full_length": datasets.Value("int64")}
    )
    encoded = corpus.dataset.select(rows).map(
        _EncodeRows(tokenizer_json, corpus.text_column, max_tokens, keep),
        batched=True,
        batch_size=MAP_BATCH,
        remove_columns=corpus.dataset.column_names,
        features=features,
        cache_file_name=_cache_file("encoded", settings),
        new_fingerprint=_key(settings),
    )
    table = encoded.data.table
    ids = RaggedIds.from_arrow(table.column("ids").chunks)
    return EncodedSet(ids, table.column("full_length").to_numpy(), corpus.labels[rows])


class _EncodeRows:
    """Batched map: truncated token ids (int32) and the full token count of each review."""

    def __init__(self, tokenizer_json: str, text_col: str, max_tokens: int, keep: str) -> None:
        self.tokenizer_json, self.text_col, self.max_tokens, self.keep = tokenizer_json, text_col, max_tokens, keep
        self.tokenizer = None

    def __call__(self, batch: dict) -> dict:
        if self.tokenizer is None:
            self.tokenizer = Tokenizer.from_str(self.tokenizer_json)
        rows = encode(self.tokenizer, batch[self.text_col])
        kept = [truncate(row, self.max_tokens, self.keep) for row in rows]
        return {"ids": kept, "full_length": [len(row) for row in rows]}

    def __getstate__(self) -> dict:  # fingerprinting pickles the callable: leave the loaded tokenizer out
        return {**self.__dict__, "tokenizer": None}


def _key(settings: list) -> str:
    return hashlib.sha256(json.dumps(settings).encode("utf-8")).hexdigest()[:32]


def _cache_file(kind: str, settings: list) -> str:
    directory = fetch.cache_dir() / "ondisk"
    directory.mkdir(parents=True, exist_ok=True)
    return str(directory / f"{kind}-{_key(settings)}.arrow")
