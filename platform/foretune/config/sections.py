"""The sections of the experiment config: data, train, search, ensemble and evaluate settings.

Each section is a pydantic model whose fields carry their default, their check and a description;
``ExperimentConfig`` (``config.experiment``) holds one of each. ``default(section, name)`` reads a
setting's default for code that records settings outside the config (``TrainSpec``,
``EnsembleSettings``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from foretune.storage.secrets import check_uri


class _Section(BaseModel):
    # hide_input_in_errors: a refused value (a URI holding keys) is never echoed by pydantic
    model_config = ConfigDict(extra="forbid", validate_assignment=True, hide_input_in_errors=True)


def default(section: type[BaseModel], name: str) -> Any:
    """The default of ``section``'s setting ``name`` (a fresh list for a list), for code that
    records a setting outside the config: ``default(TrainConfig, "batch_size")``."""
    return section.model_fields[name].get_default(call_default_factory=True)


#: Calendar cycles ``data.calendar`` can add (``foretune.data.covariates.CYCLES`` computes them).
CalendarKind = Literal["minute", "hour", "dayofweek", "day", "dayofyear", "weekofyear", "month", "quarter"]


class DataConfig(_Section):
    """Where the data is and how series become windows."""

    path: str | None = Field(None, description="Parquet file or directory; None = built-in data")
    horizon: int = Field(4, ge=1, le=1000, description="forecast steps")
    window: int = Field(16, ge=2, le=10000, description="input steps when not searched")
    transform: Literal["auto", "log_ratio", "diff", "none"] = Field(
        "auto",
        description="auto = log_ratio where a series is strictly positive, else a scaled difference",
    )
    eps: float = Field(1e-10, ge=0.0, lt=1.0)
    drift_prior: float = Field(
        100.0,
        ge=0.0,
        description="each series' mean change (its drift) is shrunk towards zero as if this many "
        "more changes of zero had been seen; 0 = the plain mean (data.transform's docstring)",
    )
    val_windows: Annotated[int, Field(ge=1, le=1000)] | Literal["auto"] = Field(
        "auto",
        description="validation part: windows of horizon steps; auto = more for few series "
        "(about 10 in all, at most 5 per series and 40% of the median series; "
        "data.windows.auto_split_windows)",
    )
    test_windows: Annotated[int, Field(ge=0, le=1000)] | Literal["auto"] = Field(
        "auto",
        description="test/calibration part: windows of horizon steps before validation; auto = "
        "as many as validation",
    )
    freq: str | int | None = Field(
        None, description="pandas offset alias or integer step; None = inferred per series"
    )
    season: int | None = Field(None, ge=1, description="seasonal period; None = from the frequency")
    fill: Literal["none", "ffill", "interpolate", "zero"] = Field(
        "none", description="gaps and NaN in y: none = an error naming the series and time stamp"
    )
    flat_band: float = Field(
        0.25, ge=0.0, description="|cumulative change| <= flat_band*sigma*sqrt(h) is 'flat'"
    )
    covariates: list[str] | None = Field(
        None,
        description="past-only covariates (values known up to the forecast origin); None = every "
        "extra numeric column not declared in future_covariates or static_path",
    )
    future_covariates: list[str] = Field(
        default_factory=list,
        description="columns known ahead (prices, promotions, holidays): a forecast needs their "
        "values for the horizon (futr_df / --futr); windows must be >= horizon",
    )
    static_path: str | None = Field(
        None,
        description="Parquet/CSV of static per-series attributes: unique_id plus numeric columns",
    )
    calendar: list[CalendarKind] | Literal["auto"] | None = Field(
        None,
        description="calendar features of ds as sin/cos pairs, future-known inputs: a list of "
        "kinds, or auto (by the frequency); None = off",
    )
    streaming: Literal["auto", "on", "off"] = Field(
        "auto",
        description="stream the data with Ray Data instead of holding it in the driver's "
        "memory (see foretune.data.store); auto = on when the in-memory windows would exceed "
        "stream_above_gb",
    )
    stream_above_gb: float = Field(
        2.0,
        gt=0.0,
        description="auto streaming: estimated bytes of the in-memory windows above which the data streams",
    )
    stream_cpus: float = Field(
        0.5,
        gt=0.0,
        le=64.0,
        description="CPUs each Ray Data task (read, window cutting) takes; "
        "leave this much free beside the trials",
    )

    @field_validator("path", "static_path")
    @classmethod
    def _no_credentials(cls, v: str | None) -> str | None:
        if v is not None:
            check_uri(v)  # refused, redacted, before anything is opened
        return v

    @model_validator(mode="before")
    @classmethod
    def _replaced_fractions(cls, values: Any) -> Any:
        old = [k for k in ("val_fraction", "test_fraction") if isinstance(values, dict) and k in values]
        if old:
            raise ValueError(
                f"{' and '.join('data.' + k for k in old)} {'was' if len(old) == 1 else 'were'} "
                "replaced by data.val_windows and "
                "data.test_windows: the validation and test parts are now that many windows of "
                "data.horizon steps at each series' end (defaults 1 and 1); remove the fraction(s)"
            )
        return values


class TrainConfig(_Section):
    """The one training loop's settings."""

    max_epochs: int = Field(30, ge=1, le=100000)
    batch_size: int = Field(64, ge=1, le=1 << 20)
    optimizer: Literal["adam", "adamw"] = "adam"
    learning_rate: float = Field(1e-3, gt=0.0, le=10.0)
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    clip_norm: float | None = Field(1.0, gt=0.0)
    patience: int = Field(5, ge=1)
    direction_weight: float = Field(0.2, ge=0.0, le=100.0)
    loss: Literal["mase", "mse", "mae", "huber"] = Field(
        "mase",
        description="regression loss: mase = absolute error of the forecast's levels over the "
        "series' MASE scale (the changes integrated over the horizon, what the forecast is "
        "judged on); mse, mae, huber = on the standardised per-step changes",
    )
    steps_per_epoch: int | None = Field(
        100,
        ge=1,
        le=10_000_000,
        description="optimiser updates per epoch (windows drawn in a seeded shuffled order, "
        "passes continuing across epochs), so max_epochs, patience and ASHA's rungs count the "
        "same training on any panel; None = one pass over the training windows",
    )
    input_levels: bool = Field(
        True,
        description="the networks also read each window's level path (its changes summed back "
        "from the origin, scaled per window) beside the changes",
    )
    num_workers: int = Field(
        0, ge=0, le=4096, description="Ray Train workers per trial; 0 = run inline in the trial"
    )
    use_gpu: bool = False
    cpus_per_worker: float = Field(1.0, gt=0.0)
    gpus_per_trial: float = Field(0.0, ge=0.0, description="fraction of a GPU per trial")
    clip_value: float | None = Field(None, gt=0.0, description="clip each gradient to +-value")
    schedule: Literal["none", "plateau", "cosine", "warmup_cosine", "inverse_sqrt"] = "none"
    warmup_epochs: float = Field(
        0.0,
        ge=0.0,
        le=100000,
        validate_default=True,
        description="linear warmup, in epochs (warmup_cosine, inverse_sqrt)",
    )
    min_lr_ratio: float = Field(0.0, ge=0.0, le=1.0, description="LR floor / learning_rate")
    plateau_factor: float = Field(0.5, gt=0.0, lt=1.0)
    plateau_patience: int = Field(2, ge=1, description="bad epochs before a plateau LR cut")
    accumulate_steps: int = Field(1, ge=1, le=4096, description="micro-batches per update")
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        "fp32", description="autocast dtype on GPU (bf16/fp16 need use_gpu)"
    )
    compile: bool = Field(False, description="torch.compile the model (slower on small CPU runs)")
    stream_threshold_mb: float = Field(
        512.0, ge=0.0, description="stream batches from host memory above this many MB"
    )

    @field_validator("warmup_epochs")
    @classmethod
    def _warmup_needs_schedule(cls, v: float, info: Any) -> float:  # info: pydantic.ValidationInfo
        schedule = info.data.get("schedule")
        if schedule == "warmup_cosine" and v <= 0:
            raise ValueError("schedule warmup_cosine needs warmup_epochs > 0")
        if v > 0 and schedule not in ("warmup_cosine", "inverse_sqrt", None):
            raise ValueError(
                f"warmup is only used by schedule warmup_cosine or inverse_sqrt, not {schedule!r}"
            )
        return v

    @field_validator("precision")
    @classmethod
    def _autocast_needs_gpu(cls, v: str, info: Any) -> str:  # info: pydantic.ValidationInfo
        if v != "fp32" and not info.data.get("use_gpu", False):
            raise ValueError(
                f"train.precision={v} autocasts on a GPU only; set train.use_gpu: true or "
                "train.precision: fp32"
            )
        return v


class SearchConfig(_Section):
    """The Tune + Optuna sweep."""

    trials: int = Field(4, ge=1, le=100000)
    time_budget_s: float | None = Field(None, gt=0.0)
    sampler: Literal["tpe", "random", "grid"] = "tpe"
    objective: Literal["single", "multi"] = Field(
        "single", description="multi = minimise validation loss and training time (Pareto)"
    )
    space: dict[str, Any] = Field(
        default_factory=dict, description="pin (scalar) or narrow (list/range) any parameter"
    )
    max_concurrent: int = Field(2, ge=1)
    cpus_per_trial: float = Field(1.0, gt=0.0)
    scheduler: Literal["asha", "none"] = "asha"
    grace_period: int = Field(5, ge=1)
    reduction_factor: int = Field(3, ge=2)
    max_failures: int = Field(1, ge=0, description="retries of a failing trial")
    reuse_actors: bool = Field(
        True,
        description="run a slot's trials one after another in the same worker process, saving "
        "its start-up (seconds per trial); false = a fresh process per trial",
    )
    warm_start: bool = Field(
        True,
        description="the first trials are each architecture of models with its default "
        "hyperparameters (so a small budget holds a sound configuration of each); then the sampler",
    )
    learning_rate: tuple[float, float] = (3e-4, 3e-3)
    windows: list[int] | None = Field(
        None,
        description="lookbacks to search; None = multiples of max(horizon, season)",
    )
    batch_sizes: list[int] = Field(default_factory=lambda: [32, 64])

    @field_validator("learning_rate")
    @classmethod
    def _lr_range(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 < v[0] <= v[1]:
            raise ValueError("needs 0 < low <= high")
        return v

    @field_validator("windows", "batch_sizes")
    @classmethod
    def _positive(cls, v: list[int] | None) -> list[int] | None:
        if v is None:
            return v
        if not v or min(v) < 2:
            raise ValueError("needs a non-empty list of integers >= 2")
        return v


class EnsembleConfig(_Section):
    """How trials become the served ensemble (see ``foretune.ensemble.build``)."""

    top_k: int = Field(3, ge=1, description="candidates: the best top_k finished trials")
    max_per_architecture: int | None = Field(
        2,
        ge=1,
        description="diversity rule: at most this many candidates of one architecture; None = no limit",
    )
    weighting: Literal["greedy", "mean", "inverse_error"] = Field(
        "greedy",
        description="greedy ensemble selection (Caruana 2004) on the validation "
        "windows, equal weights, or 1/validation error",
    )
    metric: Literal["mae", "rmse", "mase", "crps"] = Field(
        "mase",
        description="what weighting optimises on the validation windows (mae/rmse in "
        "original units; mase/crps scaled per series)",
    )
    greedy_rounds: int = Field(25, ge=1, le=10000, description="greedy selection rounds")
    statistical: list[str] = Field(
        default_factory=lambda: ["AutoETS", "AutoTheta", "SeasonalNaive"],
        description="statsforecast models that join the trials as candidates: forecast each "
        "window from its history, weighted by the same selection, refit on each series' history at "
        "predict time; [] = deep members only (needs statsforecast, else skipped with a note)",
    )
    refit: bool = Field(
        False, description="retrain chosen members on train+validation for their best epoch count"
    )
    samples: int = Field(50, ge=1, le=100000, description="MC-dropout draws per member")
    max_windows: int = Field(
        100_000,
        ge=100,
        description="streamed data: validation + test windows (whole series, "
        "drawn by the seed) the ensemble is weighted and calibrated on",
    )
    quantiles: list[float] = Field(default_factory=lambda: [0.05, 0.5, 0.95])
    calibration: Literal["cqr", "none"] = Field(
        "cqr", description="split-conformal (CQR) interval calibration on the test windows"
    )
    calibration_scale: Literal["mase", "none"] = Field(
        "mase", description="conformal scores divided by each series' MASE scale, or raw units"
    )
    levels: list[float] = Field(
        default_factory=lambda: [0.5, 0.8, 0.9, 0.95],
        description="central interval levels that are calibrated (0.95 -> columns q025/q975)",
    )
    direction_source: Literal["head", "samples", "blend"] = Field(
        "head",
        description="p_down/p_flat/p_up from the direction heads, the regression "
        "sample paths, or their average",
    )

    @field_validator("quantiles")
    @classmethod
    def _levels(cls, v: list[float]) -> list[float]:
        if not v or not all(0.0 < q < 1.0 for q in v):
            raise ValueError("quantiles must lie strictly between 0 and 1")
        return sorted(v)

    @field_validator("levels")
    @classmethod
    def _interval_levels(cls, v: list[float]) -> list[float]:
        if not v or not all(0.0 < q < 1.0 for q in v):
            raise ValueError("interval levels must lie strictly between 0 and 1 (e.g. 0.9)")
        return sorted(set(v))


class EvaluateConfig(_Section):
    """The run's own out-of-sample report (see ``foretune.commands.evaluate.run_report``)."""

    windows: int = Field(
        1,
        ge=0,
        le=100,
        description="the last windows x data.horizon steps of every series long enough are held out "
        "of the whole run (sweep, early stopping, selection, weighting, calibration) and the report "
        "scores exactly them; 0 = no hold-out (the report then scores seen points and says so)",
    )
    refit_full: bool = Field(
        True,
        description="after the report, rebuild the served ensemble on all the data: the chosen "
        "members retrained on it (their sweep's epoch count, weights kept) so the forecast also "
        "learns from the held-out tail",
    )
