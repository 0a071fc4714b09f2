"""Save and load a model directory: config.json, tokenizer.json, model.safetensors, history.json.

Writes are atomic (temp file beside, fsync, rename; a whole model staged and swapped in), so a crash
never leaves a half-written model where a good one was. Loading reads only JSON and safetensors and
checks every tensor against the config."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from reviewrnn.atomic import atomic_write_bytes, atomic_write_json, swap_in
from reviewrnn.config import RunConfig
from reviewrnn.domain import DomainProfile, load_profile
from reviewrnn.errors import ReviewRNNError, brief
from reviewrnn.filemodes import shareable
from reviewrnn.inference import expected_shapes
from reviewrnn.modellock import repair_if_idle
from reviewrnn.tokenizer import load_tokenizer

CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE = "config.json", "model.safetensors", "tokenizer.json"
HISTORY_FILE, EVAL_FILE = "history.json", "eval.json"
# A model from an LM keeps its forward LM for predict --familiarity (familiarity.py).
FAMILIARITY_FILES = ("familiarity.safetensors", "familiarity.json")
CHECKPOINT_DIR, CHECKPOINT_STATE, CHECKPOINT_TENSORS = "checkpoint", "state.json", "tensors.safetensors"
MODELS_DIR_ENV, MODEL_ENV = "REVIEWRNN_MODELS", "REVIEWRNN_MODEL"
MAX_CONFIG_BYTES = 1 << 20


@dataclass
class LoadedModel:
    directory: Path
    config: RunConfig
    weights: dict[str, np.ndarray]
    tokenizer: Tokenizer
    domain: DomainProfile | None = None  # MODEL/domain.json; None for models trained before it existed


def models_root() -> Path:
    return Path(os.environ.get(MODELS_DIR_ENV) or "models")


def save_model(
    directory: Path, config: RunConfig, weights: dict[str, np.ndarray], tokenizer_json: str, history: list[dict]
) -> Path:
    """Write a finished model (no checkpoint); see save_run."""
    return save_run(directory, config, tokenizer_json, history, weights)


def save_run(
    directory: Path,
    config: RunConfig,
    tokenizer_json: str,
    history: list[dict],
    weights: dict[str, np.ndarray] | None,
    checkpoint: tuple[dict, dict[str, np.ndarray]] | None = None,
    carried: tuple[str, ...] = (),
    extra: dict[str, bytes] | None = None,
) -> Path:
    """Stage the whole model directory beside `directory`, then swap it in: readers see the old one or the new one.
    `weights` are the best epoch's (None before any epoch has finished: the directory holds only the checkpoint).
    `carried` files of the old directory go into the new one as they are (a resumed run's domain profile);
    `extra` files are written as given (a language model's text prints)."""
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.staging-"))
    try:
        shareable(staging, directory=True)  # the model directory others on the machine may read, as mkdir makes
        if weights is not None:
            atomic_write_bytes(staging / WEIGHTS_FILE, _safetensors_bytes(weights))
            atomic_write_bytes(staging / TOKENIZER_FILE, tokenizer_json.encode("utf-8"))
            atomic_write_json(staging / HISTORY_FILE, history)
            atomic_write_json(staging / CONFIG_FILE, config.to_dict())
        if checkpoint is not None:
            state, arrays = checkpoint
            folder = staging / CHECKPOINT_DIR
            atomic_write_bytes(folder / CHECKPOINT_TENSORS, _safetensors_bytes(arrays))
            atomic_write_bytes(folder / TOKENIZER_FILE, tokenizer_json.encode("utf-8"))
            atomic_write_json(folder / CHECKPOINT_STATE, {"config": config.to_dict(), "state": state})
        for name, data in (extra or {}).items():
            atomic_write_bytes(staging / name, data)
        for name in carried:
            if (directory / name).is_file() and not (staging / name).exists():
                shutil.copy2(directory / name, staging / name)
        swap_in(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def _safetensors_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    from safetensors.numpy import save

    return save({name: np.ascontiguousarray(value) for name, value in arrays.items()}, metadata={"format": "reviewrnn"})


def load_checkpoint(
    directory: Path, command: str = "train"
) -> tuple[RunConfig, Tokenizer, dict, dict[str, np.ndarray]]:
    """The run config, tokenizer, trainer state and tensors saved by the last checkpoint in `directory`;
    `command` (train or pretrain) is the one a missing checkpoint's message says to start anew."""
    from safetensors.numpy import load_file

    config, state = _checkpoint_state(directory, command)
    folder = Path(directory) / CHECKPOINT_DIR
    tensors_path = folder / CHECKPOINT_TENSORS
    try:
        arrays = load_file(str(tensors_path))
    except Exception as error:
        detail = brief(error)
        raise ReviewRNNError(f"{tensors_path}: not a valid safetensors file ({detail})") from None
    return config, load_tokenizer(folder / TOKENIZER_FILE), state, arrays


def load_checkpoint_config(directory: Path, command: str = "train") -> RunConfig:
    """The settings an interrupted run in `directory` resumes with, without reading its tensors."""
    return _checkpoint_state(directory, command)[0]


def _checkpoint_state(directory: Path, command: str) -> tuple[RunConfig, dict]:
    repair_if_idle(directory)
    folder = Path(directory) / CHECKPOINT_DIR
    state_path, tensors_path = folder / CHECKPOINT_STATE, folder / CHECKPOINT_TENSORS
    if not state_path.is_file() or not tensors_path.is_file():
        raise ReviewRNNError(
            f"{directory}: no resumable checkpoint ({folder} is missing or incomplete); "
            f"start a new run with `reviewrnn {command}`"
        )
    try:
        saved = json.loads(state_path.read_text(encoding="utf-8"))
        config = RunConfig.from_dict(saved["config"], source=str(state_path))
        state = saved["state"]
        if not isinstance(state, dict):
            raise TypeError("state is not an object")
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise ReviewRNNError(f"{state_path}: damaged checkpoint state ({error.__class__.__name__})") from None
    return config, state


def require_model_directories(directories: list[Path]) -> None:
    """Every model a command reads, checked before any slow work, with one wording and exit code (1)."""
    for directory in directories:
        repair_if_idle(directory)  # a crash mid-swap left the model parked beside its place
        if Path(directory).is_file():  # a trial's `-m shop.csv`
            raise ReviewRNNError(f"{directory}: a file, not a model directory; give the folder `reviewrnn train` saved")
        if not Path(directory).is_dir():
            raise ReviewRNNError(f"{directory}: no such model directory; train one with `reviewrnn train`")


def load_model(directory: Path) -> LoadedModel:
    """Read and validate a model directory; any problem is one ReviewRNNError naming the file."""
    directory = Path(directory)
    require_model_directories([directory])
    config = load_config(directory)
    if config.pretrain is not None:  # made by `reviewrnn pretrain`: a classifier starts from it
        raise ReviewRNNError(f"{directory}: a language model, not a classifier; use reviewrnn train --init {directory}")
    weights = _load_weights(directory / WEIGHTS_FILE, config)
    tokenizer = load_tokenizer(directory / TOKENIZER_FILE)
    if tokenizer.get_vocab_size() != config.model.vocab_size:
        raise ReviewRNNError(
            f"{directory / TOKENIZER_FILE}: vocabulary of {tokenizer.get_vocab_size()} tokens, but the "
            f"embedding has {config.model.vocab_size} rows; the files come from different models"
        )
    return LoadedModel(directory, config, weights, tokenizer, load_profile(directory, config.model.vocab_size))


def load_config(directory: Path) -> RunConfig:
    path = Path(directory) / CONFIG_FILE
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ReviewRNNError(f"{path}: too large to be a reviewrnn config")
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        only_checkpoint = not (Path(directory) / WEIGHTS_FILE).exists()
        if only_checkpoint and (Path(directory) / CHECKPOINT_DIR / CHECKPOINT_STATE).is_file():
            raise ReviewRNNError(
                f"{directory}: training stopped before its first epoch finished, so there is no "
                f"model yet; continue it with: reviewrnn train --resume {directory}"
            ) from None
        raise ReviewRNNError(f"{path}: missing; is {directory} a reviewrnn model directory?") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ReviewRNNError(f"{path}: not valid JSON ({error.__class__.__name__}); the file is damaged") from None
    try:
        return RunConfig.from_dict(raw, source=str(path))
    except TypeError as error:
        raise ReviewRNNError(f"{path}: invalid config ({error})") from None


def _load_weights(path: Path, config: RunConfig) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    if not path.is_file():
        raise ReviewRNNError(f"{path}: missing; the model directory is incomplete")
    try:
        weights = load_file(str(path))
    except Exception as error:  # safetensors raises its own error types for bad headers
        detail = brief(error)
        raise ReviewRNNError(f"{path}: not a valid safetensors file ({detail})") from None
    expected = expected_shapes(config.model)
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise ReviewRNNError(
            f"{path}: tensor names do not match the config (missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for name, shape in expected.items():
        tensor = weights[name]
        if tensor.dtype != np.float32 or tuple(tensor.shape) != shape:
            raise ReviewRNNError(
                f"{path}: tensor {name} is {tensor.dtype}{list(tensor.shape)}, expected float32{list(shape)}"
            )
        if not np.isfinite(tensor).all():
            raise ReviewRNNError(f"{path}: tensor {name} holds NaN or infinite values")
    return weights


def default_model_dir() -> Path:
    """$REVIEWRNN_MODEL, else the most recently trained model under the models directory."""
    if os.environ.get(MODEL_ENV):
        chosen = Path(os.environ[MODEL_ENV])
        if not chosen.is_dir():  # name the variable: the user may have set it long ago and forgotten it
            raise ReviewRNNError(
                f"${MODEL_ENV}={chosen}: no such model directory; fix or unset it, or pass --model DIR"
            )
        return chosen
    root = models_root()
    # Newest by its weights: `evaluate --calibrate` rewrites an old model's config.json, not its weights.
    candidates = sorted(root.glob(f"*/{CONFIG_FILE}"), key=_trained_at) if root.is_dir() else []
    if not candidates:
        raise ReviewRNNError(
            f"no model found under {root}/; train one with `reviewrnn train` (or `make run`), or pass --model DIR"
        )
    return candidates[-1].parent


def _trained_at(config_path: Path) -> float:
    weights = config_path.parent / WEIGHTS_FILE
    return (weights if weights.exists() else config_path).stat().st_mtime


def write_eval(directory: Path, report: dict) -> Path:
    path = Path(directory) / EVAL_FILE
    atomic_write_json(path, report)
    return path


def weights_stamp(directory: Path) -> tuple[int, ...] | None:
    """Which weights and config the directory holds now. Both are written whole (a model swapped in, or a
    threshold or temperature fitted into config.json), so a change is a new file."""
    try:
        files = [os.stat(Path(directory) / name) for name in (WEIGHTS_FILE, CONFIG_FILE)]
    except OSError:
        return None
    return tuple(value for found in files for value in (found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns))


def save_eval(directory: Path, report: dict, scored: tuple[int, ...] | None) -> str | None:
    """MODEL/eval.json for the model that was scored (`scored`, its weights_stamp), under the run lock;
    or why it was not written. A plain evaluate had written the old model's report into the model a --force
    run swapped in meanwhile, where compare and clipping would reuse it."""
    from reviewrnn.modellock import lock_if_free

    try:
        with lock_if_free(directory) as free:
            if not free:
                return "another process holds the model's lock (a run writing it, or an evaluate saving); try again"
            if weights_stamp(directory) != scored:
                return "the model or its config changed while it was scored; evaluate it again"
            write_eval(directory, report)
    except OSError as error:
        return f"cannot write {Path(directory) / EVAL_FILE} ({error.strerror or error})"
    return None
