"""Where a run may write its model: a new folder, or, with --force, a model directory of its own kind and
nothing else (never a folder of the user's files, another tool's folder, or the other kind of model)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from reviewrnn.artifacts import (
    CHECKPOINT_DIR,
    CHECKPOINT_STATE,
    CONFIG_FILE,
    EVAL_FILE,
    FAMILIARITY_FILES,
    HISTORY_FILE,
    MAX_CONFIG_BYTES,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    load_config,
    models_root,
)
from reviewrnn.domain import DOMAIN_FILE
from reviewrnn.errors import ReviewRNNError


def output_directory(name: str | None, out: Path | None, cell: str, force: bool, language_model: bool = False) -> Path:
    """models/<name>/ (a timestamped name by default); an existing model is replaced only with --force.

    --force replaces a model directory (or an empty one) and nothing else: a new user's `--out DIR --force`
    had swapped a folder of their own files, and `--out models` every model, for the new run's directory.
    """
    directory = out or models_root() / (name or f"{cell}-{datetime.now():%Y%m%d-%H%M%S}")
    if not directory.exists():
        return directory
    if not force:
        raise ReviewRNNError(f"{directory} already exists; choose another --name/--out or pass --force to replace it")
    if Path.cwd().resolve().is_relative_to(directory.resolve()):
        raise ReviewRNNError(f"{directory} holds the current directory; give a new folder to --name/--out")
    if not directory.is_dir():
        raise ReviewRNNError(f"{directory} is a file, not a model directory; --force replaces only a model")
    if not is_model_directory(directory):
        unreadable = (directory / CONFIG_FILE).is_file()  # another tool's, or a reviewrnn config.json damaged
        why = (
            "its config.json does not read as reviewrnn's"
            if unreadable
            else "no reviewrnn config.json or checkpoint/ in it"
        )
        raise ReviewRNNError(
            f"{directory} is not a reviewrnn model ({why}); --force replaces only a model directory, so choose "
            "another --name/--out" + (", or delete it yourself if it is a damaged model" if unreadable else "")
        )
    _refuse_other_kind(directory, language_model)
    if foreign := sorted(entry.name for entry in directory.iterdir() if not _written_by_reviewrnn(entry.name)):
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise ReviewRNNError(
            f"{directory} also holds files reviewrnn did not write ({shown}), which --force would delete with "
            "the model; move them out first, or choose another --name/--out"
        )
    return directory


def model_entries() -> frozenset[str]:
    """Everything reviewrnn writes into a model directory: --force refuses to delete anything else with it.
    (Imported here, not at the top: predict's cold start needs none of these modules.)"""
    from reviewrnn.seen import SEEN_FILE
    from reviewrnn.textprints import PRINTS_FILE

    core = {CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE, HISTORY_FILE, EVAL_FILE, CHECKPOINT_DIR, *FAMILIARITY_FILES}
    return frozenset(core | {DOMAIN_FILE, SEEN_FILE, PRINTS_FILE})


def _refuse_other_kind(directory: Path, language_model: bool) -> None:
    """train --force replaces a classifier, pretrain --force a language model, never the other kind: a trial's
    `pretrain --out models/bingru --force` had replaced a trained classifier with a language model."""
    if not (directory / CONFIG_FILE).is_file():
        return  # a run stopped before its first epoch, or an empty folder
    is_lm = load_config(directory).pretrain is not None
    if is_lm != language_model:
        kind, other = ("a classifier", "pretrain") if not is_lm else ("a language model", "train")
        raise ReviewRNNError(
            f"{directory} holds {kind}; `reviewrnn {other} --force` replaces only its own kind, so choose another "
            "--name/--out"
        )


def _written_by_reviewrnn(name: str) -> bool:
    """A model's own entry, or the temporary file of one that an atomic write left behind (.config.json.x.tmp)."""
    entries = model_entries()
    if name in entries:
        return True
    return name.startswith(".") and name.endswith(".tmp") and name[1:].rsplit(".", 2)[0] in entries


def is_model_directory(directory: Path) -> bool:
    """What --force may replace: a model or language model (a config.json that reads as reviewrnn's, not just
    any app's config.json), a run stopped before its first epoch ended (checkpoint/state.json), or an empty
    folder. A trial's Hugging Face folder and a project with its own config.json had been replaced whole."""
    if not any(directory.iterdir()) or (directory / CHECKPOINT_DIR / CHECKPOINT_STATE).is_file():
        return True
    try:
        path = directory / CONFIG_FILE
        raw = json.loads(path.read_text(encoding="utf-8")) if path.stat().st_size <= MAX_CONFIG_BYTES else None
    except (OSError, ValueError):
        return False
    sections = isinstance(raw, dict) and all(isinstance(raw.get(name), dict) for name in ("model", "train"))
    return sections and isinstance(raw.get("format_version"), int)
