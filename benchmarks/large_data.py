"""Larger-than-memory data: streaming 1M to 20M rows through Ray Data into Ray Train workers.

    python benchmarks/large_data.py [--rows 1e6,2e6,5e6,10e6,20e6] [--rows-per-series 2000]
                                    [--window 32] [--workers 2] [--json PATH]

For each size it generates long-format Parquet (``foretune.data.synthetic``: daily series of
``--rows-per-series`` rows, so 20M rows = 10,000 series, in time-sliced files), then measures

- **store**: ``build_store`` (read, hash-shuffle by series, validate, fit statistics, write one
  row per series) — seconds and input rows per second;
- **epoch**: one training epoch plus its validation pass of a small MLP on ``--workers`` Ray
  Train workers (DDP, gloo), each reading its shard of the streamed windows — seconds (as the
  loop measures them, without the worker group's start-up) and training windows per second;
- **peak private memory** (``benchmarks/peak_memory.py``; shared object-store pages excluded) of the driver
  over both steps and of each worker over its epoch.

In the same run, at the smallest size, the in-memory path (``read_frame`` + ``validate`` +
``prepare`` on the driver) is timed and measured as the reference. Figures are printed as a
markdown table and ratios: seconds per million rows at each size over that at the smallest size
(1.0 = linear). On 2 CPUs the workers take 0.5 CPU each and Ray Data's tasks the rest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
# Ray Train workers import peak_memory.py from this folder too.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (str(Path(__file__).resolve().parent), os.environ.get("PYTHONPATH")) if p
)

WORKER_PEAKS = "worker_peaks"


def measured_worker(config: dict[str, Any]) -> list[dict[str, Any]]:
    """``train_worker`` plus this worker's peak private memory, written next to the run."""
    import ray.train

    from foretune.train.distributed import train_worker
    from peak_memory import PeakMemory

    peak = PeakMemory()
    base = peak.reset()
    history = train_worker(config)
    rank = ray.train.get_context().get_world_rank()
    out = Path(config[WORKER_PEAKS]) / f"rank{rank}.json"
    out.write_text(json.dumps({"peak": peak.value, "base": base}))
    return history


def in_memory_reference(path: Path, window: int, horizon: int) -> dict[str, float]:
    """The in-memory path on the driver: seconds and peak private memory above the baseline."""
    from foretune.data import RatioTransform, prepare, read_frame, validate
    from peak_memory import PeakMemory

    peak = PeakMemory()
    base = peak.reset()
    started = time.perf_counter()
    data = prepare(
        validate(read_frame(str(path)), min_length=window + horizon + 1),
        window=window,
        horizon=horizon,
        transform=RatioTransform(),
    )
    seconds = time.perf_counter() - started
    windows = len(data.train) + len(data.val) + len(data.test)
    del data
    return {"seconds": seconds, "peak_mb": (peak.value - base) / 2**20, "windows": windows}


def one_size(rows: int, per_series: int, window: int, workers: int, work: Path) -> dict[str, Any]:
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from foretune.data.store import StoreSettings, build_store
    from foretune.data.synthetic import write_series_parquet
    from foretune.train import TrainSpec
    from peak_memory import PeakMemory

    horizon, series = 4, rows // per_series
    source = write_series_parquet(work / f"in-{rows}", rows, series, files=16)
    settings = StoreSettings(
        str(source), (), "log_ratio", 1e-10, 0.25, horizon, window, 0.15, 0.1, stream_cpus=0.5
    )
    peak = PeakMemory()
    base = peak.reset()
    started = time.perf_counter()
    store = build_store(settings, work / f"store-{rows}")
    store_s = time.perf_counter() - started
    stream = store.stream(window)
    spec = TrainSpec(
        "mlp",
        {"hidden_sizes": [32], "dropout": 0.1},
        window,
        horizon,
        batch_size=4096,
        max_epochs=1,
        patience=1,
        seed=0,
    )
    peaks_dir = work / f"peaks-{rows}"
    peaks_dir.mkdir()
    trainer = TorchTrainer(
        measured_worker,
        train_loop_config={
            "spec": spec.to_dict(),
            "data": stream.without_data(),
            WORKER_PEAKS: str(peaks_dir),
        },
        datasets={"train": stream.train, "val": stream.val},
        scaling_config=ScalingConfig(num_workers=workers, resources_per_worker={"CPU": 0.5}),
        run_config=RunConfig(name=f"bench-{rows}", storage_path=str(work / "ray")),
    )
    started = time.perf_counter()
    result = trainer.fit()
    trainer_s = time.perf_counter() - started
    if result.error:
        raise result.error
    epoch_s = float(result.metrics["train_seconds"])  # the epoch and its validation pass
    worker_peaks = [json.loads(p.read_text()) for p in sorted(peaks_dir.glob("rank*.json"))]
    out = {
        "rows": rows,
        "series": series,
        "store_s": store_s,
        "store_rows_per_s": rows / store_s,
        "epoch_s": epoch_s,
        "trainer_s": trainer_s,
        "train_windows": stream.n_train,
        "train_windows_per_s": stream.n_train / epoch_s,
        "in_memory_windows_gb": sum(store.counts(window).values()) * window * 4 / 1e9,
        "driver_peak_mb": (peak.value - base) / 2**20,
        "worker_peak_mb": [(w["peak"] - w["base"]) / 2**20 for w in worker_peaks],
        "worker_total_mb": [w["peak"] / 2**20 for w in worker_peaks],
    }
    shutil.rmtree(source)
    shutil.rmtree(store.directory)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py parses the
    commands the docs show with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1e6,2e6,5e6,10e6,20e6")
    parser.add_argument("--rows-per-series", type=int, default=2000)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="also write the results as JSON to this path")
    return parser


def main() -> None:
    args = build_parser().parse_args()
    sizes = [int(float(r)) for r in args.rows.split(",")]

    from foretune.data.synthetic import write_series_parquet
    from foretune.runtime import ensure_ray

    work = Path(tempfile.mkdtemp(prefix="ft-bench-", dir="/tmp"))
    ensure_ray(num_cpus=os.cpu_count())
    first = sizes[0]
    reference_input = write_series_parquet(work / "reference", first, first // args.rows_per_series, files=16)
    reference = in_memory_reference(reference_input, args.window, 4)
    results = []
    for rows in sizes:
        results.append(one_size(rows, args.rows_per_series, args.window, args.workers, work))
        print(json.dumps(results[-1]), flush=True)
    report(results, reference)
    if args.json:
        Path(args.json).write_text(json.dumps({"reference": reference, "sizes": results}, indent=2))
    shutil.rmtree(work, ignore_errors=True)


def report(results: list[dict[str, Any]], reference: dict[str, float]) -> None:
    base = results[0]
    print(
        "\n| rows | series | store s (rows/s) | epoch s (windows/s) | time per row vs 1st "
        "| driver peak MB | worker peak MB | in-memory windows GB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        per_row = (r["store_s"] + r["epoch_s"]) / r["rows"]
        linear = per_row / ((base["store_s"] + base["epoch_s"]) / base["rows"])
        workers = " / ".join(f"{m:.0f}" for m in r["worker_peak_mb"])
        print(
            f"| {r['rows'] / 1e6:g}M | {r['series']} | {r['store_s']:.1f} "
            f"({r['store_rows_per_s'] / 1e3:.0f}k) | {r['epoch_s']:.1f} "
            f"({r['train_windows_per_s'] / 1e3:.0f}k) | {linear:.2f} | "
            f"{r['driver_peak_mb']:.0f} | {workers} | {r['in_memory_windows_gb']:.2f} |"
        )
    print(
        f"\nreference, in-memory path at {base['rows'] / 1e6:g}M rows on the driver: "
        f"{reference['seconds']:.1f} s, peak {reference['peak_mb']:.0f} MB "
        f"({reference['windows']} windows); streamed driver peak at the same size: "
        f"{base['driver_peak_mb']:.0f} MB ({base['driver_peak_mb'] / reference['peak_mb']:.2f}x)"
    )


if __name__ == "__main__":
    main()
