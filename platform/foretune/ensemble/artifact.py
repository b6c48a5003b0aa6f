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
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

from torch import nn

from foretune.errors import ArtifactError
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


def finalize(staging: Path, target: Path, info: dict[str, Any]) -> Path:
    """Write the manifest over ``staging``'s files, then atomically move it to ``target``.

    ``staging`` is a sibling of ``target``, renamed into place, so a crash never leaves a
    half-written artifact that later loads.
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
    if target.exists():
        old = target.with_name(target.name + f".old-{os.getpid()}")
        os.replace(target, old)
        os.replace(staging, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, target)
    return target


def verify(directory: Path) -> dict[str, Any]:
    """Read the manifest and check every file's checksum; raise ``ArtifactError`` if wrong."""
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ArtifactError(f"{directory} is not a foretune ensemble (no {MANIFEST})")
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
