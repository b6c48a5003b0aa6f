"""Checkpoints: weights as a ``state_dict`` (loaded with ``weights_only=True``) plus JSON metadata.

Never an arbitrary pickle: ``model.pt`` holds only tensors, ``spec.json`` the ``TrainSpec`` and the
input size, so a checkpoint can be rebuilt with ``models.build`` and loaded safely.

Training state (``fit``'s ``save_state``/``resume_from``): ``state.pt`` holds tensors and plain
values only (weights, optimiser and scheduler states, RNG states, early-stopping counters) and is
likewise loaded with ``weights_only=True``. ``write_state`` replaces it atomically, so a directory
holds one state, the last epoch's, which itself carries the best weights: disk stays bounded to
"last" plus "best" whatever the number of epochs, and a crash mid-write leaves the previous one.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .spec import TrainSpec, build_model

WEIGHTS = "model.pt"
META = "spec.json"
STATE = "state.pt"
#: Seconds between persisted training states of one trial (``StateThrottle``).
STATE_EVERY_S = 30.0


def write_checkpoint(directory: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` (``state_dict``, ``spec``, ``n_features``) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(payload["state_dict"], directory / WEIGHTS)
    meta = {"spec": payload["spec"], "n_features": payload["n_features"]}
    (directory / META).write_text(json.dumps(meta, indent=2, sort_keys=True))
    return directory


def read_checkpoint(directory: str | Path) -> tuple[nn.Module, TrainSpec]:
    """Rebuild the model saved in ``directory`` and load its weights (tensors only)."""
    directory = Path(directory)
    meta = json.loads((directory / META).read_text())
    spec = TrainSpec.from_dict(meta["spec"])
    model = build_model(spec, meta["n_features"])
    state = torch.load(directory / WEIGHTS, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model, spec


def write_state(directory: str | Path, state: dict[str, Any]) -> Path:
    """Write ``fit``'s training ``state`` to ``directory/state.pt``, replacing any previous one."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / (STATE + ".tmp")
    torch.save(state, tmp)
    tmp.replace(directory / STATE)
    return directory / STATE


def read_state(directory: str | Path) -> dict[str, Any] | None:
    """The training state in ``directory`` (for ``fit(..., resume_from=...)``), or None."""
    path = Path(directory) / STATE
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


class StateThrottle:
    """Passes a trial's training state on at most every ``seconds`` (the first one at once).

    Persisting the state every epoch of a sub-second epoch costs more I/O than the training, and
    Tune snapshots its experiment state only every few seconds: after a crash it may point at a
    checkpoint that ``num_to_keep`` already deleted. With states at least ``seconds`` apart and
    the last two kept, the snapshot's checkpoint still exists; a resumed trial loses at most
    ``seconds`` of training.
    """

    def __init__(self, seconds: float = STATE_EVERY_S) -> None:
        self.seconds, self.last = seconds, -math.inf

    def take(self, state: dict[str, Any] | None, force: bool = False) -> dict[str, Any] | None:
        """``state`` if ``seconds`` have passed since the last one passed (or ``force``), else None."""
        if state is None or (not force and time.monotonic() - self.last < self.seconds):
            return None
        self.last = time.monotonic()
        return state


def best_weights(state: dict[str, Any]) -> dict[str, Any] | None:
    """The ``write_checkpoint`` payload of the best weights a training ``state`` carries, or None."""
    if state.get("best_state") is None:  # not one finite epoch yet
        return None
    return {"state_dict": state["best_state"], "spec": state["spec"], "n_features": state["n_features"]}


@contextmanager
def staged_checkpoint(state: dict[str, Any] | None, payload: dict[str, Any] | None) -> Iterator[Path | None]:
    """A temporary directory holding the training ``state`` and/or final ``payload`` to report.

    Yields ``None`` when there is nothing to save; the caller reports without a checkpoint then.
    """
    if state is None and payload is None:
        yield None
        return
    with tempfile.TemporaryDirectory() as tmp:
        if state is not None:
            write_state(tmp, state)
        if payload is not None:
            write_checkpoint(tmp, payload)
        yield Path(tmp)
