"""Run in a fresh process by ``test_data_store_memory``: stream a generated file, measure memory.

Prints one JSON line: the bytes the in-memory path's training windows would take, and this
process's peak private memory (``Private_*`` of ``/proc/self/smaps_rollup``, sampled every 10 ms:
object-store pages shared with Ray are not counted) above a baseline taken after a warm-up, for
building the series store and for one training epoch read through ``StreamFeeder``, and the
bytes the input takes as a pandas frame (what the in-memory path starts from).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"  # peak_memory.py lives there


def main(rows: int, series: int, window: int, object_store_mb: int) -> None:
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    sys.path.insert(0, str(BENCHMARKS))
    import ray
    import torch

    from foretune.data.store import StoreSettings, build_store
    from foretune.data.synthetic import write_series_parquet
    from foretune.train.stream import StreamFeeder
    from peak_memory import PeakMemory

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

    work = Path(tempfile.mkdtemp(dir="/tmp"))
    write_series_parquet(work / "warm", rows // 4, series // 4, files=8)
    write_series_parquet(work / "big", rows, series, files=8)
    ray.init(
        address="local",
        num_cpus=2,
        object_store_memory=object_store_mb * 2**20,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        log_to_driver=False,
    )

    def settings(name: str) -> StoreSettings:
        return StoreSettings(str(work / name), (), "log_ratio", 1e-10, 0.25, 4, val_windows=1, test_windows=1)

    def epoch(store) -> int:
        stream = store.stream(window)
        feeder = StreamFeeder(stream.train, stream.n_train, torch.device("cpu"), 0, 10_000)
        return sum(len(batch[0]) for batch in feeder.epoch(0, 256))

    # Warm-up on a quarter of the data (same series length, so the same block sizes): loads
    # every code path and lets the allocators and Ray's threads reach their working size.
    epoch(build_store(settings("warm"), work / "warm-store"))
    peak = PeakMemory()
    base = peak.reset()
    store = build_store(settings("big"), work / "big-store")
    store_peak = peak.value - base
    base = peak.reset()
    windows = epoch(store)
    epoch_peak = peak.value - base
    ray.shutdown()
    import pandas as pd

    frame_bytes = int(pd.read_parquet(work / "big").memory_usage(deep=True).sum())
    counts = store.counts(window)
    print(
        json.dumps(
            {
                "windows": windows,
                "all_windows_bytes": sum(counts.values()) * window * 4,
                "windows_bytes": windows * window * 4,
                "frame_bytes": frame_bytes,
                "store_peak": store_peak,
                "epoch_peak": epoch_peak,
            }
        )
    )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:5]))
