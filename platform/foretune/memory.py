"""Process memory as the streaming tests and benchmarks measure it.

``private_bytes`` is the process's private memory (``Private_Clean + Private_Dirty`` of Linux's
``/proc/self/smaps_rollup``): what it holds itself, not the pages of Ray's shared object store
that it maps while reading blocks (RSS counts those, so RSS over-states what streaming costs a
process). ``PeakMemory`` samples it in a background thread.
"""

from __future__ import annotations

import threading
import time


def private_bytes() -> int:
    """This process's private memory in bytes (0 where ``smaps_rollup`` is unavailable)."""
    try:
        with open("/proc/self/smaps_rollup") as rollup:
            lines = rollup.readlines()
    except OSError:
        return 0
    return sum(int(line.split()[1]) * 1024 for line in lines
               if line.startswith(("Private_Clean:", "Private_Dirty:")))  # fmt: skip


class PeakMemory:
    """The highest ``private_bytes`` seen since the last ``reset`` (sampled every ``every_s``)."""

    def __init__(self, every_s: float = 0.01) -> None:
        self.every_s = every_s
        self.value = private_bytes()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while True:
            self.value = max(self.value, private_bytes())
            time.sleep(self.every_s)

    def reset(self) -> int:
        """Start a new measurement; the current private bytes (the baseline)."""
        self.value = private_bytes()
        return self.value
