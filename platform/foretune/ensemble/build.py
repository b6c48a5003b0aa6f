"""Build the ensemble of a finished sweep: choose members, weight them, calibrate, save the artifact.

    path = build_ensemble(run_dir, config)        # writes RUN/ensemble and returns its path
    ensemble = make_ensemble(run_dir, config)     # the same ensemble, in memory

``make_ensemble`` runs named steps on a run directory (``foretune.rundir.RunDir``): candidates
(the best finished trials and the ``ensemble.statistical`` models), validation draws (sample
paths: MC dropout, or a statistical model's forecast from each window's history), weights
(chosen on the validation windows), an optional refit of the kept members, their test draws,
calibration (CQR on the test windows, which nothing before used) and the artifact
(``Ensemble`` with the steps' reports).
``config=None`` reads the run's own config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from foretune import metrics as M
from foretune.config import EnsembleConfig, ExperimentConfig
from foretune.console import progress
from foretune.data import PreparedData, WindowSet
from foretune.data.experiment import AUTO, load_series, prepare_all
from foretune.data.store import SeriesStore, StoreSettings
from foretune.data.windows import Panel, series_seasons
from foretune.errors import EnsembleError
from foretune.models.statistical import (
    check_names,
    normal_paths,
    statistical_forecasts,
    statsforecast_available,
)
from foretune.rundir import RunDir
from foretune.storage import Location, as_location, local_copy, read_parquet, resolve
from foretune.timings import stage
from foretune.train.record import TrialStatus

from .artifact import MEMBER_WEIGHTS, read_member
from .conformal import Calibration, calibrate, interval_quantiles, usable_scale
from .draws import Draws, RowTransform, level_draws, member_draws
from .greedy import greedy_search, pooled_samples
from .mixture import Mixture, mix, pool, resample
from .model import STATISTICAL_PREFIX, Ensemble, Member
from .refit import best_epochs, concat_windows, refit_all
from .settings import EnsembleSettings

#: Draws per member on the validation windows, which only weigh the candidates: their MC mean
#: (``mase``, ``mae``, ``rmse``) or, under ``crps``, the paths the greedy search pools. Fewer than
#: the served ``ensemble.samples`` keeps the selection cheap; the test windows, which calibrate
#: and score, are drawn in full for the kept members only.
SELECTION_SAMPLES = 20


def select_members(board: pd.DataFrame, top_k: int, max_per_architecture: int | None = None) -> pd.DataFrame:
    """The best ``top_k`` usable trials (with a checkpoint of their best weights: finished, or
    stopped early by the scheduler at a rung), best first, with at most
    ``max_per_architecture`` of any one architecture (None: no limit).

    The limit is a diversity rule: the next-best trial of another architecture takes the place
    of a third of one architecture, which would mostly repeat the first two.
    """
    usable = board["status"].isin(TrialStatus.with_weights()) & board["checkpoint_path"].notna()
    ok = board[usable]
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
    """Weights proportional to ``1 / loss``, summing to 1."""
    inv = 1.0 / np.maximum(np.asarray(losses, dtype=float), 1e-12)
    return inv / inv.sum()


def build_ensemble(run_dir: str | Path, config: ExperimentConfig | None = None) -> Location:
    """Build the run's ensemble from its leaderboard and save it; return the artifact's path."""
    run = RunDir(resolve(run_dir))
    ensemble = make_ensemble(run.root, config)
    with stage("save"):
        return ensemble.save(run.ensemble)


def make_ensemble(
    run_dir: str | Path,
    config: ExperimentConfig | None = None,
    *,
    trial_ids: list[str] | None = None,
) -> Ensemble:
    """The ensemble of a finished sweep, in memory (``save`` writes it); see the module docstring.

    ``trial_ids`` replaces the leaderboard choice with these trials (e.g. one trial: the best
    single model, weighted 1 and calibrated the same way, for comparisons); a statistical
    member's id is ``statistical:<model>``.
    """
    run = RunDir(resolve(run_dir))
    board = _leaderboard(run)
    config = _run_config(run, config)
    settings = config.ensemble
    with stage("load"):
        members = _members(run, board, settings, trial_ids)
        windows = _windows(run, config, members)
        members = _drop_statistical(members, windows)
    forecasts = _statistical_forecasts(members, windows, ("val", "test"))
    val_draws = _draws(
        members, windows, "val", min(settings.samples, SELECTION_SAMPLES), config.seed, forecasts
    )
    with stage("selection"):
        members, selection = _weights(members, val_draws, windows, settings)
    return _finish(run, board, config, members, windows, selection, forecasts)


def refit_on_all_data(run_dir: str | Path, evaluated: Ensemble, config: ExperimentConfig) -> Ensemble:
    """``evaluated``'s members retrained on all the data, held-out tail included (``refit_full``).

    The same trials and member weights; the data are prepared without a hold-out
    (``evaluate.windows: 0``), so the transform is refit on the longer training parts, each member
    is retrained from scratch on train + validation windows for the epochs its trial's early
    stopping chose (``ensemble.refit``), and the intervals are recalibrated on the test windows,
    which no refit member trained on.
    """
    run = RunDir(resolve(run_dir))
    if run.streamed:
        raise EnsembleError("evaluate.refit_full retrains in memory, which streamed data does not fit")
    full = _run_config(run, config).model_copy(deep=True)
    full.evaluate.windows = 0
    full.ensemble.refit = True
    board = _leaderboard(run)
    chosen = {str(m.info["trial_id"]): m.weight for m in evaluated.members}
    with stage("load"):
        members = _members(run, board, full.ensemble, list(chosen))
        for member in members:
            member.weight = chosen[str(member.info["trial_id"])]
        windows = _windows(run, full, members, check=False)
    forecasts = _statistical_forecasts(members, windows, ("test",))
    selection = {**evaluated.report.get("selection", {}), "refit_full": "weights of the evaluated ensemble"}
    return _finish(run, board, full, members, windows, selection, forecasts)


def _finish(
    run: RunDir,
    board: pd.DataFrame,
    config: ExperimentConfig,
    members: list[Member],
    windows: _Windows,
    selection: dict[str, Any],
    forecasts: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]],
) -> Ensemble:
    """Refit (when asked), draw the test windows, mix, calibrate and assemble the weighted members."""
    settings = config.ensemble
    if settings.refit:
        with stage("refit"):
            _refit(run, board, members, windows.datasets, config)
    test_draws = _draws(members, windows, "test", settings.samples, config.seed, forecasts)
    with stage("calibration"):
        mixture = mix(test_draws, [m.weight for m in members], interval_quantiles(settings.levels))
        calibration, calibration_report = _calibration(mixture, windows, settings)
    with stage("reports"):
        return _artifact(
            run, config, members, test_draws, mixture, windows, selection, calibration, calibration_report
        )


@dataclass
class _Windows:
    """The sweep's validation and test windows for each member window length."""

    datasets: dict[int, PreparedData]
    reference: PreparedData  # any one: all share series, origins and transform
    scale: np.ndarray  # [n_series] MASE scale, undefined ones replaced by 1 (selection, scores)
    mase: np.ndarray  # [n_series] MASE scale, NaN where undefined (calibration, the artifact)
    panel: Panel | None = None  # every series' levels (in-memory runs: statistical members)
    seasons: np.ndarray | None = None  # [n_series] season lengths

    def histories(self, part: WindowSet) -> list[np.ndarray]:
        """Each window's history: its series' levels up to and including its origin."""
        assert self.panel is not None
        starts = self.panel.offsets[:-1][part.series]
        return [self.panel.y[a : a + o + 1] for a, o in zip(starts, part.origin, strict=True)]

    @property
    def val(self) -> WindowSet:
        return self.reference.val

    @property
    def test(self) -> WindowSet:
        return self.reference.test


# -- steps ---------------------------------------------------------------------------------------
def _run_config(run: RunDir, config: ExperimentConfig | None) -> ExperimentConfig:
    """``config`` (None: the run's own) with the validation and test windows the sweep used:
    ``auto`` takes the number the sweep resolved from the data (the run's ``config.json``)."""
    if config is not None and AUTO not in (config.data.val_windows, config.data.test_windows):
        return config
    saved = ExperimentConfig.from_dict(json.loads(run.config.read_text()))
    if config is None:
        return saved
    resolved = config.model_copy(deep=True)
    if config.data.val_windows == AUTO:
        resolved.data.val_windows = saved.data.val_windows
    if config.data.test_windows == AUTO:
        resolved.data.test_windows = saved.data.test_windows
    return resolved


def _leaderboard(run: RunDir) -> pd.DataFrame:
    if not run.leaderboard.is_file():
        raise EnsembleError(f"{run.leaderboard} not found; run `foretune sweep` first")
    return read_parquet(run.leaderboard)


def _members(
    run: RunDir, board: pd.DataFrame, settings: EnsembleConfig, trial_ids: list[str] | None
) -> list[Member]:
    """The candidates: the trials (``_candidates``), then the statistical models, by name."""
    if trial_ids is None:
        names = list(settings.statistical)
        deep = _candidates(run, board, settings, None)
    else:
        names = [t[len(STATISTICAL_PREFIX) :] for t in trial_ids if t.startswith(STATISTICAL_PREFIX)]
        ids = [t for t in trial_ids if not t.startswith(STATISTICAL_PREFIX)]
        deep = _candidates(run, board, settings, ids) if ids else []
    if names and statsforecast_available():
        check_names(names)
    return deep + [Member.of_statistical(name) for name in names]


def _drop_statistical(members: list[Member], windows: _Windows) -> list[Member]:
    """``members`` without the statistical ones where they cannot be fit, and a note why."""
    statistical = [m.architecture for m in members if m.statistical]
    if not statistical:
        return members
    reason = None
    if not statsforecast_available():
        reason = "statsforecast is not installed (pip install statsforecast)"
    elif windows.panel is None:
        reason = "streamed data keep no series histories in memory"
    if reason is None:
        return members
    kept = [m for m in members if not m.statistical]
    if not kept:
        raise EnsembleError(f"the statistical candidates {statistical} cannot be used: {reason}")
    print(f"note: statistical candidates {statistical} left out: {reason}")
    return kept


def _candidates(
    run: RunDir, board: pd.DataFrame, settings: EnsembleConfig, trial_ids: list[str] | None
) -> list[Member]:
    """The trials to weigh, best first, loaded: the leaderboard's choice or ``trial_ids``."""
    if trial_ids is None:
        rows = select_members(board, settings.top_k, settings.max_per_architecture)
    else:
        rows = board[board["trial_id"].astype(str).isin([str(t) for t in trial_ids])]
        rows = select_members(rows, len(rows)) if len(rows) else rows
        if rows.empty:
            raise EnsembleError(f"none of the trials {trial_ids} is a finished trial of {run.root}")
    return [_load_member(row) for row in rows.itertuples()]


def _windows(run: RunDir, config: ExperimentConfig, members: list[Member], check: bool = True) -> _Windows:
    """The data, once: the sweep's windows (in-memory runs) or a sample of them (streamed runs).

    ``check``: the data must be what the sweep was trained on (its transform statistics)."""
    # statistical members read levels, not windows: any window length gives their origins
    lengths = sorted({m.window for m in members if not m.statistical}) or [min(config.search.windows or [2])]
    panel = None
    if run.streamed:
        datasets = _sample_stream(run, config, lengths)
    else:
        saved = json.loads(run.transform.read_text()) if check else None
        series = load_series(config)
        datasets = _prepare(config, lengths, saved, series)
        panel = Panel.of(series)
    reference = next(iter(datasets.values()))
    if len(reference.val) == 0:
        raise EnsembleError("there are no validation windows to weight the members on")
    mase = np.asarray(reference.mase_scale, dtype=np.float64)
    defined = np.isfinite(mase) & (mase > 0)
    seasons = series_seasons(reference.freqs, reference.series_ids, config.data.season)
    return _Windows(datasets, reference, usable_scale(mase), np.where(defined, mase, np.nan), panel, seasons)


def _statistical_forecasts(
    members: list[Member], windows: _Windows, parts: tuple[str, ...]
) -> dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Each statistical member's means and spreads ``[N, H]`` on the windows of ``parts``
    (``val``, ``test``), by trial id and part: fit once per series on its earliest window's
    history and applied at the later ones, all models in one pass (``statistical_forecasts``)."""
    statistical = [m for m in members if m.statistical]
    if not statistical:
        return {}
    assert windows.seasons is not None
    reference = windows.reference
    sets = [getattr(reference, part) for part in parts]
    both = concat_windows(*sets)
    histories = windows.histories(both)
    bounds = np.cumsum([0, *(len(ws) for ws in sets)])
    names = [m.model.name for m in statistical]
    print(f"statistical candidates: fitting {', '.join(names)} on {len(both):,} window histories", flush=True)
    with stage("statistical"):
        fitted = statistical_forecasts(
            names, histories, windows.seasons[both.series], reference.horizon, both.series
        )
    return {
        str(member.info["trial_id"]): {
            part: (mean[a:b], sigma[a:b]) for part, a, b in zip(parts, bounds[:-1], bounds[1:], strict=True)
        }
        for member, (mean, sigma) in zip(statistical, (fitted[n] for n in names), strict=True)
    }


def _draws(
    members: list[Member],
    windows: _Windows,
    part: str,
    samples: int,
    seed: int,
    forecasts: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]],
) -> list[Draws]:
    """Every member's ``samples`` draws on the ``part`` (``val`` or ``test``) windows: MC dropout,
    or paths of a statistical member's ``forecasts``; seeded by ``seed``."""
    reference = windows.reference
    ws = getattr(reference, part)
    if len(ws) == 0:  # e.g. data.test_windows: 0
        empty = np.zeros((len(ws), reference.horizon, 3))
        return [Draws(np.zeros((samples, *ws.future.shape)), empty, empty) for _ in members]
    rows = RowTransform(reference.transform, np.asarray(reference.series_ids, dtype=object)[ws.series])
    out = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for member in progress(members, desc=f"draws ({part})", unit="member"):
            if member.statistical:
                mean, sigma = forecasts[str(member.info["trial_id"])][part]
                out.append(level_draws(normal_paths(mean, sigma, samples), rows, ws.last))
                continue
            with stage("draws"):
                x = getattr(windows.datasets[member.window], part).x
                out.append(member_draws(member.model, x, samples, rows, ws.last, path_directions=True))
    return out


def _weights(
    members: list[Member],
    val_draws: list[Draws],
    windows: _Windows,
    settings: EnsembleConfig,
) -> tuple[list[Member], dict[str, Any]]:
    """Weigh the candidates on the validation windows; keep those with a positive weight.

    Each validation window is an out-of-sample forecast origin (no trial trained on it, though
    the sweep used its loss to stop training and rank trials). Returns the kept members (weights
    normalised) and the selection report, which lists every candidate.
    """
    weights, selection = _selection_weights(members, val_draws, windows.val, windows.scale, settings)
    selection["candidates"] = [
        {**m.info, "architecture": m.architecture, "window": m.window, "weight": float(w)}
        for m, w in zip(members, weights, strict=True)
    ]
    keep = [i for i, w in enumerate(weights) if w > 0]
    kept = [members[i] for i in keep]
    for member, i in zip(kept, keep, strict=True):
        member.weight = float(weights[i] / sum(weights[j] for j in keep))
    return kept, selection


def _calibration(
    mixture: Mixture, windows: _Windows, settings: EnsembleConfig
) -> tuple[Calibration | None, dict[str, Any]]:
    """CQR per level and step on the test windows, and its report (or why there is none).

    Cross-fitted on the earlier and later half of each series' windows for an honest estimate
    of the calibrated coverage (``after_crossfit``).
    """
    test = windows.test
    if len(test) == 0:
        return None, {"skipped": "no held-out test windows (data.test_windows is 0)"}
    if settings.calibration == "none":
        return None, {"skipped": "ensemble.calibration is none"}
    # a window of a series whose scale is undefined (constant in training) is left out of the
    # fit and keeps its raw band, rather than be scored in the units of y
    row_scale = windows.mase[test.series] if settings.calibration_scale == "mase" else None
    calibration = calibrate(mixture.intervals(settings.levels), test.future, row_scale, folds=_halves(test))
    return calibration, calibration.report


def _artifact(
    run: RunDir,
    config: ExperimentConfig,
    members: list[Member],
    test_draws: list[Draws],
    mixture: Mixture,
    windows: _Windows,
    selection: dict[str, Any],
    calibration: Calibration | None,
    calibration_report: dict[str, Any],
) -> Ensemble:
    """The ensemble with its settings, the steps' reports and the run's input schema."""
    test = windows.test
    ensemble_settings = EnsembleSettings.from_config(
        config,
        selection=selection,
        calibration=calibration_report,
        test_scores=_test_scores(members, test_draws, mixture, test, windows.scale) if len(test) else {},
        direction=_direction_report(mixture, test) if len(test) else {},
    )
    data_info = json.loads(run.data_info.read_text())
    manifest_info = {
        "input_schema": {
            "required": ["unique_id", "ds", "y"],
            "covariates": data_info["covariates"],
            "inputs": data_info.get("inputs") or {},
        },
        "freqs": data_info["freqs"],
        "horizon": config.data.horizon,
        "transform": json.loads(run.transform.read_text())["kind"],
    }
    reference = windows.reference
    scales = {uid: float(s) for uid, s in zip(reference.series_ids, windows.mase, strict=True)}
    return Ensemble(
        members,
        reference.transform,
        ensemble_settings,
        manifest_info,
        calibration,
        scales,
        config.to_dict(),
    )


# -- data ----------------------------------------------------------------------------------------
def _sample_stream(run: RunDir, config: ExperimentConfig, windows: list[int]) -> dict[int, PreparedData]:
    """Streamed runs: validation and test windows of a seeded sample of whole series."""
    if config.ensemble.refit:
        raise EnsembleError(
            "ensemble.refit retrains in memory, which streamed data does not fit; set ensemble.refit: false"
        )
    covariates = tuple(json.loads(run.data_info.read_text())["covariates"])
    store = SeriesStore.open(run.store, StoreSettings.from_config(config, covariates))
    return {w: store.sample(w, config.ensemble.max_windows, config.seed) for w in windows}


def _prepare(
    config: ExperimentConfig, windows: list[int], saved: dict[str, Any] | None, series: Any
) -> dict[int, PreparedData]:
    """The sweep's prepared windows of ``series`` (``load_series``) for each needed window
    length, checked against the sweep's transform statistics ``saved`` (None: not checked)."""
    sub = config.model_copy(deep=True)
    sub.search.windows = windows
    datasets = prepare_all(sub, series)
    reference = next(iter(datasets.values()))
    for uid, stats in reference.transform.stats.items() if saved is not None else ():
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


def _load_member(row: Any) -> Member:
    location = as_location(row.checkpoint_path)  # a local path or a URI (s3://...)
    if not (location / MEMBER_WEIGHTS).is_file():
        raise EnsembleError(f"checkpoint of trial {row.trial_id} is missing at {location}")
    with local_copy(location) as directory:
        model, spec, n_features = read_member(directory)
    info = {"trial_id": str(row.trial_id), "val_loss": float(row.val_loss)}
    return Member(model, spec.architecture, spec.window, 0.0, spec, n_features, info)


# -- weighting -----------------------------------------------------------------------------------
def _selection_weights(
    members: list[Member],
    val_draws: list[Draws],
    val: WindowSet,
    scale: np.ndarray,
    settings: EnsembleConfig,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Member weights on the validation windows by ``settings.weighting``, and the report.

    ``greedy``: greedy ensemble selection with replacement of the members' MC-mean forecasts
    (the mixture mean is the weighted mean of the members' means, so this optimises exactly the
    served point forecast); ``inverse_error``: weights proportional to 1 / the member's score;
    ``mean``: equal weights. Scores by ``settings.metric``: ``mae``/``rmse`` in original units,
    ``mase`` and ``crps`` divided by each series' MASE scale, so series of any magnitude count
    alike. Under ``crps`` the greedy step pools the members' paths.
    """
    metric, weighting = settings.metric, settings.weighting
    row_scale = scale[val.series][:, None] if metric in ("mase", "crps") else 1.0
    target = val.future / row_scale
    if metric == "crps":
        # paths [M, S, N, H]; a combination pools the members' paths
        predictions = np.stack([d.levels[:SELECTION_SAMPLES] for d in val_draws]) / row_scale
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
        combined = resample(pooled, path_weights, len(usable) * SELECTION_SAMPLES)
    selection["ensemble_score"] = float(score(combined, target))
    selection["best_single_score"] = float(member_scores.min())
    return weights, selection


def _crps(samples: np.ndarray, y: np.ndarray) -> float:
    return M.crps_from_samples(y, samples)


#: metric name -> score(prediction, target), lower is better (targets pre-scaled for mase/crps)
_METRICS = {
    "mae": lambda pred, y: M.mae(y, pred),
    "mase": lambda pred, y: M.mae(y, pred),
    "rmse": lambda pred, y: M.rmse(y, pred),
    "crps": _crps,
}


def _refit(
    run: RunDir,
    board: pd.DataFrame,
    members: list[Member],
    datasets: dict[int, PreparedData],
    config: ExperimentConfig,
) -> None:
    """Retrain the kept deep members on train + validation (``refit``), in place, in parallel
    where Ray is connected (``refit_all``, each asking one inline trial's or one Ray Train
    worker's CPUs and GPU).

    A member whose refit diverges keeps its original weights; its ``info`` says so.
    """
    epochs = best_epochs(run, board)
    deep = [m for m in members if not m.statistical]  # a statistical one has nothing to retrain
    best = [epochs.get(m.info["trial_id"], m.spec.max_epochs - 1) for m in deep]
    # imported here: foretune.search loads Ray Tune, which loading an ensemble need not pay for
    from foretune.search.resources import process_request

    request = process_request(config)  # a refit is one process
    resources = {"num_cpus": request["CPU"], "num_gpus": request["GPU"]}
    with torch.random.fork_rng(devices=[]):
        results = refit_all(
            [(m.spec, datasets[m.window], b) for m, b in zip(deep, best, strict=True)], resources
        )
    for member, epoch, (model, spec) in zip(deep, best, results, strict=True):
        if model is None:
            member.info["refit"] = "failed (diverged); original weights kept"
            continue
        member.model, member.spec = model, spec
        member.info["refit"] = f"train+validation, {epoch + 1} epochs"


# -- reports -------------------------------------------------------------------------------------
def _test_scores(
    members: list[Member], test_draws: list[Draws], mixture: Mixture, test: WindowSet, scale: np.ndarray
) -> dict[str, Any]:
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


def _direction_report(mixture: Mixture, test: WindowSet) -> dict[str, Any]:
    """Accuracy and log-loss of the head, sample-path and blended direction probabilities."""
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
def _halves(ws: WindowSet) -> np.ndarray:
    """0 for the earlier half of each series' windows, 1 for the later half (cross-fitting); the
    series with a single window (e.g. ``data.test_windows: 1``) go to fold 0 and 1 in turn, so
    that both folds hold windows."""
    order = np.lexsort((ws.origin, ws.series))
    series = ws.series[order]
    first = np.flatnonzero(np.r_[True, series[1:] != series[:-1]]) if len(series) else np.zeros(0, int)
    counts = np.diff(np.r_[first, len(series)])
    position = np.arange(len(series)) - np.repeat(first, counts)
    sorted_fold = (position >= np.repeat(counts // 2, counts)).astype(np.int64)
    single = np.repeat(counts == 1, counts)
    sorted_fold[single] = np.arange(int(single.sum())) % 2
    fold = np.zeros(len(ws), dtype=np.int64)
    fold[order] = sorted_fold
    return fold
