"""How fast ``Ensemble.predict`` is: N series x horizon H x S MC-dropout samples on the CPU.

Run from the repository root::

    PYTHONPATH=platform python benchmarks/predict_speed.py            # 1,000 x 24 x 100
    PYTHONPATH=platform python benchmarks/predict_speed.py --members mlp,lstm,tcn --repeat 3

The ensemble is built in memory from freshly initialised members of the named architectures
(default hyperparameters, window 24; speed does not depend on the weights' values) over a synthetic
monthly panel of positive random walks, with a calibration of every default level, so every stage
of a real ``predict`` runs: validation, inputs, MC dropout per member, inversion of every sample
path, the weighted mixture (moments, quantiles), calibration, directions and the output frame.

It prints the wall time per stage (best of ``--repeat``) and, for comparison, the two stages this
release vectorised timed the old way on the same arrays: inverting paths with a Python loop per
series, and assembling the output as one DataFrame per series.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

try:
    import foretune  # noqa: F401
except ImportError:  # run without PYTHONPATH=platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

from foretune import models
from foretune.data import RatioTransform, future_dates
from foretune.ensemble.conformal import Calibration
from foretune.ensemble.model import Ensemble, Member
from foretune.train import TrainSpec


def panel(n_series: int, length: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    steps = rng.normal(0.002, 0.02, size=(n_series, length))
    y = 100 * np.exp(np.cumsum(steps, axis=1))
    ds = pd.date_range("2000-01-01", periods=length, freq="MS")
    return pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i:05d}" for i in range(n_series)], length),
            "ds": np.tile(ds, n_series),
            "y": y.ravel(),
        }
    )


def ensemble_for(frame: pd.DataFrame, architectures, horizon: int, window: int) -> Ensemble:
    transform = RatioTransform("log_ratio")
    for uid, group in frame.groupby("unique_id", sort=False):
        transform.fit_series(uid, group["y"].to_numpy()[: int(len(group) * 0.75)])
    members = []
    for i, arch in enumerate(architectures):
        spec = TrainSpec(arch, {}, window, horizon, seed=i)
        torch.manual_seed(i)
        model = models.build(arch, input_size=2, horizon=horizon, window=window).eval()
        members.append(
            Member(model, arch, window, 1.0 / len(architectures), spec, 2)
        )  # y change + mask channel
    levels = [0.5, 0.8, 0.9, 0.95]
    settings = {
        "horizon": horizon,
        "samples": 100,
        "seed": 0,
        "levels": levels,
        "quantiles": [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95],
        "direction_source": "head",
    }
    manifest = {"input_schema": {"required": ["unique_id", "ds", "y"], "covariates": []}, "freqs": {}}
    calibration = Calibration({level: np.full(horizon, 0.5) for level in levels})
    scales = {uid: 1.0 for uid in transform.stats}
    return Ensemble(members, transform, settings, manifest, calibration, scales)


def old_invert(transform, uids, last, z):
    """The previous ``_invert``: one Python iteration per series."""
    out = np.empty_like(z)
    for i, uid in enumerate(uids):
        r = transform.unstandardize(uid, z[:, i])
        out[:, i] = transform.integrate(np.full(len(r), last[i]), r)
    return out


def old_frame(uids, last_ds, horizon, mean):
    """The previous frame assembly: one DataFrame per series, then concat."""
    rows = []
    for i, uid in enumerate(uids):
        ds = future_dates(last_ds[i], "MS", horizon)
        block = {"unique_id": uid, "ds": ds, "mean": mean[i], "std": mean[i]}
        block.update({f"q{j}": mean[i] for j in range(7)})
        block.update(p_down=mean[i], p_flat=mean[i], p_up=mean[i])
        rows.append(pd.DataFrame(block))
    return pd.concat(rows, ignore_index=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--length", type=int, default=120)
    parser.add_argument("--horizon", type=int, default=24)
    parser.add_argument("--window", type=int, default=24)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--members", default="mlp,lstm,tcn")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)

    frame = panel(args.series, args.length)
    architectures = args.members.split(",")
    ensemble = ensemble_for(frame, architectures, args.horizon, args.window)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.series} series x "
        f"horizon {args.horizon} x {args.samples} samples x {len(architectures)} members "
        f"({', '.join(architectures)}, window {args.window})"
    )
    best, timings = np.inf, {}
    for _ in range(args.repeat):
        started = time.perf_counter()
        forecast = ensemble.predict(frame, samples=args.samples)
        total = time.perf_counter() - started
        if total < best:
            best, timings = total, dict(ensemble.timings)
    assert len(forecast) == args.series * args.horizon
    timings["validate + inputs"] = timings.pop("inputs")
    print(f"predict total: {best:.2f} s  ({len(forecast)} rows, {forecast.shape[1]} columns)")
    for stage, seconds in timings.items():
        print(f"  {stage:<18} {seconds:7.3f} s")

    # the member forward passes alone, one architecture at a time
    from foretune.ensemble.draws import mc_forward

    x = np.random.default_rng(0).normal(size=(args.series, args.window, 1)).astype(np.float32)
    for member in ensemble.members:
        started = time.perf_counter()
        mc_forward(member.model, x, args.samples)
        print(f"  MC forward {member.architecture:<8} {time.perf_counter() - started:7.3f} s")

    # the two stages vectorised in this release, old way vs new way, on the same arrays
    from foretune.ensemble.draws import RowTransform, invert_paths

    uids = list(ensemble.transform.stats)
    last = frame.groupby("unique_id")["y"].last().to_numpy()
    z = np.random.default_rng(1).normal(size=(args.samples, len(uids), args.horizon))
    old_seconds = new_seconds = np.inf
    for _ in range(3):
        started = time.perf_counter()
        old_invert(ensemble.transform, uids, last, z)
        old_seconds = min(old_seconds, time.perf_counter() - started)
        started = time.perf_counter()
        invert_paths(RowTransform(ensemble.transform, uids), last, z)
        new_seconds = min(new_seconds, time.perf_counter() - started)
    print(
        f"invert {args.samples} paths x {len(uids)} series (one member): per-series loop "
        f"{old_seconds:.3f} s, blocked vectorised {new_seconds:.3f} s"
    )
    last_ds = [frame["ds"].iloc[-1]] * len(uids)
    started = time.perf_counter()
    old_frame(uids, last_ds, args.horizon, np.zeros((len(uids), args.horizon)))
    print(
        f"frame: one DataFrame per series {time.perf_counter() - started:.3f} s, vectorised "
        f"{timings['frame']:.3f} s (incl. calibration and quantile rearrangement)"
    )


if __name__ == "__main__":
    main()
