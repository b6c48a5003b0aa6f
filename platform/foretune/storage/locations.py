"""Locations: a local path, or a URI on a pyarrow file system (s3://, gs://, ...).

    location = resolve("s3://bucket/exp1")      # a RemotePath; resolve("runs/x") is an absolute Path
    fs, path = filesystem("s3://bucket/exp1")   # the pyarrow FileSystem and the path on it
    check_writable(location, label="--out")     # bucket, credentials, permission: before any work

A ``RemotePath`` has the few ``pathlib.Path`` methods the stages use on a run directory
(``/``, ``name``, ``parent``, ``exists``, ``is_file``, ``is_dir``, ``read_text``, ``write_text``,
``iterdir``, ``mkdir``), so ``RunDir`` and its callers treat both kinds alike; local paths keep
their ``Path`` behaviour exactly. ``write_bytes`` is one PUT, or a multipart upload completed
only when every part is up: an object is never seen half-written.

Credentials come only from the file system's standard chain (for S3: ``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, the instance profile); a
custom S3 endpoint (MinIO, a test server) from ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``.
The S3 file system is built without keys, so pickling it (Ray ships it to every trial) carries
none, and a URI holding credentials (``s3://KEY:SECRET@bucket``, ``?secret_key=...``) is refused
when it becomes a ``RemotePath`` or a file system (``secrets.check_uri``), before anything is
opened; an S3 URI takes no query (its settings come from the environment).
"""

from __future__ import annotations

import os
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow.fs as pafs

from foretune.errors import StorageError

from .secrets import check_uri, redact

#: What a node needs on the bucket of a run directory (docs/cluster.md lists them too).
S3_PERMISSIONS = ("s3:ListBucket", "s3:GetObject", "s3:PutObject", "s3:DeleteObject")
#: Where the AWS SDK's default chain finds credentials before the instance profile.
_CREDENTIAL_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
_SCHEMES_HINT = "a local path or a pyarrow file-system URI (s3://, gs://, hdfs://, file://)"


def is_uri(location: object) -> bool:
    """Whether ``location`` names a file system by URI (``file://`` included)."""
    return isinstance(location, RemotePath) or (isinstance(location, str) and "://" in location)


def resolve(location: str | os.PathLike) -> Path | RemotePath:
    """An absolute local ``Path``, or a ``RemotePath`` for a URI (``file://`` URIs become paths)."""
    if isinstance(location, RemotePath):
        return location
    text = os.fspath(location)
    if text.startswith("file://"):
        return Path(text[len("file://") :]).resolve()
    if "://" in text:
        return RemotePath(text)
    return Path(text).resolve()


def as_location(location: str | os.PathLike) -> Path | RemotePath:
    """Like ``resolve`` but a local path stays as given (not made absolute)."""
    if isinstance(location, RemotePath) or (isinstance(location, str) and "://" in location):
        return resolve(location)
    return Path(location)


def filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow file system of a URI and the path on it; ``StorageError`` if it cannot be
    opened or holds credentials (checked first, before any network call)."""
    check_uri(location)
    scheme, _, rest = location.partition("://")
    if scheme.lower() == "s3":
        if "?" in rest:
            raise StorageError(
                f"{redact(location)} has a query; foretune takes S3 settings from the environment "
                "(AWS_REGION, AWS_ENDPOINT_URL_S3, credentials): give s3://BUCKET/PREFIX"
            )
        bucket = rest.strip("/").split("/", 1)[0]
        if not bucket:
            raise StorageError(f"{location} names no bucket; give s3://BUCKET/PREFIX")
        endpoint = _env("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
        region = _env("AWS_REGION", "AWS_DEFAULT_REGION") or (None if endpoint else _bucket_region(bucket))
        return _s3(endpoint, region, _credentials_key()), rest.strip("/")
    try:
        return pafs.FileSystem.from_uri(location)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for an unknown scheme
        raise StorageError(
            f"cannot open {redact(location)}: {_first_line(exc)}; give {_SCHEMES_HINT}"
        ) from None


def _env(*names: str) -> str | None:
    return next((os.environ[n] for n in names if os.environ.get(n)), None)


@lru_cache(maxsize=64)
def _bucket_region(bucket: str) -> str | None:
    """The AWS region of ``bucket`` (None if it cannot be found: ``check_writable`` says why)."""
    try:
        return pafs.resolve_s3_region(bucket)
    except Exception:  # noqa: BLE001 - a missing bucket or no network: reported by the checks
        return None


def _credentials_key() -> int:
    """A hash of the credential variables: a new file system when they change (never the keys)."""
    return hash(tuple(os.environ.get(n) for n in (*_CREDENTIAL_VARS, "AWS_SECRET_ACCESS_KEY")))


@lru_cache(maxsize=8)
def _s3(endpoint: str | None, region: str | None, credentials: int) -> pafs.S3FileSystem:
    """An S3 file system on the default credential chain (``credentials`` only keys the cache).
    Small files go up in one PUT (``allow_delayed_open``) instead of a one-part multipart upload."""
    options: dict[str, Any] = {"allow_delayed_open": True}
    if endpoint:
        scheme, _, host = endpoint.partition("://") if "://" in endpoint else ("https", "", endpoint)
        options.update(endpoint_override=host.rstrip("/"), scheme=scheme)
    if region:
        options["region"] = region
    return pafs.S3FileSystem(**options)


class RemotePath:
    """A file or directory on a pyarrow file system, named by its URI (``s3://bucket/key``)."""

    def __init__(self, uri: str) -> None:
        check_uri(str(uri))
        scheme, _, rest = str(uri).partition("://")
        self.scheme, self.key = scheme.lower(), rest.rstrip("/")

    def __str__(self) -> str:
        return f"{self.scheme}://{self.key}"

    def __repr__(self) -> str:
        return f"RemotePath({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RemotePath) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def __truediv__(self, name: str) -> RemotePath:
        return RemotePath(f"{self}/{str(name).strip('/')}")

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]

    @property
    def parent(self) -> RemotePath:
        return RemotePath(f"{self.scheme}://{self.key.rsplit('/', 1)[0]}") if "/" in self.key else self

    @property
    def fs(self) -> pafs.FileSystem:
        return filesystem(str(self))[0]

    @property
    def path(self) -> str:
        """The path on ``fs`` (for S3: ``bucket/key``)."""
        return filesystem(str(self))[1]

    def _info(self) -> pafs.FileInfo:
        return _call(lambda: self.fs.get_file_info(self.path), self)

    def exists(self) -> bool:
        return self._info().type != pafs.FileType.NotFound

    def is_file(self) -> bool:
        return self._info().type == pafs.FileType.File

    def is_dir(self) -> bool:
        return self._info().type == pafs.FileType.Directory

    def is_symlink(self) -> bool:
        return False

    def iterdir(self) -> list[RemotePath]:
        infos = _call(lambda: self.fs.get_file_info(pafs.FileSelector(self.path, allow_not_found=True)), self)
        return [self / info.base_name for info in infos]

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Object stores have no directories: a prefix exists once a file is under it."""

    def read_bytes(self) -> bytes:
        with _call(lambda: self.fs.open_input_stream(self.path), self) as stream:
            return stream.read()

    def read_text(self) -> str:
        return self.read_bytes().decode()

    def write_bytes(self, data: bytes) -> None:
        def put() -> None:
            with self.fs.open_output_stream(self.path) as stream:
                stream.write(data)

        _call(put, self)

    def write_text(self, text: str) -> None:
        self.write_bytes(text.encode())

    def files(self) -> list[tuple[str, int]]:
        """Every file under this directory: (path relative to it, size in bytes)."""
        selector = pafs.FileSelector(self.path, recursive=True, allow_not_found=True)
        infos = _call(lambda: self.fs.get_file_info(selector), self)
        prefix = self.path.rstrip("/") + "/"
        return [(i.path[len(prefix) :], i.size) for i in infos if i.type == pafs.FileType.File]


Location = Path | RemotePath


def ray_storage(location: Location) -> dict[str, Any]:
    """``storage_path`` (and ``storage_filesystem`` for a URI) for Ray Tune/Train's RunConfig."""
    if isinstance(location, Path):
        return {"storage_path": str(location)}
    return {"storage_path": location.path, "storage_filesystem": location.fs}


def uri(fs: pafs.FileSystem | None, path: str) -> str:
    """The location string of ``path`` on ``fs``: the path itself when local, else a URI."""
    if fs is None or isinstance(fs, pafs.LocalFileSystem):
        return path
    scheme = {"gcs": "gs"}.get(fs.type_name, fs.type_name)
    return f"{scheme}://{path.lstrip('/')}"


def check_writable(location: Location, label: str = "run directory") -> None:
    """Refuse a remote location that cannot hold a run, before any work: an unknown scheme, a
    missing bucket, no or invalid credentials, no permission to write. Local paths pass."""
    if isinstance(location, Path):
        return
    fs, path = filesystem(str(location))
    bucket = path.split("/", 1)[0]
    where = f"{label} {location}"
    if location.scheme in ("s3", "gs", "gcs"):
        info = _call(lambda: fs.get_file_info(bucket), location, where)
        if info.type == pafs.FileType.NotFound:
            raise StorageError(
                f"{where}: bucket {bucket!r} does not exist; create it (e.g. `aws s3 mb "
                f"{location.scheme}://{bucket}`) or name an existing bucket"
            )
    probe = location / f".foretune-write-check-{uuid.uuid4().hex[:8]}"
    _call(lambda: _probe(probe), location, where)


def _probe(probe: RemotePath) -> None:
    with probe.fs.open_output_stream(probe.path) as stream:
        stream.write(b"ok")
    probe.fs.delete_file(probe.path)


def _call(fn, location: RemotePath, where: str | None = None):
    """Run a file-system call; turn the SDK's errors into a ``StorageError`` that says why."""
    try:
        return fn()
    except (FileNotFoundError, StorageError):
        raise
    except OSError as exc:
        raise StorageError(explain(exc, where or str(location))) from None


def explain(exc: BaseException, where: str) -> str:
    """One line naming the storage problem behind ``exc`` and its fix."""
    text = _first_line(exc)
    lowered = text.lower()
    if any(
        k in lowered.replace("_", "") for k in ("invalidaccesskeyid", "signaturedoesnotmatch", "expiredtoken")
    ):
        return (
            f"{where}: the credentials are not valid ({text}); set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) to valid ones, or use the nodes' instance profile"
        )
    if where.split("://", 1)[0].rsplit(" ", 1)[-1] == "s3" and not _env(*_CREDENTIAL_VARS):
        return (
            f"{where}: {text}; no AWS credentials were found in the environment: set "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or run on nodes with an "
            "instance profile"
        )
    if "access_denied" in lowered or "accessdenied" in lowered or "403" in lowered:
        return (
            f"{where}: access denied ({text}); the credentials need {', '.join(S3_PERMISSIONS)} "
            "on the bucket (see docs/cluster.md), or set credentials that have them"
        )
    return f"{where}: {text}"


def _first_line(exc: BaseException) -> str:
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__
