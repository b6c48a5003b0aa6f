"""The layout of a run directory: every file a run writes, named once.

``RunDir(path)`` gives each stage its paths by name (``run.leaderboard``, ``run.ensemble``), so
no module spells a file name of another. Stages that read a run take a ``RunDir`` or a path.

    config.json        the experiment config the run was started with (resume reads it)
    transform.json     per-series transform statistics fit on the training parts
    data.json          what was read: series, frequency, covariates, windows per split
    data/              the streamed series store (larger-than-memory runs only)
    sweep/             Ray Tune's experiment (trial checkpoints)
    leaderboard.parquet, curves.parquet   one row per trial / per trial and epoch
    ensemble/          the ensemble artifact;  report/  the run's backtest report
    evaluation/, explain/   what `foretune evaluate` / `explain` write by default
    input.parquet      the data `Foretune.fit` was given (a frame or Ray Dataset), as Parquet
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STORE_MANIFEST = "store.json"


@dataclass(frozen=True)
class RunDir:
    """Named paths under one run directory."""

    root: Path

    def __init__(self, root: str | Path) -> None:
        object.__setattr__(self, "root", Path(root))

    def __fspath__(self) -> str:
        return str(self.root)

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def input(self) -> Path:
        """The data ``Foretune.fit`` was given as a frame (a file) or a Ray Dataset (a directory)."""
        return self.root / "input.parquet"

    @property
    def transform(self) -> Path:
        return self.root / "transform.json"

    @property
    def data_info(self) -> Path:
        return self.root / "data.json"

    @property
    def store(self) -> Path:
        return self.root / "data"

    @property
    def streamed(self) -> bool:
        """Whether the run streamed its data through a series store."""
        return (self.store / STORE_MANIFEST).is_file()

    @property
    def sweep(self) -> Path:
        return self.root / "sweep"

    @property
    def leaderboard(self) -> Path:
        return self.root / "leaderboard.parquet"

    @property
    def curves(self) -> Path:
        return self.root / "curves.parquet"

    @property
    def ensemble(self) -> Path:
        return self.root / "ensemble"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def explain(self) -> Path:
        return self.root / "explain"

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation"
