"""Files at a location, written so that a reader finds the old whole file or the new one, never half.

    write_atomic(path, text_or_bytes)          # local: a temporary sibling, fsync, rename
    write_parquet(frame, location)             # the same for a frame
    write_frame(frame, "forecast.csv")         # Parquet or CSV, by the suffix (``frame_format``)
    with staged(location) as directory: ...    # files written there land in ``location`` on exit
    with local_copy(location) as directory: ...  # a remote directory, downloaded to a temp dir

Locally a file is written under a temporary name beside its target (same file system), flushed to
disk and renamed over it, so a process killed at any moment leaves the old file or the new one.
On object storage a file goes up in one PUT, or a multipart upload that only appears once it is
completed (``RemotePath.write_bytes``). ``staged`` collects a directory's files in a private
temporary directory and moves (or uploads) each into place on a clean exit: a failure leaves what
was there before.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from foretune.errors import StorageError

from .locations import Location, RemotePath, _call

#: Output formats by suffix (``frame_format``).
FORMATS = {".parquet": "parquet", ".csv": "csv"}


def remove(location: Location) -> None:
    """Delete a file or a directory tree (nothing if it does not exist)."""
    if isinstance(location, Path):
        if location.is_dir() and not location.is_symlink():
            shutil.rmtree(location)
        elif location.exists() or location.is_symlink():
            location.unlink()
        return
    info = location._info()
    if info.type == pafs.FileType.Directory:
        _call(lambda: location.fs.delete_dir(location.path), location)
    elif info.type == pafs.FileType.File:
        _call(lambda: location.fs.delete_file(location.path), location)


def read_parquet(location: Location, **kwargs: Any) -> pd.DataFrame:
    """A Parquet file as a frame, from either kind of location."""
    if isinstance(location, Path):
        return pd.read_parquet(location, **kwargs)
    table = _call(lambda: pq.read_table(location.path, filesystem=location.fs, **kwargs), location)
    return table.to_pandas()


def owner() -> str:
    """``<pid>@<host>``: what a temporary name carries to tell whose it is."""
    return f"{os.getpid()}@{socket.gethostname().replace('-', '_')}"


def left_behind(text: str) -> bool:
    """Whether ``text``, which starts with an ``owner()`` tag (then ``-`` or its end), names a
    process of this host that is gone: what it left may be removed. Another host's, a live
    process' or an unreadable tag counts as in use."""
    pid, _, rest = text.partition("@")
    host = rest.split("-", 1)[0].split(".tmp", 1)[0]
    if not pid.isdigit() or host != owner().split("@", 1)[1] or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # another user's live process
        return False
    return False


@contextmanager
def _temporary_sibling(path: Path) -> Iterator[Path]:
    """A temporary file name beside ``path``, renamed over ``path`` on a clean exit (after its
    bytes reach the disk) and removed on a failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by writers killed midway
        if left_behind(stale.name[len(path.name) + 2 :]):
            stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.{owner()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_atomic(location: Location, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to the file ``location`` atomically (module docstring)."""
    payload = data.encode() if isinstance(data, str) else bytes(data)
    if isinstance(location, RemotePath):
        location.write_bytes(payload)
        return
    with _temporary_sibling(Path(location)) as tmp:
        tmp.write_bytes(payload)


def write_parquet(frame: pd.DataFrame, location: Location) -> None:
    """Write ``frame`` (without its index) as Parquet to ``location``, atomically."""
    if isinstance(location, RemotePath):
        buffer = pa.BufferOutputStream()  # whole in memory, then one upload
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer)
        location.write_bytes(buffer.getvalue().to_pybytes())
        return
    with _temporary_sibling(Path(location)) as tmp:
        frame.to_parquet(tmp, index=False)


def frame_format(location: str | os.PathLike | RemotePath, label: str = "--out") -> str:
    """``parquet`` or ``csv`` by the suffix of ``location``; ``StorageError`` for another one."""
    name = str(location).rstrip("/").rsplit("/", 1)[-1].lower()
    for suffix, kind in FORMATS.items():
        if name.endswith(suffix):
            return kind
    raise StorageError(
        f"{label} {location}: the output's format follows its suffix; give a path ending in "
        f"{' or '.join(FORMATS)}"
    )


def write_frame(frame: pd.DataFrame, location: Location, label: str = "--out") -> None:
    """Write ``frame`` as Parquet or CSV, by ``location``'s suffix (``frame_format``), atomically."""
    if frame_format(location, label) == "parquet":
        write_parquet(frame, location)
        return
    text = io.StringIO()
    frame.to_csv(text, index=False)
    write_atomic(location, text.getvalue())


def size(location: Location) -> int:
    """Bytes of every file under a directory."""
    if isinstance(location, Path):
        return sum(p.stat().st_size for p in location.rglob("*") if p.is_file())
    return sum(n for _, n in location.files())


def upload(local: Path, target: RemotePath, last: str | None = None) -> None:
    """Copy the files of directory ``local`` under ``target``; the file named ``last`` (e.g. a
    manifest) goes up after all the others, so a reader never finds it before them."""
    names = sorted(str(p.relative_to(local)) for p in local.rglob("*") if p.is_file())
    for name in sorted(names, key=lambda n: n == last):
        (target / name).write_bytes((local / name).read_bytes())


def _move_into(local: Path, target: Path, last: str | None = None) -> None:
    """Move the files of directory ``local`` into ``target``, each by an atomic rename (``last``
    after all the others)."""
    names = sorted(str(p.relative_to(local)) for p in local.rglob("*") if p.is_file())
    for name in sorted(names, key=lambda n: n == last):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(local / name, target / name)


@contextmanager
def local_copy(location: Location) -> Iterator[Path]:
    """A local directory with the contents of ``location``: itself when local, else a private
    temporary download (removed on exit), so what is checked is exactly what is then read."""
    if isinstance(location, Path):
        yield location
        return
    with tempfile.TemporaryDirectory(prefix="foretune-") as tmp:
        root = Path(tmp) / (location.name or "copy")
        for name, _ in location.files():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes((location / name).read_bytes())
        root.mkdir(parents=True, exist_ok=True)
        yield root


@contextmanager
def staged(location: Location, last: str | None = None) -> Iterator[Path]:
    """A private local directory to write ``location``'s files in; on a clean exit each file is
    moved (local) or uploaded (a URI) into ``location``, ``last`` after the others; on a failure
    nothing of it reaches ``location``."""
    if isinstance(location, Path):
        location.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{location.name}-staging-", dir=location.parent))
        try:
            yield tmp
            _move_into(tmp, location, last)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    with tempfile.TemporaryDirectory(prefix="foretune-") as tmp:
        yield Path(tmp)
        upload(Path(tmp), location, last=last)
