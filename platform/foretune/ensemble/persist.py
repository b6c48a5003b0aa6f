"""Reading and writing an ``Ensemble``'s artifact directory (layout: ``artifact``).

    parts = read_artifact("RUN/ensemble")        # verified first; Ensemble(**parts) serves it
    write_artifact(ensemble, "s3://bucket/run/ensemble")   # staged, then moved or uploaded

``Ensemble.load`` and ``Ensemble.save`` are these two. Reading checks every file against the
manifest's checksums before it is read, and the manifest's member list against ``ensemble.json``;
writing stages the whole directory beside the target and moves it into place (a URI: uploads it
with the manifest last), so no reader ever finds a half-written artifact.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from foretune.data import RatioTransform
from foretune.errors import ArtifactError
from foretune.storage import RemotePath, as_location, local_copy, remove, resolve, upload
from foretune.train import write_checkpoint

from .artifact import (
    CALIBRATION,
    CONFIG,
    ENSEMBLE,
    MANIFEST,
    MEMBER_SPEC,
    MEMBER_STATES,
    MEMBER_WEIGHTS,
    TRANSFORM,
    finalize,
    member_dir,
    read_member,
    require_listed,
    staging_dir,
    verify,
    write_json,
)
from .conformal import Calibration
from .member import Member
from .settings import MEMBERS_KEY, EnsembleSettings

if TYPE_CHECKING:
    from .model import Ensemble

#: Manifest keys an ensemble carries over when it is saved again (the rest is rewritten).
_MANIFEST_INFO = ("input_schema", "freqs", "horizon", "transform")
#: A statistical member's ``ensemble.json`` key naming its states file.
STATES_KEY = "states"
#: A member's keys the manifest lists (besides ``ensemble.json``, which lists all of them).
_MANIFEST_MEMBER = ("path", "architecture", "window", "weight")


# -- reading ---------------------------------------------------------------------------------------
def read_artifact(path: str | Path | RemotePath) -> dict[str, Any]:
    """The ``Ensemble`` constructor's arguments from the artifact directory ``path``.

    Raises ``ArtifactError`` if a file is missing, modified or of an unknown format. A URI is
    downloaded to a private temporary directory first, and that copy is checked and read.
    """
    path = as_location(path)
    if isinstance(path, RemotePath):
        with local_copy(path) as local:
            try:
                return read_artifact(local)
            except ArtifactError as exc:
                raise ArtifactError(str(exc).replace(str(local), str(path))) from None
    manifest = verify(path)
    optional = [n for n in (CALIBRATION, CONFIG) if (path / n).is_file()]
    require_listed(path, manifest, [ENSEMBLE, TRANSFORM, *optional])
    state = json.loads((path / ENSEMBLE).read_text())
    transform = RatioTransform.from_dict(json.loads((path / TRANSFORM).read_text()))
    _check_manifest_members(path, manifest, state)
    calibration, scales = _read_calibration(path)
    members = _read_members(path, manifest, state)
    config = json.loads((path / CONFIG).read_text()) if (path / CONFIG).is_file() else None
    try:
        settings = EnsembleSettings.from_dict(state)
    except ArtifactError as exc:
        raise ArtifactError(f"{path}/{ENSEMBLE}: {exc}") from None
    return {
        "members": members,
        "transform": transform,
        "settings": settings,
        "manifest": manifest,
        "calibration": calibration,
        "scales": scales,
        "config": config,
    }


def _read_members(path: Path, manifest: dict[str, Any], state: dict[str, Any]) -> list[Member]:
    """The members ``ensemble.json`` lists, each deep one's checkpoint verified and loaded."""
    entries = state.get(MEMBERS_KEY) or []
    if not entries:
        raise ArtifactError(f"{path}/{ENSEMBLE} lists no members")
    members = []
    for entry in entries:
        info = {k: v for k, v in entry.items() if k not in ("path", "weight")}
        weight = float(entry["weight"])
        if entry.get("statistical"):
            members.append(_statistical_member(path, manifest, entry, weight))
            members[-1].info.update({k: v for k, v in info.items() if k != STATES_KEY})
            continue
        require_listed(path, manifest, [f"{entry['path']}/{n}" for n in (MEMBER_WEIGHTS, MEMBER_SPEC)])
        model, spec, n_features = read_member(path / entry["path"])
        members.append(Member(model, spec.architecture, spec.window, weight, spec, n_features, info))
    return members


def _statistical_member(path: Path, manifest: dict[str, Any], entry: dict[str, Any], weight: float) -> Member:
    """A statistical member with its fitted states per series, where the artifact has them (an
    artifact without: fit on each history it forecasts from)."""
    member = Member.of_statistical(str(entry["statistical"]), weight)
    name = entry.get(STATES_KEY)
    if name:
        require_listed(path, manifest, [name])
        states = json.loads((path / name).read_text())["states"]
        member.model = member.model.with_states(states)
    return member


def _read_calibration(path: Path) -> tuple[Calibration | None, dict[str, float]]:
    """The artifact's calibration and series scales, or ``(None, {})`` without one."""
    if not (path / CALIBRATION).is_file():
        return None, {}
    state = json.loads((path / CALIBRATION).read_text())
    try:
        calibration = Calibration.from_dict(state)
    except (KeyError, ValueError) as exc:
        raise ArtifactError(f"{path}/{CALIBRATION} is not usable: {exc}") from None
    # null: a series whose MASE scale is undefined (constant in training), kept uncalibrated
    scales = {
        str(k): float("nan") if v is None else float(v) for k, v in state.get("series_scale", {}).items()
    }
    return calibration, scales


def _check_manifest_members(path: Path, manifest: dict[str, Any], state: dict[str, Any]) -> None:
    """The manifest's member list (not itself checksummed) must agree with ensemble.json."""
    listed = manifest.get("members")
    if listed is None:
        return
    actual = [(e["path"], round(float(e["weight"]), 12)) for e in state.get(MEMBERS_KEY, [])]
    claimed = [(e["path"], round(float(e["weight"]), 12)) for e in listed]
    if actual != claimed:
        raise ArtifactError(
            f"{path}: the manifest's member list disagrees with {ENSEMBLE}; the artifact was "
            "modified, refusing to load it"
        )


# -- writing ---------------------------------------------------------------------------------------
def write_artifact(ensemble: Ensemble, path: str | Path | RemotePath) -> Path | RemotePath:
    """Write ``ensemble`` to the artifact directory ``path`` (atomically replacing one that exists).

    A URI is written locally, then uploaded with its manifest last (after the old artifact is
    removed), so no reader finds a manifest before the files it vouches for.
    """
    target = resolve(path)
    if isinstance(target, RemotePath):
        with tempfile.TemporaryDirectory(prefix="foretune-") as tmp:
            local = write_artifact(ensemble, Path(tmp) / (target.name or "ensemble"))
            remove(target)
            upload(local, target, last=MANIFEST)
        return target
    staging = staging_dir(target)
    try:
        entries = [_write_member(staging, i, member) for i, member in enumerate(ensemble.members)]
        _write_files(staging, ensemble, entries)
        return finalize(staging, target, _manifest_info(ensemble, entries))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _write_member(staging: Path, index: int, member: Member) -> dict[str, Any]:
    """Write member ``index``'s checkpoint (a statistical member: its fitted states per series,
    as compact JSON, where it has them) and return its ``ensemble.json`` entry."""
    if member.statistical:
        entry = {"path": None, "architecture": member.architecture, "window": 0, "weight": member.weight}
        if member.model.states:
            name = f"{member_dir(index)}/{MEMBER_STATES}"
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            payload = {"model": member.model.name, "states": member.model.states}
            (staging / name).write_text(json.dumps(payload, separators=(",", ":"), sort_keys=True))
            entry[STATES_KEY] = name
        return {**entry, **{k: v for k, v in member.info.items() if k != STATES_KEY}}
    assert member.spec is not None and member.n_features is not None
    checkpoint = {
        "state_dict": member.model.state_dict(),
        "spec": member.spec.to_dict(),
        "n_features": member.n_features,
    }
    write_checkpoint(staging / member_dir(index), checkpoint)
    return {
        "path": member_dir(index),
        "architecture": member.architecture,
        "window": member.window,
        "weight": member.weight,
        **member.info,
    }


def _write_files(staging: Path, ensemble: Ensemble, entries: list[dict[str, Any]]) -> None:
    """``ensemble.json`` (settings and member entries), the transform, the config and the
    calibration with each series' scale (an undefined one as null)."""
    write_json(staging / ENSEMBLE, {**ensemble.settings.to_dict(), MEMBERS_KEY: entries})
    write_json(staging / TRANSFORM, ensemble.transform.to_dict())
    if ensemble.config is not None:
        write_json(staging / CONFIG, ensemble.config)
    if ensemble.calibration is not None:
        scales = {k: (float(v) if np.isfinite(v) else None) for k, v in ensemble.scales.items()}
        write_json(staging / CALIBRATION, {**ensemble.calibration.to_dict(), "series_scale": scales})


def _manifest_info(ensemble: Ensemble, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """What the manifest records besides the checksums: the kept info, members and weights."""
    info = {k: v for k, v in ensemble.manifest.items() if k in _MANIFEST_INFO}
    info["members"] = [
        {**{k: e[k] for k in _MANIFEST_MEMBER}, "trial_id": e.get("trial_id")} for e in entries
    ]
    info["weights"] = [e["weight"] for e in entries]
    info["calibrated"] = ensemble.calibration is not None
    return info
