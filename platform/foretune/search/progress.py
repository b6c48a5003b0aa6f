"""Live progress of a sweep: a line per finished trial, and a heartbeat while trials run.

    RunConfig(..., **tune_reporting(total_trials))   # callbacks and Tune's verbosity

A finished trial prints ``[done/total] trial ID (arch) done; running=R failed=F best val_loss=..
(arch) elapsed=..s eta~..s``. Every ``HEARTBEAT_S`` seconds (30) while the sweep runs, a
heartbeat names each running trial's last epoch and validation loss and the best so far::

    [heartbeat 1m30s] 3/16 done, 2 running: a1b2 (lstm) epoch 7 val_loss 0.8123; c3d4 (tcn)
    starting; best val_loss 0.7911 (mlp)

The callback runs in the driver, so it sees every trial's reports (Tune calls ``on_step_end``
at least every 0.1 s). Verbosity (``foretune.console``): quiet drops both, verbose keeps them
and turns Tune's own reporter back on.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

from ray.tune import Callback

from foretune import console

#: Seconds between two heartbeats while trials run.
HEARTBEAT_S = 30.0
#: Tune's ``RunConfig(verbose=...)`` when foretune is verbose (status table and brief results).
TUNE_VERBOSE = 2


def tune_reporting(total: int) -> dict[str, Any]:
    """``callbacks`` and ``verbose`` for Tune's ``RunConfig`` at the current verbosity."""
    callbacks = [] if console.is_quiet() else [ProgressCallback(total)]
    return {"callbacks": callbacks, "verbose": TUNE_VERBOSE if console.is_verbose() else 0}


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class ProgressCallback(Callback):
    """Prints a line as each trial ends and a heartbeat every ``interval`` seconds (module doc)."""

    def __init__(
        self,
        total: int,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.interval = HEARTBEAT_S if interval is None else float(interval)
        self.clock = clock
        self.started = self.last_beat = clock()
        self.done = self.failed = 0
        self.best = math.inf
        self.best_name = ""
        self.latest: dict[str, tuple[int | None, float | None]] = {}  # trial -> epochs, val_loss

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        loss = result.get("best_val_loss", math.inf)
        if loss is not None and loss < self.best:
            self.best, self.best_name = float(loss), str(trial.config.get("architecture"))
        epoch = result.get("epoch")  # 0-based; shown as the number of epochs done
        done = int(epoch) + 1 if epoch is not None else result.get("training_iteration")
        self.latest[trial.trial_id] = (done, result.get("val_loss"))

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.done += 1
        self._line(trials, trial, "done")

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.done += 1
        self.failed += 1
        self._line(trials, trial, "FAILED")

    def on_step_end(self, iteration, trials, **info) -> None:
        now = self.clock()
        if now - self.last_beat < self.interval:
            return
        self.last_beat = now
        print(self.heartbeat(trials, now), file=sys.stdout, flush=True)

    def heartbeat(self, trials, now: float) -> str:
        """The heartbeat line for ``trials`` (Tune's trial list) at clock time ``now``."""
        running = [t for t in trials if t.status == "RUNNING"]
        parts = []
        for t in running:
            epoch, loss = self.latest.get(t.trial_id, (None, None))
            name = f"{t.trial_id} ({t.config.get('architecture')})"
            if epoch is None:
                parts.append(f"{name} starting")
            else:
                shown = f"{loss:.4f}" if isinstance(loss, (int, float)) else "n/a"
                parts.append(f"{name} epoch {epoch} val_loss {shown}")
        best = (
            f"best val_loss {self.best:.4f} ({self.best_name})" if self.best < math.inf else "no result yet"
        )
        what = "; ".join(parts) if parts else "none running"
        return (
            f"[heartbeat {_duration(now - self.started)}] {self.done}/{self.total} done, "
            f"{len(running)} running: {what}; {best}"
        )

    def _line(self, trials, trial, what: str) -> None:
        self.latest.pop(trial.trial_id, None)
        elapsed = self.clock() - self.started
        running = sum(1 for t in trials if t.status == "RUNNING")
        eta = elapsed / self.done * (self.total - self.done) if self.done else math.nan
        arch = trial.config.get("architecture")
        print(
            f"[{self.done}/{self.total}] trial {trial.trial_id} ({arch}) {what}; "
            f"running={running} failed={self.failed} best val_loss={self.best:.4f} "
            f"({self.best_name}) elapsed={elapsed:.0f}s eta~{eta:.0f}s",
            file=sys.stdout,
            flush=True,
        )
