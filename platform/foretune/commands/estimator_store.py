"""A saved ``Foretune``: one directory, local or on object storage, that ``Foretune.load`` reads.

    write_saved(path, Saved(settings, ensemble, history, ends, leaderboard))
    saved = read_saved(path)           # the same, read back (a URI is downloaded first)

    foretune.json        the settings: horizon, the experiment config, the column names
    ensemble/            the ensemble artifact (``Ensemble.save``: manifest and checksums)
    history.parquet      the data ``fit`` was given, so ``predict()`` needs none (optional)
    fit_ends.parquet     each series' last time stamp in that data (``evaluate``'s cut)
    leaderboard.parquet  the sweep's trials (``leaderboard()``), when the run had one

A directory is written beside the target and renamed over it (locally), or written locally and
uploaded with ``foretune.json`` last (a URI), so a reader never finds half a save. A target that
holds anything but an earlier save is refused.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from foretune.errors import ArtifactError, ConfigError
from foretune.storage import Location, RemotePath, local_copy, remove, resolve, upload

SETTINGS = "foretune.json"
ENSEMBLE = "ensemble"
HISTORY = "history.parquet"
ENDS = "fit_ends.parquet"
LEADERBOARD = "leaderboard.parquet"
FORMAT = 1


@dataclass
class Saved:
    """What a save holds: the settings mapping, the ``Ensemble``, the fit data (or None), each
    series' last fit time stamp (``unique_id, ds``) and the trials (or None)."""

    settings: dict[str, Any]
    ensemble: Any
    history: pd.DataFrame | None
    ends: pd.DataFrame
    leaderboard: pd.DataFrame | None


def write_saved(path: str | Path | RemotePath, saved: Saved) -> Location:
    """Write ``saved`` as the directory ``path``, replacing an earlier save there; return it."""
    target = resolve(path)
    _check_target(target)
    if isinstance(target, RemotePath):
        with tempfile.TemporaryDirectory(prefix="foretune-") as tmp:
            local = Path(tmp) / "save"
            _write_files(local, saved)
            remove(target)
            upload(local, target, last=SETTINGS)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _write_files(staging, saved)
        if target.exists():
            old = target.with_name(f".{target.name}-old-{staging.name}")
            target.rename(old)
            staging.rename(target)
            shutil.rmtree(old)
        else:
            staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def read_saved(path: str | Path | RemotePath) -> Saved:
    """The save at ``path``; ``ArtifactError`` when it is not one (or of a newer format)."""
    from foretune.ensemble import Ensemble

    location = resolve(path)
    if not (location / SETTINGS).is_file():
        raise ArtifactError(
            f"{location} is not a saved Foretune (it has no {SETTINGS}); save one with ft.save(path)"
        )
    with local_copy(location) as local:
        settings = json.loads((local / SETTINGS).read_text())
        if int(settings.get("format", 0)) > FORMAT:
            raise ArtifactError(
                f"{location} was saved in a newer format by foretune "
                f"{settings.get('versions', {}).get('foretune', '?')}; upgrade foretune to load it"
            )
        history = pd.read_parquet(local / HISTORY) if (local / HISTORY).is_file() else None
        board = pd.read_parquet(local / LEADERBOARD) if (local / LEADERBOARD).is_file() else None
        return Saved(
            settings=settings,
            ensemble=Ensemble.load(local / ENSEMBLE),
            history=history,
            ends=pd.read_parquet(local / ENDS),
            leaderboard=board,
        )


def _write_files(directory: Path, saved: Saved) -> None:
    from foretune.ensemble.artifact import package_versions  # torch: only when saving

    directory.mkdir(parents=True, exist_ok=True)
    saved.ensemble.save(directory / ENSEMBLE)
    if saved.history is not None:
        saved.history.to_parquet(directory / HISTORY, index=False)
    saved.ends.to_parquet(directory / ENDS, index=False)
    if saved.leaderboard is not None:
        saved.leaderboard.to_parquet(directory / LEADERBOARD, index=False)
    settings = {"format": FORMAT, "versions": package_versions(), **saved.settings}
    (directory / SETTINGS).write_text(json.dumps(settings, indent=2, default=str) + "\n")


def _check_target(target: Location) -> None:
    """Refuse a target that is a file, or a directory holding anything but an earlier save."""
    if target.is_file():
        raise ConfigError(f"cannot save to {target}: it is a file; give a directory")
    if target.is_dir() and list(target.iterdir()) and not (target / SETTINGS).is_file():
        raise ConfigError(
            f"cannot save to {target}: it holds files that are not a saved Foretune; "
            "give a new or empty directory"
        )
