"""Live progress of a sweep: a bar over the trials, a line per finished trial, and a heartbeat.

    RunConfig(..., **tune_reporting(total_trials))   # callbacks and Tune's verbosity

On a terminal or in a notebook (``console.bar``: tqdm's auto front end) a bar counts the
finished trials with the best validation loss so far and tqdm's ETA::

    sweep:  38%|███▊      | 3/8 [01:12<02:00, 24.1s/trial, best val_loss=0.7911 (mlp), failed=0]

A finished trial prints ``[done/total] trial ID (arch) done; running=R failed=F best val_loss=..
(arch) elapsed=..s eta~..s``. Every ``HEARTBEAT_S`` seconds (30) while the sweep runs, a
heartbeat names each running trial's last epoch and validation loss and the best so far::

    [heartbeat 1m30s] 3/16 done, 2 running: a1b2 (lstm) epoch 7 val_loss 0.8123; c3d4 (tcn)
    starting; best val_loss 0.7911 (mlp)

The callback runs in the driver, so it sees every trial's reports (Tune calls ``on_step_end``
at least every 0.1 s). The lines and heartbeats go to stdout, so logs keep them (through the
bar's ``write`` while it shows, the bar itself on stderr). Verbosity (``foretune.console``):
quiet drops all three, verbose keeps them and turns Tune's own reporter back on.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from ray.tune import Callback

from foretune import console

#: Seconds between two heartbeats while trials run.
HEARTBEAT_S = 30.0
#: Tune's ``RunConfig(verbose=...)`` when foretune is verbose (status table and brief results).
TUNE_VERBOSE = 2


def tune_reporting(total: int) -> dict[str, Any]:
    """``callbacks`` and ``verbose`` for Tune's ``RunConfig`` at the current verbosity."""
    if console.is_quiet():
        callbacks = []
    else:
        callbacks = [ProgressCallback(total, bar=partial(console.bar, desc="sweep", unit="trial"))]
    return {"callbacks": callbacks, "verbose": TUNE_VERBOSE if console.is_verbose() else 0}


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


class ProgressCallback(Callback):
    """Prints a line as each trial ends and a heartbeat every ``interval`` seconds, and moves a
    bar over the ``total`` trials as they finish (module doc). ``bar(total)`` makes the bar (a
    tqdm bar, or None for lines only) when the sweep starts; the live bar is never pickled."""

    def __init__(
        self,
        total: int,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        bar: Callable[[int], Any] | None = None,
    ) -> None:
        self.total = total
        self.make_bar = bar
        self.bar: Any = None
        self.interval = HEARTBEAT_S if interval is None else float(interval)
        self.clock = clock
        self.started = self.last_beat = clock()
        self.done = self.failed = 0
        self.best = math.inf
        self.best_name = ""
        self.latest: dict[str, tuple[int | None, float | None]] = {}  # trial -> epochs, val_loss

    def setup(self, stop=None, num_samples=None, total_num_samples=None, **info) -> None:
        if self.make_bar is not None and self.bar is None:
            self.bar = self.make_bar(self.total)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "bar": None}

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        loss = result.get("best_val_loss", math.inf)
        if loss is not None and loss < self.best:
            self.best, self.best_name = float(loss), str(trial.config.get("architecture"))
            self._postfix()
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
        self._say(self.heartbeat(trials, now))

    def on_experiment_end(self, trials, **info) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

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
        if self.bar is not None:
            self.bar.update(1)
            self._postfix()
        self._say(
            f"[{self.done}/{self.total}] trial {trial.trial_id} ({arch}) {what}; "
            f"running={running} failed={self.failed} best val_loss={self.best:.4f} "
            f"({self.best_name}) elapsed={elapsed:.0f}s eta~{eta:.0f}s"
        )

    def _postfix(self) -> None:
        """The bar's text after the count: the best validation loss so far and the failures."""
        if self.bar is None:
            return
        best = f"{self.best:.4f} ({self.best_name})" if self.best < math.inf else "n/a"
        self.bar.set_postfix_str(f"best val_loss={best}, failed={self.failed}")

    def _say(self, line: str) -> None:
        """``line`` on stdout, above the bar when there is one."""
        if self.bar is None:
            print(line, file=sys.stdout, flush=True)
        else:
            self.bar.write(line, file=sys.stdout)
