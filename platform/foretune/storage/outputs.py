"""An output file, checked before any work: its format, its inputs, what is already there.

    target = check_output("forecast.csv", inputs={"--data": "hist.parquet"}, overwrite=False)

Refused, each with a ``ConfigError`` naming the flag: a suffix other than ``.parquet``/``.csv``
(``files.frame_format``), a path that is an input or lies inside one (a Parquet directory, the
model), a directory, a path under a file, and an existing file unless ``overwrite``. Credentials
in a URI are refused first (``secrets.check_uri``). An output directory
(``check_output_dir``: ``evaluate --out``, ``explain --out``) is refused when it is an input or
lies inside one (the model's directory, a Parquet directory), or is a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from foretune.errors import ConfigError

from .files import frame_format
from .locations import Location, RemotePath, is_uri, resolve
from .secrets import check_uri


def _contains(outer: Location, inner: Location) -> bool:
    """Whether ``inner`` is ``outer`` (also by another name: a link) or lies under it."""
    if isinstance(outer, RemotePath) or isinstance(inner, RemotePath):
        return str(inner) == str(outer) or str(inner).startswith(str(outer).rstrip("/") + "/")
    if inner == outer or outer in inner.parents:
        return True
    return inner.exists() and outer.exists() and os.path.samefile(inner, outer)  # a hard link


def _location(given: Any) -> Location | None:
    """A path or URI given as an input, resolved (links followed); None for a frame or nothing."""
    if given is None or not isinstance(given, (str, os.PathLike, RemotePath)):
        return None
    return resolve(given) if is_uri(given) else Path(given).resolve()


def check_output(
    out: str | os.PathLike,
    *,
    inputs: Mapping[str, Any] | None = None,
    overwrite: bool = False,
    label: str = "--out",
) -> Location:
    """The output file ``out`` resolved, or ``ConfigError`` (see the module docstring).

    ``inputs``: the paths read, by the flag or argument that gave them (frames are skipped)."""
    check_uri(str(out), label)
    target = resolve(out) if is_uri(out) else Path(out).resolve()
    if isinstance(target, Path):
        _check_local(target, out, label)
    frame_format(out, label)
    for name, given in (inputs or {}).items():
        source = _location(given)
        if source is not None and (_contains(source, target) or _contains(target, source)):
            raise ConfigError(
                f"{label} {out} is the {name} input {given} (or lies inside it); writing there "
                "would replace it: give the output another path"
            )
    if target.is_file() and not overwrite:
        raise ConfigError(
            f"{label} {out} already exists; pass --overwrite (overwrite=True) to replace it, or "
            "give a new path"
        )
    return target


def check_output_dir(
    out: str | os.PathLike, *, inputs: Mapping[str, Any] | None = None, label: str = "--out"
) -> Location:
    """The output directory ``out`` resolved, or ``ConfigError`` (see the module docstring)."""
    check_uri(str(out), label)
    target = resolve(out) if is_uri(out) else Path(out).resolve()
    if isinstance(target, Path) and target.is_file():
        raise ConfigError(f"{label} {out} is a file; give a directory for the output files")
    for name, given in (inputs or {}).items():
        source = _location(given)
        if source is not None and _contains(source, target):
            raise ConfigError(
                f"{label} {out} is the {name} input {given} (or lies inside it); writing there "
                "would mix the outputs into it: give the output another directory"
            )
    return target


def _check_local(target: Path, out: Any, label: str) -> None:
    """A local output must be a file path whose nearest existing parent is a directory."""
    if target.is_dir() or str(out).endswith(("/", "\\")):
        raise ConfigError(
            f"{label} {out} is a directory; give the output's file path, e.g. {target / 'forecast.parquet'}"
        )
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(f"{label} {out} cannot be written: {parent} is a file")
            break
