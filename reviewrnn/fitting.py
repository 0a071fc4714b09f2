"""Fit a saved model's decision on VALID, never TEST, and save it in the model directory.

After training (runs.py, through after_training) and for older models (`evaluate --calibrate`):
the temperature and the domain profile. On request (`evaluate --find-threshold`): the decision threshold.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from reviewrnn.artifacts import CONFIG_FILE, load_model, require_model_directories
from reviewrnn.atomic import atomic_write_json
from reviewrnn.calibration import apply_temperature, fit_temperature, reliability
from reviewrnn.domain import DOMAIN_FILE, build_profile
from reviewrnn.errors import ReviewRNNError
from reviewrnn.modellock import training_lock
from reviewrnn.seen import save_seen
from reviewrnn.source import CorpusSettings, open_source
from reviewrnn.threshold import check_binary, curve, find_threshold, parse_objective, thin_side

CALIBRATION_BUSY = "wait for the run to finish, then calibrate or choose the threshold"


def calibrate_step(directory: Path, temperature: bool = True, device_name: str = "auto") -> dict:
    """Re-read the model's own corpus (TRAIN as it was trained, VALID) and refit; see fit_decision.
    Holds the directory's training lock: a run writing the same model would swap it away under us."""
    require_model_directories([directory])  # before the lock, which would create its folder
    with training_lock(directory, CALIBRATION_BUSY):
        loaded = load_model(directory)
        train = loaded.config.train
        source = _source(loaded, train.limit)
        train_set, valid_set = (
            source.encode(loaded.tokenizer, part, train.max_tokens, train.truncate) for part in ("train", "valid")
        )
        return fit_decision(directory, train_set, valid_set, temperature, device_name)


def after_training(directory: Path, config, train_set, valid_set, callbacks) -> tuple[list[int], list[int], str | None]:
    """What train does once the weights are saved: the decision and domain profile fitted on VALID and
    TRAIN (with both splits' fingerprints), and, for a model from an LM, the LM kept for --familiarity.
    Returns how many VALID reviews the saved model gives each label and how many have it (train warns
    when the model is no better than always answering VALID's most common label), and what became of a
    saved threshold (an extended run's new weights get it chosen again), or None."""
    callbacks.stage("calibrating on VALID" if config.train.calibrate else "profiling TRAIN")
    fitted = fit_decision(directory, train_set, valid_set, config.train.calibrate, config.train.device, refit=True)
    if config.init is not None:
        _keep_familiarity(directory, config.init, train_set, callbacks)
    return fitted["valid_predicted"], fitted["valid_labelled"], fitted["threshold_refit"]


def _keep_familiarity(directory: Path, init, train_set, callbacks) -> None:
    """The LM's forward direction and TRAIN's losses under it (familiarity.py), for predict --familiarity.
    A finished model is never lost to it: an LM moved or changed since the run began only leaves it out."""
    from reviewrnn.familiarity import save_familiarity

    try:
        callbacks.stage("keeping the language model for --familiarity")
        save_familiarity(directory, init, train_set.ids)
    except ReviewRNNError as error:
        from reviewrnn.artifacts import FAMILIARITY_FILES

        if all((Path(directory) / name).is_file() for name in FAMILIARITY_FILES):  # a resumed run carried them
            callbacks.stage(f"--familiarity keeps the language model saved with this model earlier ({error})")
        else:
            callbacks.stage(f"no --familiarity for this model: {error}")


def fit_decision(
    directory: Path, train_set, valid_set, temperature: bool = True, device_name: str = "auto", refit: bool = False
) -> dict:
    """Fit the temperature on VALID (unless `temperature` is False: none) and TRAIN's domain profile; save both,
    and the fingerprints of the reviews of both splits (seen.py).

    A threshold found before keeps its meaning: it is moved to the new temperature's scale. With `refit` (new
    weights: a run extended with --resume --epochs), it is chosen again for its objective instead: the old
    weights' threshold had stayed in force on the new ones without a word.
    Returns VALID's temperature, ECE before and after, how many VALID reviews the model gives each label, and
    what became of a threshold refitted (None when there was none, or it came out the same).
    """
    from reviewrnn import runtime
    from reviewrnn.scoring import split_probabilities

    loaded = load_model(directory)
    device = runtime.resolve_device(device_name)
    raw = split_probabilities(loaded, valid_set, device)  # (N, K), as predict computes them
    decision = loaded.config.decision
    fitted = fit_temperature(raw, valid_set.labels) if temperature and len(valid_set) else None
    refitted = None
    if decision.threshold is not None and refit:
        refitted = _refit_threshold(decision, apply_temperature(raw, fitted), valid_set.labels, loaded.config)
    elif decision.threshold is not None:
        decision.threshold = rescale_threshold(decision.threshold, decision.temperature, fitted)
    decision.temperature = fitted
    profile = build_profile(train_set.ids, valid_set.ids, loaded.config.model.vocab_size)
    atomic_write_json(Path(directory) / DOMAIN_FILE, profile.to_dict())
    save_seen(directory, train_set, valid_set)  # an older model gets them from evaluate --calibrate
    atomic_write_json(Path(directory) / CONFIG_FILE, loaded.config.to_dict())
    return {
        "temperature": fitted,
        "valid_ece_before": reliability(raw, valid_set.labels)["ece"],
        "valid_ece_after": reliability(apply_temperature(raw, fitted), valid_set.labels)["ece"],
        "domain_valid_mean": profile.valid_mean,
        "valid_predicted": np.bincount(raw.argmax(axis=1), minlength=raw.shape[1]).tolist(),
        "valid_labelled": np.bincount(np.asarray(valid_set.labels, dtype=np.int64), minlength=raw.shape[1]).tolist(),
        "threshold_refit": refitted,
    }


def _refit_threshold(decision, probabilities: np.ndarray, labels, config) -> str | None:
    """The saved threshold chosen again on VALID for its objective, with the new weights and temperature; or
    dropped, when it has no objective (an older file) or the new weights leave none that meets it. Says which."""
    old, objective = decision.threshold, decision.threshold_objective
    try:
        if objective is None:
            raise ReviewRNNError("it records no objective")
        chosen = find_threshold(probabilities[:, 1], labels, objective, config.corpus.label_names)
    except ReviewRNNError as error:
        decision.threshold = decision.threshold_objective = None
        return f"the threshold {old:.4f} fitted on the earlier weights is dropped ({error}); choose one again"
    decision.threshold = chosen["threshold"]
    if decision.threshold == old:
        return None  # the same cut on the new weights: nothing to tell
    return f"the threshold for {objective} refitted on VALID for the new weights: {old:.4f} -> {decision.threshold:.4f}"


def rescale_threshold(threshold: float, old: float | None, new: float | None) -> float:
    """The same decision under a new temperature: for two classes, logit(p_T) = logit(p) / T."""
    if threshold <= 0.0 or threshold >= 1.0:
        return threshold
    logit = math.log(threshold / (1 - threshold)) * (old or 1.0) / (new or 1.0)
    return 1 / (1 + math.exp(-logit))


def threshold_step(directory: Path, objective: str, device_name: str = "auto") -> dict:
    """Choose the threshold on VALID for `objective` (threshold.py), save it in config.json, return the curve."""
    from reviewrnn import runtime
    from reviewrnn.scoring import split_probabilities

    parse_objective(objective)  # a bad objective fails before anything is read
    require_model_directories([directory])
    with training_lock(directory, CALIBRATION_BUSY):  # as calibrate_step
        loaded = load_model(directory)
        config = loaded.config
        check_binary(config.corpus.label_names, directory)
        valid = _source(loaded).encode(loaded.tokenizer, "valid", config.train.max_tokens, config.train.truncate)
        device = runtime.resolve_device(device_name)
        raw = split_probabilities(loaded, valid, device)
        positive = apply_temperature(raw, config.decision.temperature)[:, 1]  # (N,) as predict will see it
        chosen = find_threshold(positive, valid.labels, objective, config.corpus.label_names)
        config.decision.threshold, config.decision.threshold_objective = chosen["threshold"], objective
        atomic_write_json(Path(directory) / CONFIG_FILE, config.to_dict())
        return {
            "objective": objective,
            "positive_label": config.corpus.label_names[1],
            "split": "valid",
            "count": len(valid),
            "chosen": chosen,
            "curve": curve(positive, np.asarray(valid.labels), chosen["threshold"]),
            "warning": thin_side(chosen, valid.labels, config.corpus.label_names),
        }


def clear_threshold(directory: Path) -> float | None:
    """Remove a saved threshold (`evaluate --find-threshold none`): the most probable label decides again.
    Returns the threshold removed, or None when there was none. A trial's only way back had been editing
    config.json or training again."""
    require_model_directories([directory])
    with training_lock(directory, CALIBRATION_BUSY):
        config = load_model(directory).config
        old = config.decision.threshold
        if old is not None:
            config.decision.threshold = config.decision.threshold_objective = None
            atomic_write_json(Path(directory) / CONFIG_FILE, config.to_dict())
        return old


def _source(loaded, limit: int | None = None):
    corpus, train = loaded.config.corpus, loaded.config.train
    settings = CorpusSettings.of_run(corpus)  # with the model's --label-map, if it had one
    return open_source(settings, train.valid_fraction, train.on_disk, corpus.label_names, limit)
