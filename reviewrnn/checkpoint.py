"""A Trainer's whole state as (JSON-friendly dict, named arrays), and back: what `train --resume` continues from.

Plain JSON and named tensors, never pickle; each group of arrays sits under its own key prefix, so
resuming ends with the same weights, bit for bit, as a run that was never interrupted.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
import torch

from reviewrnn.trainstate import TrainState

if TYPE_CHECKING:
    from reviewrnn.train import Trainer

MODEL = "model."  # the live weights
BEST = "best."  # the best epoch's weights, once an epoch has finished
OPTIMIZER = "optimizer."  # Adam's slots, "optimizer.<parameter index>.<slot>", stored flat
AVERAGE = "average."  # the moving average of --ema, "average.<parameter index>"
TORCH_RNG = "rng.torch"  # dropout's random stream


def capture(trainer: Trainer) -> tuple[dict, dict[str, np.ndarray]]:
    """(JSON-friendly state, named arrays): everything needed to continue exactly from here."""
    optimizer = trainer.optimizer.state_dict()
    arrays = _named(MODEL, trainer.model.state_dict())
    if trainer.best_state is not None:
        arrays |= _named(BEST, trainer.best_state)
    for index, slots in optimizer["state"].items():
        arrays |= {f"{OPTIMIZER}{index}.{k}": v.detach().cpu().reshape(-1).numpy() for k, v in slots.items()}
    if trainer.average is not None:
        arrays |= _named(AVERAGE, dict(enumerate(trainer.average.values)))
    arrays[TORCH_RNG] = torch.get_rng_state().numpy()
    state = asdict(trainer.state) | {
        "rng": trainer.rng.bit_generator.state,
        "optimizer_groups": optimizer["param_groups"],
        "scheduler": trainer.scheduler.state_dict(),
    }
    return state, arrays


def restore(trainer: Trainer, state: dict, arrays: dict[str, np.ndarray]) -> None:
    """Inverse of capture(); the model and data must be built exactly as for the original run."""
    state = dict(state)
    trainer.rng.bit_generator.state = state.pop("rng")
    groups, scheduler = state.pop("optimizer_groups"), state.pop("scheduler")
    trainer.state = TrainState.from_dict(state)
    trainer.model.load_state_dict(_tensors(arrays, MODEL))
    trainer.best_state = _tensors(arrays, BEST) or None
    shapes = [parameter.shape for parameter in trainer.model.parameters()]
    slots: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in _tensors(arrays, OPTIMIZER).items():
        index, key = name.split(".", 1)
        shape = () if key == "step" else shapes[int(index)]  # safetensors holds them flat; step is a scalar
        slots.setdefault(int(index), {})[key] = value.reshape(shape)
    trainer.optimizer.load_state_dict({"state": slots, "param_groups": groups})
    trainer.scheduler.load_state_dict(scheduler)
    torch.set_rng_state(torch.from_numpy(arrays[TORCH_RNG].copy()))
    if trainer.average is not None:
        averaged = _tensors(arrays, AVERAGE)
        for index, value in enumerate(trainer.average.values):
            value.copy_(averaged[str(index)])


def _named(prefix: str, tensors: dict) -> dict[str, np.ndarray]:
    return {f"{prefix}{name}": tensor.detach().cpu().numpy() for name, tensor in tensors.items()}


def _tensors(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, torch.Tensor]:
    """The arrays under `prefix`, named without it, as tensors that own their memory."""
    chosen = {name.removeprefix(prefix): value for name, value in arrays.items() if name.startswith(prefix)}
    return {name: torch.from_numpy(value.copy()) for name, value in chosen.items()}
