"""The ensemble's artifact directory: its file names, manifest, checksums and atomic writes.

    ensemble/
      manifest.json      format version, package versions, input schema, frequencies, members and
                         weights, and the SHA-256 of every other file
      ensemble.json      members, settings and the build's reports (``EnsembleSettings``)
      calibration.json   conformal adjustments per level and step, series scales (optional)
      transform.json     the shared ``RatioTransform``;  config.json  the experiment config
      members/<i>/       model.pt (a state_dict, loaded weights_only) and spec.json; a
                         statistical member: states.json (its fitted parameters per series)

``finalize(staging, target, info)`` writes the manifest and moves the directory into place;
``verify(directory)`` checks it before anything is read; ``persist`` reads and writes an
``Ensemble`` through these.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from torch import nn

from foretune.errors import ArtifactError
from foretune.storage import left_behind, owner
from foretune.train import TrainSpec, read_checkpoint
from foretune.train.checkpoint import META, WEIGHTS

FORMAT = "foretune-ensemble"
FORMAT_VERSION = 2
#: Versions this code reads: 1 (no calibration, members only in ensemble.json) and 2. The
#: manifest itself is not checksummed, so ``Ensemble.load`` also checks its member list.
SUPPORTED_VERSIONS = (1, 2)

MANIFEST = "manifest.json"
ENSEMBLE = "ensemble.json"
TRANSFORM = "transform.json"
CALIBRATION = "calibration.json"
CONFIG = "config.json"
MEMBERS = "members"
#: A member's files, as ``foretune.train.write_checkpoint`` writes them.
MEMBER_WEIGHTS = WEIGHTS
MEMBER_SPEC = META
#: A statistical member's fitted parameters per series (``models.statistical.State``, JSON).
MEMBER_STATES = "states.json"
#: Name parts of a save in progress: ``.<name>-staging-<pid>-xyz`` and ``<name>.old-<pid>``.
_STAGING = "-staging-"
_OLD = ".old-"
_PACKAGES = ("foretune", "torch", "numpy", "pandas", "pyarrow", "ray", "optuna")


def member_dir(index: int) -> str:
    """Member ``index``'s directory, relative to the artifact (``members/<index>``)."""
    return f"{MEMBERS}/{index}"


def sha256(path: Path) -> str:
    """The hex SHA-256 of the file ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    """Python's and each recorded package's version (``not installed`` when absent)."""
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON with sorted keys (``str`` for what JSON lacks)."""
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))


def staging_dir(target: Path) -> Path:
    """A new private directory beside ``target`` to write an artifact in (``finalize`` moves it);
    what earlier saves killed midway left there (their process gone) is removed first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}{_STAGING}"
    for stale in target.parent.glob(f"{prefix}*"):
        if _stale(stale, prefix):
            shutil.rmtree(stale, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{owner()}-", dir=target.parent))


def finalize(staging: Path, target: Path, info: dict[str, Any]) -> Path:
    """Write the manifest over ``staging``'s files, then move it to ``target``.

    ``staging`` (``staging_dir``) is renamed into place; an artifact already there is first
    renamed aside (``<target>.old-<pid>``) and removed after, so a process killed at any moment
    leaves the old artifact, the new one, or (between the two renames) none at ``target`` and
    the old one beside it, which ``verify`` names. Nothing half-written ever loads.
    """
    files = {
        str(p.relative_to(staging)): sha256(p)
        for p in sorted(staging.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": package_versions(),
        "files": files,
        **info,
    }
    write_json(staging / MANIFEST, manifest)
    _sync(staging)
    if target.exists():
        old = target.with_name(f"{target.name}{_OLD}{owner()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)
    prefix = f"{target.name}{_OLD}"
    for stale in target.parent.glob(f"{prefix}*"):  # left by saves killed midway
        if _stale(stale, prefix):
            shutil.rmtree(stale, ignore_errors=True)
    return target


def _sync(directory: Path) -> None:
    """Flush every file under ``directory`` to disk, so a rename never publishes lost bytes."""
    for path in directory.rglob("*"):
        if path.is_file():
            with open(path, "rb+") as f:
                os.fsync(f.fileno())


def _stale(path: Path, prefix: str) -> bool:
    """Whether ``path`` (named ``<prefix><pid>...``) was left by a process that is gone."""
    return left_behind(path.name[len(prefix) :])


def verify(directory: Path) -> dict[str, Any]:
    """Read the manifest and check every file's checksum; raise ``ArtifactError`` if wrong."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(_not_an_artifact(directory))
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{manifest_path} is not valid JSON: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise ArtifactError(f"{directory} is not a foretune ensemble artifact")
    version = manifest.get("format_version")
    if version not in SUPPORTED_VERSIONS:
        newer = isinstance(version, int) and version > FORMAT_VERSION
        raise ArtifactError(
            f"{directory} has artifact format version {version!r}, which this foretune cannot "
            f"read (it reads {list(SUPPORTED_VERSIONS)}); "
            + ("upgrade foretune to load it" if newer else "rebuild it with `foretune ensemble`")
        )
    if not isinstance(manifest.get("files"), dict):
        raise ArtifactError(f"{manifest_path} lists no file checksums")
    for name, expected in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            raise ArtifactError(f"artifact file {name} is missing from {directory}")
        if sha256(path) != expected:
            raise ArtifactError(
                f"artifact file {name} in {directory} does not match its checksum; it was "
                "modified or corrupted, refusing to load it"
            )
    return manifest


def _not_an_artifact(directory: Path) -> str:
    """Why ``directory`` is no artifact, and where the one meant probably is: the ensemble of a
    run directory, or the previous artifact an interrupted save left beside it."""
    if (directory / "ensemble" / MANIFEST).is_file():
        return (
            f"{directory} is a run directory, not an ensemble; its ensemble is "
            f"{directory / 'ensemble'}: pass that (--model {directory / 'ensemble'})"
        )
    if not directory.exists():
        left = sorted(directory.parent.glob(f"{directory.name}{_OLD}*")) if directory.parent.is_dir() else []
        if left:
            return (
                f"{directory} does not exist: a save was interrupted while replacing it, and the "
                f"previous artifact is {left[-1]}; rename it to {directory.name}, or save again"
            )
        return f"{directory} does not exist; give the ensemble directory of a run (RUN/ensemble)"
    return (
        f"{directory} is not a foretune ensemble (no {MANIFEST}); give the ensemble directory of "
        "a run (RUN/ensemble)"
    )


def require_listed(directory: Path, manifest: dict[str, Any], names: Iterable[str]) -> None:
    """Every file the loader is about to read must be covered by the manifest's checksums."""
    listed = manifest.get("files", {})
    for name in names:
        if name not in listed:
            raise ArtifactError(
                f"{directory}: {name} is not listed in the manifest's checksums; refusing to load "
                "an unverified file"
            )


def read_member(directory: Path) -> tuple[nn.Module, TrainSpec, int]:
    """A member checkpoint's model (in eval mode), its ``TrainSpec`` and its input size."""
    model, spec = read_checkpoint(directory)
    model.eval()
    n_features = int(json.loads((directory / MEMBER_SPEC).read_text())["n_features"])
    return model, spec, n_features
