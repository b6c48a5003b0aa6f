"""Wall-clock seconds per stage of a run, by name, written to ``RUN/timings.json``.

    timings = Timings()
    with timings.recording(), stage("sweep"):
        ...                                   # any code below may open its own stages:
    with stage("draws"):                      # inside "ensemble": recorded as "ensemble.draws"
        ...
    timings.save(RunDir(run_dir).timings); print(timings.summary())

A stage opened inside another is recorded under the outer one's name (``ensemble.draws``);
re-entering a name adds to it (a loop over members). With no recorder active (a library call
outside ``foretune run``) ``stage`` only runs its block.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from foretune.storage import Location, write_atomic

_ACTIVE: ContextVar[tuple[Timings, str] | None] = ContextVar("foretune_timings", default=None)


@dataclass
class Timings:
    """Seconds per dotted stage name, in the order the stages were first entered."""

    seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def recording(self) -> Iterator[Timings]:
        """Make this the recorder that ``stage`` adds to (in this thread/context)."""
        token = _ACTIVE.set((self, ""))
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    def top(self) -> dict[str, float]:
        """The outermost stages (names without a dot)."""
        return {k: v for k, v in self.seconds.items() if "." not in k}

    def to_dict(self) -> dict[str, Any]:
        top = self.top()
        return {"total": sum(top.values()), "stages": dict(self.seconds)}

    def save(self, path: Location) -> None:
        write_atomic(path, json.dumps(self.to_dict(), indent=2))

    def summary(self, after: str = "sweep") -> str:
        """One line: the outermost stages' seconds and shares, and the share after ``after``."""
        top = self.top()
        total = sum(top.values()) or float("nan")
        parts = ", ".join(f"{k} {v:.0f} s ({v / total:.0%})" for k, v in top.items())
        line = f"wall-clock {total:.0f} s: {parts}"
        if after in top and len(top) > 1:
            line += f"; after the {after} {(total - top[after]) / total:.0%}"
        return line


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Add the seconds of the block to stage ``name`` (under the enclosing stage's name) of the
    active recorder; only run the block when none is active."""
    active = _ACTIVE.get()
    if active is None:
        yield
        return
    timings, prefix = active
    full = f"{prefix}.{name}" if prefix else name
    timings.seconds.setdefault(full, 0.0)  # listed in the order entered, outer before inner
    token = _ACTIVE.set((timings, full))
    start = time.perf_counter()
    try:
        yield
    finally:
        timings.seconds[full] = timings.seconds.get(full, 0.0) + time.perf_counter() - start
        _ACTIVE.reset(token)
