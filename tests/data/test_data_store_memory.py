"""Streaming keeps memory bounded: the driver and the consumer of an epoch never hold the data.

``memory_probe.py`` runs in a fresh process (its own Ray instance, a 1 GB object store): it
writes 500,000 rows (250 daily series of 2000 days) in time-sliced files, builds the series store
and reads one training epoch of window 384 through ``StreamFeeder``, as a trial does. The
in-memory path would hold the pandas frame plus every window (about 0.66 GB here: windows take
``window`` times the bytes of the data, so a long window makes that large from little data,
which keeps the shuffle and the epoch short). The streamed path's peak private memory above a
baseline (object-store pages excluded, as ``benchmarks/peak_memory.py`` measures it) must stay
below half of that, both for building the store and for the epoch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("memory_probe.py")


@pytest.mark.slow
def test_streamed_epoch_and_store_stay_under_a_memory_ceiling():
    done = subprocess.run(
        [sys.executable, str(PROBE), "500000", "250", "384", "1000"],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    in_memory = measured["frame_bytes"] + measured["all_windows_bytes"]
    assert measured["windows"] > 300_000 and in_memory > 600e6
    assert measured["store_peak"] < in_memory / 2, measured
    assert measured["epoch_peak"] < in_memory / 2, measured
