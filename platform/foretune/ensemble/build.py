"""Choose members from the leaderboard, weight them, calibrate, and write the ensemble artifact.

``build_ensemble(run_dir, config)`` = ``make_ensemble(...).save(run_dir / "ensemble")``:

1. Candidates: the ``top_k`` finished trials by validation loss, at most ``max_per_architecture``
   of one architecture (a diversity rule: the next-best trial of another architecture takes the
   place of a third LSTM that would mostly repeat the first two).
2. Data, once: ``load_series`` + ``prepare_all`` rebuild the sweep's windows (and are checked
   against the sweep's saved transform). A streamed run (``foretune.data.store``) uses the
   validation and test windows of a seeded sample of whole series, up to ``max_windows``.
   Every candidate draws ``samples`` MC-dropout paths for all validation and test windows in
   one batched pass; everything below reuses these draws.
3. Weights, on the validation windows: each validation window is an out-of-sample forecast origin
   (rolling origin over the validation part; no trial trained on it, though the sweep used its
   loss to stop training and rank trials). ``weighting``:
   - ``greedy`` (default): greedy ensemble selection with replacement (Caruana et al., 2004;
     ``greedy.py``) of the members' MC-mean forecasts (the mixture mean is the weighted mean of
     the members' means, so this optimises exactly the served point forecast) under ``metric``;
   - ``inverse_error``: weights proportional to 1 / the member's ``metric``;
   - ``mean``: equal weights.
   ``metric``: ``mae``/``rmse`` in original units; ``mase`` (default) and ``crps`` divided by each
   series' MASE scale, so series of different magnitude count alike. For ``crps`` the greedy
   step pools members' paths (at most 20 per member, to keep selection cheap).
   Members that get weight 0 are dropped (listed in ``ensemble.json`` as candidates).
4. Optional refit on train + validation (``refit``; see ``refit.py``).
5. Calibration on the test windows (which no trial trained on and nothing above used): CQR per
   level and step (``conformal.py``). ``ensemble.json`` records ``calibration: {level: {before,
   after, after_crossfit, n, ...}}``; with ``data.test_fraction: 0`` there are no held-out windows
   and the ensemble stays uncalibrated (recorded as such).
6. Reports in ``ensemble.json``: ``selection`` (candidates, their validation scores, greedy
   counts and trajectory), ``test_scores`` (ensemble and each member: MASE, MAE, scaled CRPS on
   the test windows), ``direction`` (accuracy and log-loss of head, sample-path and blended
   direction probabilities on the test windows).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from foretune.config import ExperimentConfig
from foretune.data import PreparedData, WindowSet
from foretune.errors import EnsembleError
from foretune.evaluate import metrics as M
from foretune.train import read_checkpoint
from foretune.train.checkpoint import META

from .conformal import calibrate, interval_quantiles, usable_scale
from .draws import Draws, RowTransform, member_draws
from .greedy import greedy_search, pooled_samples
from .mixture import mix, pool, resample
from .model import Ensemble, Member
from .refit import best_epochs, refit

CRPS_SELECTION_SAMPLES = 20


def select_members(board: pd.DataFrame, top_k: int, max_per_architecture: int | None = None) -> pd.DataFrame:
    """The best ``top_k`` usable trials (status ok, with a checkpoint), best first, with at
    most ``max_per_architecture`` of any one architecture (None: no limit)."""
    ok = board[(board["status"] == "ok") & board["checkpoint_path"].notna()]
    ok = ok[np.isfinite(ok["val_loss"].astype(float))]
    if ok.empty:
        reasons = board["reason"].fillna("").astype(str)
        reasons = reasons[reasons != ""]
        common = reasons.mode().iloc[0] if not reasons.empty else "no trial finished"
        raise EnsembleError(
            f"no trial of {len(board)} finished successfully, so there is no ensemble to build; "
            f"most common reason: {common}"
        )
    ok = ok.sort_values("val_loss", kind="stable")
    if max_per_architecture is not None:
        rank = ok.groupby("architecture", sort=False).cumcount()
        ok = ok[rank < max_per_architecture]
    return ok.head(top_k)


def inverse_error_weights(losses: np.ndarray) -> np.ndarray:
    inv = 1.0 / np.maximum(np.asarray(losses, dtype=float), 1e-12)
    return inv / inv.sum()


def build_ensemble(run_dir: str | Path, config: ExperimentConfig | None = None) -> Path:
    """Build ``run_dir/ensemble`` from ``run_dir/leaderboard.parquet``; return its path."""
    run_dir = Path(run_dir).resolve()
    return make_ensemble(run_dir, config).save(run_dir / "ensemble")


def make_ensemble(
    run_dir: str | Path,
    config: ExperimentConfig | None = None,
    *,
    trial_ids: list[str] | None = None,
) -> Ensemble:
    """The ensemble of a finished sweep, in memory (``save`` writes it); see the module docstring.

    ``trial_ids`` replaces the leaderboard choice with these trials (e.g. one trial: the best
    single model, weighted 1 and calibrated the same way, for comparisons).
    """
    run_dir = Path(run_dir).resolve()
    board_path = run_dir / "leaderboard.parquet"
    if not board_path.is_file():
        raise EnsembleError(f"{board_path} not found; run `foretune sweep` first")
    if config is None:
        config = ExperimentConfig.from_dict(json.loads((run_dir / "config.json").read_text()))
    settings = config.ensemble
    board = pd.read_parquet(board_path)
    if trial_ids is None:
        candidates = select_members(board, settings.top_k, settings.max_per_architecture)
    else:
        candidates = board[board["trial_id"].astype(str).isin([str(t) for t in trial_ids])]
        candidates = select_members(candidates, len(candidates)) if len(candidates) else candidates
        if candidates.empty:
            raise EnsembleError(f"none of the trials {trial_ids} is a finished trial of {run_dir}")

    saved_transform = json.loads((run_dir / "transform.json").read_text())
    windows = sorted({int(w) for w in candidates["window"]})
    if (run_dir / "data" / "store.json").is_file():
        datasets = _sample_stream(run_dir, config, windows)
    else:
        datasets = _prepare(config, windows, saved_transform)
    reference = next(iter(datasets.values()))
    transform = reference.transform
    val, test = reference.val, reference.test
    n_val = len(val)
    if n_val == 0:
        raise EnsembleError("there are no validation windows to weight the members on")

    members = [_load_member(row) for row in candidates.itertuples()]
    draws = _draw_all(members, datasets, config.ensemble.samples, config.seed)
    val_draws = [_rows(d, slice(0, n_val)) for d in draws]
    test_draws = [_rows(d, slice(n_val, None)) for d in draws]

    scale = usable_scale(reference.mase_scale)
    weights, selection = _weigh(members, val_draws, val, scale, settings)
    selection["candidates"] = [
        {**m.info, "architecture": m.architecture, "window": m.window, "weight": float(w)}
        for m, w in zip(members, weights, strict=True)
    ]
    keep = [i for i, w in enumerate(weights) if w > 0]
    members = [members[i] for i in keep]
    test_draws = [test_draws[i] for i in keep]
    for member, i in zip(members, keep, strict=True):
        member.weight = float(weights[i] / sum(weights[j] for j in keep))

    if settings.refit:
        test_draws = _refit(run_dir, board, members, test_draws, datasets, config)

    levels = list(settings.levels)
    mixture = mix(test_draws, [m.weight for m in members], interval_quantiles(levels))
    calibration, calibration_report = None, {}
    if len(test) == 0:
        calibration_report = {"skipped": "no held-out test windows (data.test_fraction is 0)"}
    elif settings.calibration == "none":
        calibration_report = {"skipped": "ensemble.calibration is none"}
    else:
        bounds = {
            level: (
                mixture.quantiles[round((1 - level) / 2, 12)],
                mixture.quantiles[round((1 + level) / 2, 12)],
            )
            for level in levels
        }
        row_scale = scale[test.series] if settings.calibration_scale == "mase" else None
        calibration = calibrate(bounds, test.future, row_scale, folds=_halves(test))
        calibration_report = calibration.report

    data_info = json.loads((run_dir / "data.json").read_text())
    ensemble_settings: dict[str, Any] = {
        "horizon": config.data.horizon,
        "samples": settings.samples,
        "quantiles": settings.quantiles,
        "levels": levels,
        "seed": config.seed,
        "weighting": settings.weighting,
        "metric": settings.metric,
        "refit": settings.refit,
        "direction_source": settings.direction_source,
        "selection": selection,
        "calibration": calibration_report,
        "test_scores": _test_scores(members, test_draws, mixture, test, scale) if len(test) else {},
        "direction": _direction_report(mixture, test) if len(test) else {},
    }
    manifest_info = {
        "input_schema": {"required": ["unique_id", "ds", "y"], "covariates": data_info["covariates"]},
        "freqs": data_info["freqs"],
        "horizon": config.data.horizon,
        "transform": saved_transform["kind"],
    }
    scales = {uid: float(s) for uid, s in zip(reference.series_ids, scale, strict=True)}
    return Ensemble(
        members, transform, ensemble_settings, manifest_info, calibration, scales, config.to_dict()
    )


# -- steps ---------------------------------------------------------------------------------------
def _sample_stream(run_dir: Path, config: ExperimentConfig, windows: list[int]):
    """Streamed runs: validation and test windows of a seeded sample of whole series."""
    from foretune.data.store import SeriesStore, StoreSettings

    if config.ensemble.refit:
        raise EnsembleError(
            "ensemble.refit retrains in memory, which streamed data does not fit; set ensemble.refit: false"
        )
    covariates = tuple(json.loads((run_dir / "data.json").read_text())["covariates"])
    store = SeriesStore.open(run_dir / "data", StoreSettings.from_config(config, covariates))
    return {w: store.sample(w, config.ensemble.max_windows, config.seed) for w in windows}


def _prepare(config: ExperimentConfig, windows: list[int], saved: dict) -> dict[int, PreparedData]:
    """The sweep's prepared windows for each needed window length, checked against the sweep."""
    from foretune.data.experiment import load_series, prepare_all

    sub = config.model_copy(deep=True)
    sub.search.windows = windows
    datasets = prepare_all(sub, load_series(config))
    reference = next(iter(datasets.values()))
    for uid, stats in reference.transform.stats.items():
        old = saved["stats"].get(uid)
        if old is None or not np.allclose([stats.mu, stats.sigma], [old["mu"], old["sigma"]]):
            raise EnsembleError(
                f"the data of series {uid!r} differ from what the sweep in this run directory was "
                "trained on (its transform statistics changed); rebuild from the same data or "
                "rerun the sweep"
            )
    for data in datasets.values():
        for part in ("val", "test"):
            a, b = getattr(data, part), getattr(reference, part)
            assert np.array_equal(a.series, b.series) and np.array_equal(a.origin, b.origin)
    return datasets


def _load_member(row) -> Member:
    directory = Path(row.checkpoint_path)
    if not (directory / "model.pt").is_file():
        raise EnsembleError(f"checkpoint of trial {row.trial_id} is missing at {directory}")
    model, spec = read_checkpoint(directory)
    n_features = int(json.loads((directory / META).read_text())["n_features"])
    info = {"trial_id": str(row.trial_id), "val_loss": float(row.val_loss)}
    return Member(model, spec.architecture, spec.window, 0.0, spec, n_features, info)


def _draw_all(members, datasets, samples: int, seed: int) -> list[Draws]:
    """Every member's MC draws for the validation then the test windows, in one pass each."""
    out = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for member in members:
            data = datasets[member.window]
            windows = _concat(data.val, data.test)
            uids = np.asarray(data.series_ids, dtype=object)[windows.series]
            rows = RowTransform(data.transform, uids)
            out.append(
                member_draws(member.model, windows.x, samples, rows, windows.last, path_directions=True)
            )
    return out


def _weigh(members, val_draws, val: WindowSet, scale, settings):
    """Member weights on the validation windows and the selection report."""
    metric, weighting = settings.metric, settings.weighting
    row_scale = scale[val.series][:, None] if metric in ("mase", "crps") else 1.0
    target = val.future / row_scale
    if metric == "crps":
        # paths [M, S, N, H]; a combination pools the members' paths
        predictions = np.stack([d.levels[:CRPS_SELECTION_SAMPLES] for d in val_draws]) / row_scale
        combine = pooled_samples
    else:
        # MC means [M, N, H]; a combination is their weighted mean (the mixture mean)
        predictions = np.stack([d.levels.mean(axis=0) for d in val_draws]) / row_scale
        combine = None
    score = _METRICS[metric]
    finite = np.array([np.isfinite(p).all() for p in predictions])
    if not finite.any():
        raise EnsembleError("every candidate's validation forecasts are NaN or infinite")
    member_scores = np.array(
        [score(p, target) if ok else np.inf for p, ok in zip(predictions, finite, strict=True)]
    )
    for member, value in zip(members, member_scores, strict=True):
        member.info[f"val_{metric}"] = float(value)
    selection: dict[str, Any] = {"weighting": weighting, "metric": metric, "windows": int(len(val))}
    usable = np.flatnonzero(finite)
    weights = np.zeros(len(members))
    if weighting == "greedy":
        result = greedy_search(predictions[usable], target, score, settings.greedy_rounds, combine)
        weights[usable] = result.weights
        counts = np.zeros(len(members), dtype=np.int64)
        counts[usable] = result.counts
        selection.update(
            rounds=settings.greedy_rounds,
            best_round=result.best_round,
            counts=counts.tolist(),
            trajectory=result.trajectory,
        )
    elif weighting == "inverse_error":
        weights[usable] = inverse_error_weights(member_scores[usable])
    else:
        weights[usable] = 1.0 / len(usable)
    if combine is None:
        combined = np.tensordot(weights[usable], predictions[usable], axes=1)
    else:
        pooled, path_weights = pool(list(predictions[usable]), weights[usable])
        combined = resample(pooled, path_weights, len(usable) * CRPS_SELECTION_SAMPLES)
    selection["ensemble_score"] = float(score(combined, target))
    selection["best_single_score"] = float(member_scores.min())
    return weights, selection


def _crps(samples, y):
    return M.crps_from_samples(y, samples)


#: metric name -> score(prediction, target), lower is better (targets pre-scaled for mase/crps)
_METRICS = {
    "mae": lambda pred, y: M.mae(y, pred),
    "mase": lambda pred, y: M.mae(y, pred),
    "rmse": lambda pred, y: M.rmse(y, pred),
    "crps": _crps,
}


def _refit(run_dir, board, members, test_draws, datasets, config) -> list[Draws]:
    epochs = best_epochs(run_dir, board)
    out = []
    with torch.random.fork_rng(devices=[]):
        for member, draws in zip(members, test_draws, strict=True):
            data = datasets[member.window]
            best = epochs.get(member.info["trial_id"], member.spec.max_epochs - 1)
            model, spec = refit(member.spec, data, best)
            if model is None:
                member.info["refit"] = "failed (diverged); original weights kept"
                out.append(draws)
                continue
            member.model, member.spec = model, spec
            member.info["refit"] = f"train+validation, {best + 1} epochs"
            torch.manual_seed(config.seed)
            uids = np.asarray(data.series_ids, dtype=object)[data.test.series]
            out.append(
                member_draws(
                    model,
                    data.test.x,
                    config.ensemble.samples,
                    RowTransform(data.transform, uids),
                    data.test.last,
                    path_directions=True,
                )
            )
    return out


def _test_scores(members, test_draws, mixture, test: WindowSet, scale) -> dict[str, Any]:
    """MASE, MAE and scaled CRPS on the test windows: the ensemble and each member."""
    row_scale = scale[test.series][:, None]

    def scores(mean, paths):
        return {
            "mase": M.mae(test.future / row_scale, mean / row_scale),
            "mae": M.mae(test.future, mean),
            "crps_scaled": M.crps_from_samples(test.future / row_scale, paths / row_scale),
        }

    out = {
        "windows": int(len(test)),
        "ensemble": scores(mixture.mean, resample(mixture.paths, mixture.path_weights, 200)),
    }
    out["members"] = [
        {
            "trial_id": m.info.get("trial_id"),
            "architecture": m.architecture,
            **scores(d.levels.mean(axis=0), d.levels),
        }
        for m, d in zip(members, test_draws, strict=True)
    ]
    return out


def _direction_report(mixture, test: WindowSet) -> dict[str, Any]:
    out = {"windows": int(len(test))}
    for source in ("head", "samples", "blend"):
        probs = mixture.direction(source)
        out[source] = {
            "accuracy": M.direction_accuracy(test.y_dir, probs),
            "log_loss": M.log_loss(test.y_dir, probs),
        }
    out["base_rates"] = [float(np.mean(test.y_dir == k)) for k in range(3)]
    return out


# -- helpers -------------------------------------------------------------------------------------
def _rows(d: Draws, rows: slice) -> Draws:
    return Draws(d.levels[:, rows], d.probs[rows], None if d.path_probs is None else d.path_probs[rows])


def _concat(a: WindowSet, b: WindowSet) -> WindowSet:
    return WindowSet(
        *(np.concatenate([getattr(a, f), getattr(b, f)]) for f in WindowSet.__dataclass_fields__)
    )


def _halves(ws: WindowSet) -> np.ndarray:
    """0 for the earlier half of each series' windows, 1 for the later half (cross-fitting)."""
    fold = np.zeros(len(ws), dtype=np.int64)
    for index in np.unique(ws.series):
        rows = np.flatnonzero(ws.series == index)
        order = rows[np.argsort(ws.origin[rows], kind="stable")]
        fold[order[len(order) // 2 :]] = 1
    return fold
