"""Process memory as the streaming tests and benchmarks measure it.

``private_bytes`` is the process's private memory (``Private_Clean + Private_Dirty`` of Linux's
``/proc/self/smaps``) without the mapping of Ray's object store (``/dev/shm/plasma*``): a block
read zero-copy from the store counts as "private" in smaps while no other process has touched
its pages, yet it lives in the shared store, which Ray bounds and spills. RSS counts those pages
too, so neither RSS nor plain smaps shows what streaming costs a process. ``PeakMemory`` samples
``private_bytes`` in a background thread.
"""

from __future__ import annotations

import threading
import time


def private_bytes() -> int:
    """This process's private memory in bytes, object-store pages excluded (0 off Linux)."""
    try:
        with open("/proc/self/smaps") as smaps:
            lines = smaps.readlines()
    except OSError:
        return 0
    total, shared_store = 0, False
    for line in lines:
        head = line.split(maxsplit=6)
        if head and "-" in head[0] and not head[0].endswith(":"):  # a new mapping's header
            shared_store = len(head) > 5 and "plasma" in head[5]
        elif not shared_store and head[0] in ("Private_Clean:", "Private_Dirty:"):
            total += int(head[1]) * 1024
    return total


class PeakMemory:
    """The highest ``private_bytes`` seen since the last ``reset`` (sampled every ``every_s``)."""

    def __init__(self, every_s: float = 0.02) -> None:
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
