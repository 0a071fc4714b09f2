"""Score saved models on a split of a corpus: class probabilities, then the metrics of metrics.py.

One model also gets MODEL/eval.json; several are scored as an ensemble of their mean probabilities.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from reviewrnn.artifacts import save_eval, weights_stamp
from reviewrnn.calibration import apply_temperature, reliability
from reviewrnn.cleanscores import check_unseen, is_own_corpus, score_doubts
from reviewrnn.config import DEFAULT_LENGTH_EDGES, CorpusInfo
from reviewrnn.corpus import Preferred
from reviewrnn.errors import ReviewRNNError
from reviewrnn.source import ALL, SPLITS, CorpusSettings, open_source
from reviewrnn.threshold import thresholded_labels

FAMILIARITY_SAMPLE = 2000  # reviews whose familiarity evaluate summarises, evenly spread over the split


def evaluate_step(
    models: Path | list[Path],
    settings: CorpusSettings | None = None,
    split_name: str = "test",
    edges: tuple[int, ...] = DEFAULT_LENGTH_EDGES,
    device_name: str = "auto",
    threads: int | None = None,
) -> dict:
    """Score a saved model on a split of its corpus (or another one). One model scored on its own
    corpus's TEST split also gets MODEL/eval.json, the report `compare` and `clipping` reuse: scoring
    another file or split must not replace it. Where it cannot be saved for the weights scored (a run
    holds the model, or replaced it meanwhile), the report says why in `eval_json_not_saved`.

    Several models are scored as an ensemble: the mean of their probabilities, and no file is
    written. All read the same corpus (the first model's unless `settings` names another), each
    with its own tokenizer and length limit. Lengths, labels and the truncation count come from
    the first. The models are checked against each other before anything is scored.
    """
    directories = [models] if isinstance(models, Path) else list(models)
    scored = weights_stamp(directories[0])  # before loading: a model swapped in after this is not saved over
    report = _score_models(directories, settings, split_name, edges, device_name, threads)
    if len(directories) == 1 and report["split"] == "test" and is_own_corpus(directories[0], settings):
        why = "its corpus file changed since it trained" if report["corpus_changed"] else None
        if (why := why or save_eval(directories[0], report, scored)) is not None:
            report["eval_json_not_saved"] = why
    return report


def _score_models(directories, settings, split_name, edges, device_name, threads) -> dict:
    from reviewrnn import runtime
    from reviewrnn.artifacts import load_model
    from reviewrnn.metrics import classification_report

    if split_name not in (*SPLITS, ALL):
        raise ReviewRNNError(f"--split must be one of {', '.join((*SPLITS, ALL))}; got {split_name!r}")
    if split_name == ALL and settings is None:
        raise ReviewRNNError("--split all scores another labelled file (--corpus FILE), never the training corpus")
    if not directories:
        raise ReviewRNNError("no model to evaluate; give at least one model directory")
    loaded = [load_model(directory) for directory in directories]
    _check_members(loaded, split_name)
    first = loaded[0].config
    settings = _corpus_settings(settings, first.corpus)
    runtime.set_threads(threads)
    device = runtime.resolve_device(device_name)
    started = time.perf_counter()
    encoded = None
    total = None
    raw_total = None
    not_clean = []  # why a model's scores on this corpus are not clean: reviews it or its LM has read
    unchecked = []  # why it could not be told (a model without fingerprints)
    changed = []  # the model's own corpus file, changed since it trained
    for model in loaded:
        doubts = (not_clean, unchecked, changed)
        split, raw, unmapped = _model_probabilities(model, settings, split_name, device, doubts)
        probabilities = apply_temperature(raw, model.config.decision.temperature)
        raw_total = raw if raw_total is None else raw_total + raw
        if encoded is None:
            encoded = split
        elif len(split.labels) != len(encoded.labels) or (split.labels != encoded.labels).any():
            raise ReviewRNNError(f"{model.directory}: read another {split_name} split than {directories[0]}")
        total = probabilities if total is None else total + probabilities
    mean = total / len(loaded)  # (N, K): each model's probabilities after its own temperature, averaged
    threshold = first.decision.threshold if len(loaded) == 1 else None  # each model's own: not for an ensemble
    predicted = thresholded_labels(mean, threshold)
    names = first.corpus.label_names
    report = classification_report(mean, encoded.labels, names, encoded.full_lengths, edges, predicted)
    report |= _decision_report(loaded, mean, raw_total / len(loaded), encoded, threshold)
    report |= {
        "model": str(directories[0]) if len(directories) == 1 else [str(d) for d in directories],
        "corpus": settings.spec,
        "split": split_name,
        "seconds": time.perf_counter() - started,
        "max_tokens": first.train.max_tokens,
        "truncated": int((encoded.full_lengths > first.train.max_tokens).sum()),
        "not_clean": not_clean,
        "unchecked": unchecked,
        "corpus_changed": changed,
        "unused_thresholds": {  # an ensemble's members' own thresholds: not for their mean
            str(model.directory): model.config.decision.threshold
            for model in loaded
            if len(loaded) > 1 and model.config.decision.threshold is not None
        },
    }
    if settings.label_map is not None:
        report |= {"label_map": settings.label_map.text, "unmapped": unmapped[0], "unmapped_values": unmapped[1]}
    return report


def _corpus_settings(settings: CorpusSettings | None, trained: CorpusInfo) -> CorpusSettings:
    """The model's own corpus by default. Another corpus is read with the model's --label-map, and
    through the model's own columns where the file has them, unless the command named others."""
    own = CorpusSettings.of_run(trained)
    if settings is None:
        if trained.name.startswith("/") and not Path(trained.name).exists():  # a file: imdb and hub ids are names
            raise ReviewRNNError(
                f"{trained.name}: the model's training file is no longer there; put it back, or score it where "
                "it is now with `reviewrnn evaluate MODEL --corpus FILE`"
            )
        return own
    return replace(
        settings,
        text_column=settings.text_column or _preferred(own.text_column),
        label_column=settings.label_column or _preferred(own.label_column),
        label_map=settings.label_map if settings.label_map is not None else own.label_map,
    )


def _preferred(column: str | None) -> Preferred | None:
    return Preferred(column) if column else None


def _decision_report(loaded: list, probabilities, raw, encoded, threshold) -> dict:
    """Calibration (ECE and reliability bins, before and after the temperature), the threshold used,
    and how unlike the first model's TRAIN the scored reviews read."""
    from reviewrnn.domain import DomainWatch

    temperatures = [model.config.decision.temperature for model in loaded]
    calibration = reliability(probabilities, encoded.labels) | {
        "temperature": temperatures[0] if len(loaded) == 1 else temperatures,
        "ece_uncalibrated": reliability(raw, encoded.labels)["ece"],
    }
    profile = loaded[0].domain
    domain = None
    if profile is not None:
        scores = profile.scores(list(encoded.ids))
        watch = DomainWatch(profile, f"the training corpus of {loaded[0].directory}", labelled=True)
        warning = watch.add(scores.tolist())
        domain = {"mean": float(scores.mean()) if len(scores) else 0.0, "limit": profile.limit(len(scores))}
        domain |= {"valid_mean": profile.valid_mean, "warning": warning}
    familiarity = _familiarity_report(loaded[0].directory, encoded.ids)
    return {"calibration": calibration, "threshold": threshold, "domain": domain, "familiarity": familiarity}


def _familiarity_report(directory, ids) -> dict | None:
    """How familiar the scored reviews read to the first model's LM (familiarity.py), over an even sample of at
    most FAMILIARITY_SAMPLE reviews (~200-400 a second here); None when the model kept no LM."""
    from reviewrnn.familiarity import load_familiarity

    try:
        familiarity = load_familiarity(directory)
    except ReviewRNNError as error:  # the classifier itself is fine: score it, and say why no familiarity
        return {"unreadable": str(error)}
    if familiarity is None or not len(ids):
        return None
    picked = np.unique(np.linspace(0, len(ids) - 1, min(len(ids), FAMILIARITY_SAMPLE)).round().astype(int))
    sample = [ids[i] for i in picked]  # an even sample of up to 2,000 (a stride had taken 1,006 of 2,012)
    percentiles = familiarity.percentiles(familiarity.losses(sample))
    measured = percentiles[~np.isnan(percentiles)]
    if not len(measured):
        return None
    return {
        "reviews": len(measured),
        "of": len(ids),
        "median": float(np.median(measured)),
        "below_5": float((measured < 5).mean()),  # about 0.05 for reviews like TRAIN's
    }


def _check_members(loaded: list, split_name: str) -> None:
    """Models averaged together must name the same labels and, for TRAIN/VALID, split alike."""
    first = loaded[0]
    for other in loaded[1:]:
        if other.config.corpus.label_names != first.config.corpus.label_names:
            raise ReviewRNNError(
                f"{other.directory}: labels {other.config.corpus.label_names} differ from {first.directory}'s "
                f"{first.config.corpus.label_names}; ensemble only models trained on the same labels"
            )
        # TEST is chosen by a hash of the text alone; TRAIN and VALID also depend on the valid fraction (and
        # so does the order in which --split all joins them).
        if split_name != "test" and other.config.train.valid_fraction != first.config.train.valid_fraction:
            raise ReviewRNNError(
                f"{other.directory}: trained with --valid-fraction {other.config.train.valid_fraction}, "
                f"{first.directory} with {first.config.train.valid_fraction}; their {split_name} splits differ "
                "(score --split test, or ensemble models trained alike)"
            )


def _model_probabilities(loaded, settings: CorpusSettings, split_name: str, device, doubts: tuple[list, ...]):
    """(the encoded split, class probabilities (N, K) before any temperature, (reviews a label map dropped,
    the label values it dropped in the whole file)); `doubts` (not clean, unchecked, changed) gets each reason its
    scores are not clean, why that could not be checked, and a note when the model's own corpus file changed."""
    not_clean, unchecked, changed = doubts
    config = loaded.config
    train = config.train  # the split is encoded as the model was trained: backend, length limit, truncation
    source = open_source(settings, train.valid_fraction, train.on_disk, config.corpus.label_names, needed=split_name)
    trained, now = config.corpus.sha256, source.info.sha256
    if source.info.name == config.corpus.name and None not in (trained, now) and trained != now:
        changed.append(
            f"{config.corpus.name} changed since {loaded.directory} trained on it (sha256 differs): its "
            f"{split_name} split now holds other reviews than the model's own"
        )
    if split_name == ALL:
        check_unseen(source.info, config, loaded.directory)
    encoded = source.encode(loaded.tokenizer, split_name, train.max_tokens, train.truncate)
    reasons, unknowns = score_doubts(loaded, settings, source, split_name, encoded)
    not_clean += reasons
    unchecked += unknowns
    unmapped = source.info.unmapped
    dropped = sum(unmapped.values()) if split_name == ALL else unmapped.get(split_name, 0)
    return encoded, split_probabilities(loaded, encoded, device), (dropped, source.info.unmapped_values)


def split_probabilities(loaded, encoded, device) -> np.ndarray:
    """Class probabilities (N, K) of a whole encoded split: on CPU through predict's forward pass
    (fastforward.py, several times torch's speed here), elsewhere through the torch model."""
    if device.type == "cpu" and len(encoded) and encoded.lengths.min() > 0:
        import torch

        from reviewrnn.fastforward import FastClassifier

        # as many workers as torch has threads: the command's --threads (runtime.set_threads), not every core
        engine = FastClassifier(loaded.config.model, loaded.weights, threads=torch.get_num_threads())
        try:
            return engine.score(encoded.ids).astype(np.float64)
        finally:
            engine.close()
    from reviewrnn.model import predict_probabilities

    return predict_probabilities(torch_model(loaded, device), encoded, 256, device)


def torch_model(loaded, device):
    """The RecurrentClassifier of a loaded model directory, on `device`."""
    import torch

    from reviewrnn.model import RecurrentClassifier

    model = RecurrentClassifier(loaded.config.model)
    model.load_state_dict({name: torch.from_numpy(value) for name, value in loaded.weights.items()})
    return model.to(device)
