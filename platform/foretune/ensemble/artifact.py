"""The ensemble's artifact directory: self-describing, checksummed, no pickles.

Layout::

    ensemble/
      manifest.json        format + version, package versions, input schema, frequencies,
                           member list with weights, SHA-256 of every other file
      ensemble.json        members (architecture, window, weight, source trial, scores),
                           settings, and the build's reports (selection, test scores,
                           calibration coverage before/after, direction accuracy)
      calibration.json     conformal adjustments per level and step, series scales (optional)
      transform.json       RatioTransform state (per-series statistics)
      config.json          the experiment config that produced it
      members/<i>/model.pt, spec.json   weights (state_dict, weights_only) + spec

Format versions: 1 (the first release: no calibration, no member list in the manifest) and 2
(this one) are read; any other version is refused with an ``ArtifactError``. The manifest
itself is not checksummed, so ``Ensemble.load`` also checks that its member list agrees with
the checksummed ``ensemble.json``.

Files are written to a temporary sibling directory and renamed into place, so a crash never
leaves a half-written artifact that later loads.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from foretune.errors import ArtifactError

FORMAT = "foretune-ensemble"
FORMAT_VERSION = 2
#: Versions this code reads: 1 (no calibration, members only in ensemble.json) and 2.
SUPPORTED_VERSIONS = (1, 2)
MANIFEST = "manifest.json"
_PACKAGES = ("foretune", "torch", "numpy", "pandas", "pyarrow", "ray", "optuna")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str))


def finalize(staging: Path, target: Path, info: dict[str, Any]) -> Path:
    """Write the manifest over ``staging``'s files, then atomically move it to ``target``."""
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


def require_listed(directory: Path, manifest: dict[str, Any], names) -> None:
    """Every file the loader is about to read must be covered by the manifest's checksums."""
    listed = manifest.get("files", {})
    for name in names:
        if name not in listed:
            raise ArtifactError(
                f"{directory}: {name} is not listed in the manifest's checksums; refusing to load "
                "an unverified file"
            )
