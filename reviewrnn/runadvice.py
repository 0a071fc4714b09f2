"""What a finished training run should tell its user beyond its figures: TEST reviews its language model
read, a VALID split that cannot judge a class, a model that has learned nothing. Plain strings; the
command prints them as warnings."""

from __future__ import annotations

NOT_LEARNED_MARGIN = 0.01  # VALID accuracy within a point of the majority share: nothing learned


def run_warnings(outcome) -> list[str]:
    """The warnings for a runs.TrainOutcome, in the order they matter."""
    warnings = []
    if outcome.config.init is not None:
        from reviewrnn.transfer import lm_read_test_reviews

        if leak := lm_read_test_reviews(outcome.config):
            warnings.append(leak)
    one_sided, unlearned = one_sided_valid(outcome), not_learned(outcome)
    if one_sided is not None:  # then VALID's accuracy cannot say whether it has learned
        warnings.append(one_sided)
    elif unlearned is not None:
        sizes, limit = outcome.config.corpus.sizes, outcome.config.train.limit
        limited = limit is not None and sizes.get("train_used", 0) >= limit  # more of the corpus exists
        more = "a larger --limit" if limited else "more labelled reviews"
        warnings.append(f"{unlearned}: it has not learned yet; train longer (--epochs) or on {more}")
    return warnings


def one_sided_valid(outcome) -> str | None:
    """A VALID split without some class (a small labelled set) cannot judge that class: its accuracy, early
    stopping, calibration and thresholds all read one side. Says which class is missing, or None."""
    labelled, names = outcome.valid_labelled, outcome.config.corpus.label_names
    if not labelled or not sum(labelled):
        return None
    missing = [repr(name) for name, count in zip(names, labelled, strict=True) if count == 0]
    if not missing:
        return None
    count = sum(labelled)
    others = (
        f"all {count:,} of its reviews are of other classes" if count > 1 else "its only review is of another class"
    )
    return (
        f"VALID holds no {' or '.join(missing)} review ({others}): its accuracy, early stopping, "
        "calibration and thresholds cannot judge that class; label more reviews or give a larger --valid-fraction"
    )


def not_learned(outcome) -> str | None:
    """Why the kept model has learned nothing, or None: it gives every VALID review one label, or it is
    right no more often than always answering VALID's most common label (plus a point, for noise)."""
    predicted, labelled, names = outcome.valid_predicted, outcome.valid_labelled, outcome.config.corpus.label_names
    if not predicted or sum(predicted) < 2:
        return None
    if sum(1 for count in predicted if count) == 1:
        return f"the model gives every VALID review the label {names[predicted.index(max(predicted))]!r}"
    if labelled and sum(labelled):
        share = max(labelled) / sum(labelled)
        if outcome.best_valid_accuracy < share + NOT_LEARNED_MARGIN:
            common = names[labelled.index(max(labelled))]
            return (
                f"VALID accuracy {outcome.best_valid_accuracy:.1%} is no better than always answering "
                f"{common!r} ({share:.1%})"
            )
    return None
