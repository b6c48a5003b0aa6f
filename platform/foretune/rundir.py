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
    report/ensemble/   the ensemble the report scored, when ``ensemble/`` was refit on all data
    evaluation/, explain/   what `foretune evaluate` / `explain` write by default
    timings.json       wall-clock seconds per stage of `foretune run` (sweep, ensemble, report, ...)
    input.parquet      the data `Foretune.fit` was given (a frame or Ray Dataset), as Parquet

``check_run_dir`` refuses a directory that already holds something before any work starts, and
``clear_run_outputs`` removes an earlier run's outputs for ``--overwrite``.

The root is a local ``Path`` or, for a URI (``s3://bucket/prefix/exp1``), a
``foretune.storage.RemotePath`` with the same path methods; either way the named paths are built
with ``/``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from foretune.errors import ConfigError
from foretune.storage import Location, RemotePath, as_location, check_writable, remove

STORE_MANIFEST = "store.json"


@dataclass(frozen=True)
class RunDir:
    """Named paths under one run directory (a local path or a URI)."""

    root: Location

    def __init__(self, root: str | Path | RemotePath) -> None:
        object.__setattr__(self, "root", as_location(root))

    def __fspath__(self) -> str:
        return str(self.root)

    @property
    def config(self) -> Location:
        return self.root / "config.json"

    @property
    def input(self) -> Location:
        """The data ``Foretune.fit`` was given as a frame (a file) or a Ray Dataset (a directory)."""
        return self.root / "input.parquet"

    @property
    def transform(self) -> Location:
        return self.root / "transform.json"

    @property
    def data_info(self) -> Location:
        return self.root / "data.json"

    @property
    def store(self) -> Location:
        return self.root / "data"

    @property
    def streamed(self) -> bool:
        """Whether the run streamed its data through a series store."""
        return (self.store / STORE_MANIFEST).is_file()

    @property
    def sweep(self) -> Location:
        return self.root / "sweep"

    @property
    def leaderboard(self) -> Location:
        return self.root / "leaderboard.parquet"

    @property
    def curves(self) -> Location:
        return self.root / "curves.parquet"

    @property
    def ensemble(self) -> Location:
        return self.root / "ensemble"

    @property
    def report(self) -> Location:
        return self.root / "report"

    @property
    def evaluated_ensemble(self) -> Location:
        """The ensemble the report scored, when the served one was then refit on all the data."""
        return self.report / "ensemble"

    @property
    def timings(self) -> Location:
        """Wall-clock seconds per stage of ``foretune run`` (``foretune.timings``)."""
        return self.root / "timings.json"

    @property
    def explain(self) -> Location:
        return self.root / "explain"

    @property
    def evaluation(self) -> Location:
        return self.root / "evaluation"


#: What a run writes (``RunDir`` names): what ``--overwrite`` / ``overwrite=True`` removes first.
#: ``input`` (maybe the very data being fit) and ``cv`` (cross-validation runs) are kept.
RUN_OUTPUTS = (
    "config",
    "transform",
    "data_info",
    "store",
    "sweep",
    "leaderboard",
    "curves",
    "ensemble",
    "report",
    "evaluation",
    "explain",
    "timings",
)


def check_run_dir(
    run_dir: str | Path | RemotePath,
    *,
    overwrite: bool,
    hint: str,
    ignore: Iterable[str] = (),
    label: str = "run directory",
) -> None:
    """Refuse ``run_dir`` unless it is new or empty, before any work.

    With ``overwrite`` a directory holding a foretune run (``is_run``) is accepted too, never one
    holding other files. ``hint`` says how to continue or replace an existing run (the flags or
    arguments that do); ``label`` names the path in messages (``--out``); names in ``ignore`` do
    not count as content. A path that is (or lies under) a file is always refused; a URI whose
    bucket is missing or cannot be written is refused too (``storage.check_writable``).
    """
    path = as_location(run_dir)
    if isinstance(path, RemotePath):
        check_writable(path, label)
    for parent in () if isinstance(path, RemotePath) else (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(
                    f"{label} {path} cannot be a run directory: {parent} is a file; give a new directory"
                )
            break
    if not path.is_dir():
        return
    skip = set(ignore)
    entries = sorted(p.name for p in path.iterdir() if p.name not in skip)
    if not entries or (overwrite and is_run(path)):
        return
    shown = ", ".join(entries[:4]) + (", ..." if len(entries) > 4 else "")
    if overwrite:
        raise ConfigError(
            f"{label} {path} holds {shown} but no foretune run (no {RunDir(path).config.name}), so "
            "there is nothing to overwrite; give a new or empty directory"
        )
    raise ConfigError(
        f"{label} {path} is not empty (it holds {shown}); give a new or empty directory, {hint}"
    )


def is_run(path: str | Path | RemotePath) -> bool:
    """Whether ``path`` holds a foretune run (its config, leaderboard or Tune experiment)."""
    run = RunDir(path)
    return run.config.is_file() or run.leaderboard.is_file() or run.sweep.is_dir()


def clear_run_outputs(run_dir: str | Path | RemotePath) -> None:
    """Remove what an earlier run wrote in ``run_dir`` (``RUN_OUTPUTS``), so that none of it, e.g.
    an old series store or sweep, mixes with the new run. Nothing else in the directory is
    touched, and ``data/`` only when it is a series store (it may be a user's own folder)."""
    run = RunDir(run_dir)
    for name in RUN_OUTPUTS:
        if name == "store" and not run.streamed:
            continue
        remove(getattr(run, name))
