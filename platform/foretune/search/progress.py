"""Live progress of a sweep: one line per finished trial with counts, best so far and ETA."""

from __future__ import annotations

import math
import sys
import time

from ray.tune import Callback


class ProgressCallback(Callback):
    """Prints ``[done/total] running=R failed=F best=... eta=...`` as trials end."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.started = time.monotonic()
        self.done = self.failed = 0
        self.best = math.inf
        self.best_name = ""

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        loss = result.get("best_val_loss", math.inf)
        if loss is not None and loss < self.best:
            self.best, self.best_name = float(loss), str(trial.config.get("architecture"))

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.done += 1
        self._line(trials, trial, "done")

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self.done += 1
        self.failed += 1
        self._line(trials, trial, "FAILED")

    def _line(self, trials, trial, what: str) -> None:
        elapsed = time.monotonic() - self.started
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
