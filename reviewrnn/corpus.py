"""Read a labelled review corpus into memory: 'imdb' (fetched by fetch.py), a local file, or a Hub id.

CSV and TSV are read with pandas, every field as text; JSON (Lines), Parquet and Hub ids with
`datasets`. splits.py then splits it by the canonical rule, so results compare with any other tool.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from reviewrnn import fetch
from reviewrnn.corpusfile import HUB_PREFIX, CorpusFile, quiet_datasets, resolve, row_line, unreadable
from reviewrnn.errors import ReviewRNNError, RowError, brief, empty_text, not_text
from reviewrnn.labelmap import UNMAPPED, LabelMap

TEXT_COLUMNS = ("text", "review")
LABEL_COLUMNS = ("label", "sentiment")
NEGATIVE_NAMES = {"0", "neg", "negative"}
POSITIVE_NAMES = {"1", "pos", "positive"}


@dataclass
class Examples:
    """Parallel lists of review texts and integer labels."""

    texts: list[str]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class Corpus:
    """A whole labelled corpus as read, before splitting."""

    name: str
    examples: Examples
    label_names: list[str]
    text_column: str
    label_column: str
    path: Path | None = None
    sha256: str | None = None
    unmapped_values: dict[str, int] = field(default_factory=dict)  # label values a --label-map dropped, counted


def load_corpus(
    spec: str = "imdb",
    text_column: str | None = None,
    label_column: str | None = None,
    label_names: list[str] | None = None,
    label_map: LabelMap | None = None,
    labels: bool = True,
) -> Corpus:
    """Read 'imdb', a local file, or 'hub:ID' into a Corpus with integer labels.

    `label_names` fixes the label order (a trained model's classes); otherwise it is inferred.
    With `label_map`, rows whose label it does not map get the label UNMAPPED (split_corpus drops them).
    labels=False (pretraining, which splits a file by its texts alone): a file's labels are not read, so
    a missing or empty rating costs nothing; every row gets label 0 and the corpus no label names.
    """
    if spec.startswith(HUB_PREFIX):
        return _load_hub(spec.removeprefix(HUB_PREFIX), text_column, label_column, label_names, label_map)
    found = resolve(spec)
    try:
        return _read_corpus(found, text_column, label_column, label_names, label_map, labels)
    except RowError as error:
        raise error.at_line(row_line(found, error.row)) from None


def _read_corpus(found: CorpusFile, text_column, label_column, label_names, label_map, labels: bool) -> Corpus:
    dataset, path = read_file(found), found.path
    text_col = pick_column(dataset.column_names, text_column, TEXT_COLUMNS, "text", path)
    if not labels and found.name != "imdb":  # pretraining: labels unread, and an empty text is no error
        texts = _check_texts(dataset[text_col], path, text_col)
        return Corpus(found.name, Examples(texts, [0] * len(texts)), [], text_col, "", path, found.sha256)
    label_col = pick_column(dataset.column_names, label_column, LABEL_COLUMNS, "label", path)
    texts = _check_texts(dataset[text_col], path, text_col)
    raw = list(dataset[label_col])
    labels, names = encode_labels(raw, path, label_col, label_names, label_map=label_map)
    if label_names is None:  # to train on: a kept review needs words (a model's own corpus reads as it always did)
        refuse_empty_texts(texts, labels, path, text_col)
    _check_mapped(labels, label_names, label_map, path, label_col)
    dropped = _unmapped_values(raw, labels, path, label_col)
    return Corpus(found.name, Examples(texts, labels), names, text_col, label_col, path, found.sha256, dropped)


def read_file(found: CorpusFile):
    """The checked file through pandas (CSV/TSV) or `datasets` (JSON, Parquet).

    `datasets` recognises a file it converted before by its path and modification time only, so a
    file replaced in place with its time kept (cp -p, rsync -a, tar) would come back as the old
    data. Its Arrow cache is therefore kept per content hash."""
    try:
        if found.reader in ("csv", "tsv"):
            return _read_delimited(found.path, found.separator)
        datasets = quiet_datasets()
        cache = str(fetch.cache_dir() / "datasets" / found.sha256[:32])
        if found.reader == "json":
            return datasets.Dataset.from_json(str(found.path), cache_dir=cache)
        return datasets.Dataset.from_parquet(str(found.path), cache_dir=cache)
    except Exception as error:  # datasets wraps pandas/pyarrow errors in many types
        raise unreadable(found, error) from None


def _read_delimited(path: Path, separator: str) -> _Columns:
    """Every field as the text it is: a review that reads "0", "True" or "NA" stays that string
    (pandas would make it a number, a bool or missing), and a label never overflows an integer."""
    import pandas

    frame = pandas.read_csv(path, sep=separator, dtype=str, keep_default_na=False, encoding="utf-8")
    frame = frame.fillna("")  # a field missing from a short row: empty, like an empty field
    return _Columns({str(name): frame[name].tolist() for name in frame.columns})


class _Columns(dict):
    """Whole columns by name: all of a `datasets.Dataset` that load_corpus uses."""

    @property
    def column_names(self) -> list[str]:
        return list(self)


class ColumnError(ReviewRNNError):
    """A table without the column a role needs; the advice names the flag, which the caller may rename."""

    def __init__(self, problem: str, advice: str, role: str, flag: str | None = None) -> None:
        self.problem, self.advice, self.role = problem, advice, role
        super().__init__(f"{problem}; {advice} {flag or f'--{role}-column'}")

    def naming(self, flag: str) -> ColumnError:
        """The same error, pointing at `flag` (pretrain reads its corpus's text column with --corpus-column)."""
        return ColumnError(self.problem, self.advice, self.role, flag)


class Preferred(str):
    """A column name to use where the table has it, else the usual names. `evaluate --corpus` reads
    another file through the model's own columns this way: its --label-map maps the ratings of its
    rating column, and a file labelled some other way still falls back to label/sentiment."""


def pick_column(columns: list[str], wanted: str | None, defaults: tuple[str, ...], role: str, path) -> str:
    if isinstance(wanted, Preferred):
        defaults, wanted = (str(wanted), *(name for name in defaults if name != wanted)), None
    if wanted is not None:
        if wanted not in columns:
            raise ColumnError(f"{path}: no column {wanted!r} (columns: {', '.join(columns)})", "fix", role)
        return wanted
    for name in defaults:
        if name in columns:
            return name
    looked = f"looked for {', '.join(defaults)}; columns: {', '.join(columns)}"
    if len(columns) == 1 and ";" in columns[0]:  # Excel in many locales saves CSV with semicolons
        raise ReviewRNNError(
            f"{path}: one column named {columns[0]!r}: the file looks separated by semicolons; save it as CSV "
            "with commas, or as tab-separated .tsv"
        )
    raise ColumnError(f"{path}: no {role} column ({looked})", "name it with", role)


def _check_texts(values, path, column: str) -> list[str]:
    texts = list(values)
    if not texts:
        raise ReviewRNNError(f"{path}: the corpus has no rows; it needs at least one review per class")
    for row, text in enumerate(texts, start=1):
        if not isinstance(text, str):
            raise not_text(path, row, column, text)
    return texts


def refuse_empty_texts(texts: list[str], labels: list[int], path, column: str) -> None:
    """A review to train on without words was learned as an empty review; one a --label-map drops (a 3-star
    rating with no text) is no matter."""
    for row, (text, label) in enumerate(zip(texts, labels, strict=True), start=1):
        if label != UNMAPPED and not text.strip():
            raise empty_text(path, row, column)


def encode_labels(
    values: list,
    path,
    column: str,
    label_names: list[str] | None = None,
    first_row: int = 1,
    label_map: LabelMap | None = None,
) -> tuple[list[int], list[str]]:
    """Map raw labels to 0..K-1. 0/1, neg/pos and negative/positive become negative=0, positive=1.

    `first_row` numbers the rows in errors when `values` is one batch of a larger file. A
    `label_map` decides instead: what it does not map (an empty label too) becomes UNMAPPED.
    """
    keys = [label_key(value, path, row, column) for row, value in enumerate(values, start=first_row)]
    if label_map is not None:
        return label_map.encode(keys, label_names, path)
    for row, key in enumerate(keys, start=first_row):
        if key == "":
            raise RowError(path, row, f"empty label in column {column!r}; every review needs a label")
    if label_names is None:
        label_names = infer_label_names(set(keys), path, column)
    index = {name.lower(): i for i, name in enumerate(label_names)}
    if set(label_names) == {"negative", "positive"}:
        index.update({alias: index["negative"] for alias in NEGATIVE_NAMES})
        index.update({alias: index["positive"] for alias in POSITIVE_NAMES})
    labels = []
    for row, key in enumerate(keys, start=first_row):
        if key not in index:
            choices = ", ".join(label_names)
            advice = "fix the label column or map it with --label-map"
            raise RowError(path, row, f"label {key!r} is not one of {choices}; {advice}")
        labels.append(index[key])
    return labels, list(label_names)


def label_key(value, path, row: int, column: str) -> str:
    """A label as a lower-case name; a whole number in any spelling ("1", "1.0", 1.0) as its digits."""
    if value is None:
        return ""
    if isinstance(value, list | dict):
        kind = type(value).__name__
        raise RowError(path, row, f"column {column!r} holds a {kind}; a label is a class name or number")
    key = str(value).strip().lower()
    try:
        return str(int(key))
    except ValueError:
        pass
    try:
        number = float(key)
    except ValueError:
        return key
    return str(int(number)) if number.is_integer() and abs(number) < 2**53 else key


def _unmapped_values(raw: list, labels: list[int], path, column: str) -> dict[str, int]:
    """Each label value a --label-map dropped, with its count, most frequent first: a typo ("five", "6")
    shows beside the 3-star reviews it was dropped with."""
    counts = Counter(label_key(value, path, 0, column) for value, label in zip(raw, labels) if label == UNMAPPED)
    return dict(counts.most_common())


def _check_mapped(labels: list[int], label_names, label_map: LabelMap | None, path, column: str) -> None:
    """A map used for training must leave reviews of every class it names."""
    if label_map is not None and label_names is None:
        label_map.check_present([labels.count(k) for k in range(len(label_map.names))], path, column)


def infer_label_names(keys: set[str], path, column: str) -> list[str]:
    if keys <= NEGATIVE_NAMES | POSITIVE_NAMES and keys & NEGATIVE_NAMES and keys & POSITIVE_NAMES:
        return ["negative", "positive"]
    if len(keys) < 2:
        raise ReviewRNNError(
            f"{path}: column {column!r} holds one class ({', '.join(keys)}); a classifier needs at least two"
        )
    return sorted(keys)


def _load_hub(dataset_id: str, text_column, label_column, label_names, label_map=None) -> Corpus:
    """A Hub dataset for online users: all labelled splits, re-split by the canonical rule."""
    import datasets

    datasets.disable_progress_bars()
    try:
        loaded = datasets.load_dataset(dataset_id, cache_dir=str(fetch.cache_dir() / "datasets"))
    except Exception as error:
        detail = brief(error, 160)
        raise ReviewRNNError(
            f"hub:{dataset_id}: cannot load from the Hugging Face Hub ({detail}); "
            "check the id and network, or download it and pass a local file"
        ) from None
    parts = [part for name, part in loaded.items() if name != "unsupervised"]
    dataset = datasets.concatenate_datasets(parts)
    text_col = pick_column(dataset.column_names, text_column, TEXT_COLUMNS, "text", f"hub:{dataset_id}")
    label_col = pick_column(dataset.column_names, label_column, LABEL_COLUMNS, "label", f"hub:{dataset_id}")
    raw = list(dataset[label_col])
    feature = dataset.features[label_col]
    if hasattr(feature, "names"):
        raw = [feature.names[i] if isinstance(i, int) and i >= 0 else None for i in raw]
    texts = _check_texts(dataset[text_col], f"hub:{dataset_id}", text_col)
    labels, names = encode_labels(raw, f"hub:{dataset_id}", label_col, label_names, label_map=label_map)
    _check_mapped(labels, label_names, label_map, f"hub:{dataset_id}", label_col)
    return Corpus(f"hub:{dataset_id}", Examples(texts, labels), names, text_col, label_col)
