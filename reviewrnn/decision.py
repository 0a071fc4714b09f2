"""From a classifier's probabilities to the label a user sees: temperature, threshold, out-of-domain score.

One place, so predict and its ensemble apply a model's fitted decision alike. numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reviewrnn.calibration import apply_temperature
from reviewrnn.config import DecisionConfig
from reviewrnn.domain import DomainProfile
from reviewrnn.threshold import check_binary


@dataclass
class Prediction:
    """The predicted label and its probability; both None for an empty or blank line.

    threshold: the P(label_names[1]) at or above which that label was chosen (None: the most probable
    label). ood: how unlike TRAIN the review reads (domain.py; None when the model has no profile).
    """

    label: str | None
    probability: float | None
    probabilities: dict[str, float] | None
    tokens: int
    threshold: float | None = None
    ood: float | None = None
    familiarity: float | None = None  # predict --familiarity: % of TRAIN reviews the LM found harder (familiarity.py)


class Decision:
    """A model's fitted decision; `threshold` (predict --threshold) overrides the saved one for this Decision."""

    def __init__(
        self,
        label_names: list[str],
        config: DecisionConfig | None = None,
        domain: DomainProfile | None = None,
        threshold: float | None = None,
        directory=None,
    ):
        config = config or DecisionConfig()
        self.label_names = label_names
        self.temperature = config.temperature
        self.threshold = config.threshold if threshold is None else threshold
        self.domain = domain
        if threshold is not None:
            check_binary(label_names, directory)
            DecisionConfig(threshold=threshold)  # the same range check as a saved one

    def __call__(self, row: np.ndarray, tokens: int, ids: np.ndarray | None = None) -> Prediction:
        """row: (K,) probabilities as the classifier gave them; ids: the token ids it read."""
        calibrated = apply_temperature(row[None, :], self.temperature)[0]  # (K,)
        if self.threshold is None:
            best = int(calibrated.argmax())
        else:
            best = int(calibrated[1] >= self.threshold)
        named = {name: float(p) for name, p in zip(self.label_names, calibrated)}
        ood = None if self.domain is None or ids is None else float(self.domain.scores([ids])[0])
        return Prediction(self.label_names[best], float(calibrated[best]), named, tokens, self.threshold, ood)
