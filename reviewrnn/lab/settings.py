"""The probes' settings, kept free of numpy and torch so the command line can show them in --help at once."""

from __future__ import annotations

from dataclasses import dataclass

FILLER_DISTANCES = (0, 16, 32, 64, 128, 256, 512, 1024)
SYNTHETIC_DISTANCES = (0, 2, 4, 8, 16, 32, 64, 128, 256, 512)


@dataclass
class SyntheticSettings:
    """One budget for every cell: same data, sizes, epochs, optimiser and seed."""

    distances: tuple[int, ...] = SYNTHETIC_DISTANCES
    train_size: int = 8000  # sequences, distances drawn evenly from `distances`
    valid_size: int = 1000
    test_per_distance: int = 500
    epochs: int = 6
    batch_size: int = 64
    lr: float = 2e-3
    clip_norm: float = 1.0
    embed: int = 16
    hidden: int = 64
    seed: int = 0
