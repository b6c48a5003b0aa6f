"""Sweep overhead: where a sweep's wall clock goes, beside the trials' own training seconds.

    PYTHONPATH=platform python benchmarks/sweep_overhead.py [--trials 16] [--epochs 25]
        [--scaling] [--ray-train] [--json PATH] [--doc docs/benchmarks.md]

One run on 2 CPUs (Ray started here with ``num_cpus=2``, 2 trials at a time): a sweep of small
mlp/lstm trials (the default ASHA scheduler) on three real monthly series (statsmodels' El Nino
SST, Mauna Loa CO2 and euro-area electrical-equipment orders, horizon 6; the ``monthly`` set of
``ensemble_accuracy.py``), then the ensemble, as ``foretune run`` does. Reported:

- the wall clock from before Ray starts to the saved ensemble;
- the sum of the trials' own training seconds (their epochs' training and validation passes,
  ``t_train_s`` in each trial's last report) and the ideal: that sum / 2 slots;
- the overhead factor wall / ideal;
- a breakdown of the wall clock from timestamps the trials report (``search.trainable.TrialClock``)
  and the driver records (a Tune callback here): per-trial items are summed over trials and
  divided by the slots, so every row is seconds of wall clock and the rows add up to the wall;
- with ``--scaling``: the same sweep with 32 and then 64 trials (Ray already up), and the ratio
  of their sweep times (target < 2: cost grows linearly);
- with ``--ray-train``: a one-trial sweep inline and through Ray Train's ``TorchTrainer``.

The machine's load average is printed: absolute seconds move with it, ratios measured in the same
run much less.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import optuna
from ray.tune import Callback

try:
    import foretune  # noqa: F401
except ImportError:  # run without PYTHONPATH=platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ensemble_accuracy import monthly  # noqa: E402  (the same real monthly series)
from foretune.config import ExperimentConfig  # noqa: E402
from foretune.ensemble import build_ensemble  # noqa: E402
from foretune.runtime import ensure_ray  # noqa: E402
from foretune.search import run_sweep  # noqa: E402

SLOTS = 2
START, END = "<!-- sweep-overhead:start -->", "<!-- sweep-overhead:end -->"


class Timeline(Callback):
    """The driver's stamps: when each trial was submitted and completed, and its final result."""

    def __init__(self) -> None:
        self.submitted: dict[str, float] = {}
        self.completed: dict[str, float] = {}
        self.final: dict[str, dict] = {}
        self.loop_started = self.loop_ended = None

    def on_step_begin(self, iteration, trials, **info) -> None:
        self.loop_started = self.loop_started or time.time()

    def on_step_end(self, iteration, trials, **info) -> None:
        now = time.time()
        for trial in trials:  # a trial exists once the searcher suggested it: a slot was free
            self.submitted.setdefault(trial.trial_id, now)

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        if "t_reported_at" in result:  # the last one counts (ASHA may stop a trial at any)
            self.final[trial.trial_id] = dict(result)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        self.completed[trial.trial_id] = time.time()

    def on_experiment_end(self, trials, **info) -> None:
        self.loop_ended = time.time()


def config(path: Path, trials: int, epochs: int, **train) -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {
            "seed": 0,
            "models": ["mlp", "lstm"],
            "data": {"path": str(path), "horizon": 6},
            "train": {"max_epochs": epochs, **train},
            "search": {"trials": trials, "windows": [12, 24], "max_concurrent": SLOTS},
            "ensemble": {"samples": 50},
        }
    )


def timed_sweep(cfg: ExperimentConfig, ensemble: bool) -> dict[str, float]:
    """Run the sweep (and the ensemble); every figure in seconds."""
    timeline = Timeline()
    with tempfile.TemporaryDirectory() as tmp:
        began = time.time()
        run_sweep(cfg, tmp, callbacks=[timeline])
        swept = time.time()
        if ensemble:
            build_ensemble(tmp, cfg)
        ended = time.time()
    return breakdown(timeline, began, swept, ended)


def breakdown(timeline: Timeline, began: float, swept: float, ended: float) -> dict[str, float]:
    """Seconds of wall clock per item (per-trial items summed and divided by the slots)."""
    trials = [t for t in timeline.final if t in timeline.completed]
    per_trial = {
        "trial launch (submit -> trial's first line)": 0.0,
        "data transfer to trials": 0.0,
        "trial setup (config, model, feed)": 0.0,
        "training (epochs)": 0.0,
        "per-epoch reporting + checkpoints": 0.0,
        "validation scoring": 0.0,
        "last report, its checkpoint, trial end": 0.0,
    }
    busy, detail = 0.0, []
    for tid in trials:
        r, submitted, completed = timeline.final[tid], timeline.submitted[tid], timeline.completed[tid]
        in_trial = r["t_reported_at"] - r["t_started_at"]
        accounted = r["t_data_s"] + r["t_train_s"] + r["t_report_s"] + r["t_score_s"]
        per_trial["trial launch (submit -> trial's first line)"] += r["t_started_at"] - submitted
        per_trial["data transfer to trials"] += r["t_data_s"]
        per_trial["trial setup (config, model, feed)"] += in_trial - accounted
        per_trial["training (epochs)"] += r["t_train_s"]
        per_trial["per-epoch reporting + checkpoints"] += r["t_report_s"]
        per_trial["validation scoring"] += r["t_score_s"]
        per_trial["last report, its checkpoint, trial end"] += completed - r["t_reported_at"]
        busy += completed - submitted
        detail.append(
            {
                "pid": r["t_pid"],
                "epochs": r.get("epoch", 0) + 1,
                "launch_s": r["t_started_at"] - submitted,
                "setup_s": in_trial - accounted,
                "train_s": r["t_train_s"],
                "report_s": r["t_report_s"],
            }
        )
    loop = timeline.loop_ended - timeline.loop_started
    rows = {"sweep setup (data, object store, Tuner)": timeline.loop_started - began}
    rows.update({k: v / SLOTS for k, v in per_trial.items()})
    rows["idle slots (driver between trials)"] = (SLOTS * loop - busy) / SLOTS
    rows["leaderboard + curves"] = swept - timeline.loop_ended
    rows["ensemble"] = ended - swept
    return {
        "rows": rows,
        "sweep_s": swept - began,
        "train_s": per_trial["training (epochs)"],
        "trials_timed": len(trials),
        "per_trial": detail,
        "threads": sorted({int(timeline.final[t]["t_threads"]) for t in trials}),
        "end": ended,
    }


def start_ray(attempts: int = 3) -> tuple[float, float]:
    """Start Ray: (the start time, its seconds). On a heavily loaded machine the raylet can miss
    Ray's fixed 30 s registration deadline; such a failed attempt is retried and not counted."""
    import ray

    for attempt in range(attempts):
        began = time.time()
        try:
            ensure_ray(num_cpus=SLOTS)
            return began, time.time() - began
        except Exception as err:  # noqa: BLE001 - Ray raises a bare Exception on this timeout
            print(f"Ray start attempt {attempt + 1} failed: {err}", flush=True)
            ray.shutdown()
    raise RuntimeError(f"Ray did not start in {attempts} attempts")


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py parses the
    commands the docs show with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--scaling", action="store_true", help="also 32 vs 64 trials")
    parser.add_argument(
        "--ray-train", action="store_true", help="also one trial inline vs through Ray Train's TorchTrainer"
    )
    parser.add_argument("--json")
    parser.add_argument(
        "--doc",
        "--readme",
        dest="doc",
        metavar="PATH",
        help="rewrite the sweep-overhead block of this Markdown file (docs/benchmarks.md) with the results",
    )
    return parser


def main() -> None:
    args = build_parser().parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "monthly.parquet"
        monthly().frame.to_parquet(path, index=False)
        began, ray_start = start_ray()
        run = timed_sweep(config(path, args.trials, args.epochs), ensemble=True)
        run["rows"] = {"Ray start": ray_start, **run["rows"]}
        wall = run["end"] - began
        scaling, one_trial = {}, {}
        if args.scaling:
            for n in (32, 64):
                scaling[n] = timed_sweep(config(path, n, args.epochs), ensemble=False)["sweep_s"]
        if args.ray_train:
            for workers in (0, 1):
                cfg = config(path, 1, args.epochs, num_workers=workers)
                one_trial[workers] = timed_sweep(cfg, ensemble=False)["sweep_s"]
    ideal = run["train_s"] / SLOTS
    out = {
        "trials": args.trials,
        "epochs": args.epochs,
        "slots": SLOTS,
        "load_avg_1m_before_after": [load_before[0], os.getloadavg()[0]],
        "torch_threads_per_trial": run["threads"],
        "wall_s": wall,
        "sum_train_s": run["train_s"],
        "ideal_s": ideal,
        "overhead_factor": wall / ideal,
        "breakdown_s": run["rows"],
        "scaling_sweep_s": scaling,
        "one_trial_sweep_s_by_num_workers": one_trial,
        "per_trial": run["per_trial"],
    }
    lines = [
        f"{args.trials} trials (mlp/lstm, ASHA, up to {args.epochs} epochs) on 3 real monthly series, "
        f"{SLOTS} at a time on {SLOTS} CPUs; load average {load_before[0]:.1f} before, "
        f"{out['load_avg_1m_before_after'][1]:.1f} after; torch threads per trial: {run['threads']}",
        "",
        "| measure | seconds | share of wall |",
        "|---|---:|---:|",
        f"| wall clock, Ray start to saved ensemble | {wall:.1f} | 100% |",
        f"| sum of the trials' own training seconds | {run['train_s']:.1f} | |",
        f"| ideal: that sum / {SLOTS} slots | {ideal:.1f} | {ideal / wall:.0%} |",
        *(f"| {name} | {seconds:.1f} | {seconds / wall:.0%} |" for name, seconds in run["rows"].items()),
        "",
        f"overhead factor wall / ideal = {out['overhead_factor']:.2f} (target <= 1.5)",
    ]
    biggest = max((k for k in run["rows"] if k != "training (epochs)"), key=run["rows"].get)
    share = run["rows"][biggest] / wall
    lines.append(
        f"largest item besides training: {biggest}, {share:.0%} of the wall clock "
        f"({'meets' if share <= 0.10 else 'misses'} <= 10%)"
    )
    if scaling:
        ratio = scaling[64] / scaling[32]
        out["scaling_ratio_64_vs_32"] = ratio
        lines.append(
            f"sweep of 32 trials {scaling[32]:.1f} s, of 64 trials {scaling[64]:.1f} s: "
            f"ratio {ratio:.2f} (target < 2)"
        )
    if one_trial:
        lines.append(
            f"one-trial sweep: {one_trial[0]:.1f} s inline (train.num_workers 0), "
            f"{one_trial[1]:.1f} s through Ray Train's TorchTrainer (num_workers 1)"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.doc:
        from accuracy import write_doc

        write_doc(Path(args.doc), text, START, END)
        print(f"rewrote the sweep-overhead block of {args.doc}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
