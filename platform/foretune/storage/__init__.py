"""Where runs and data live: a local path, or a URI on a pyarrow file system (s3://, gs://, ...).

    location = resolve("s3://bucket/exp1")      # a RemotePath; resolve("runs/x") is an absolute Path
    fs, path = filesystem("s3://bucket/exp1")   # the pyarrow FileSystem and the path on it
    check_writable(location, label="--out")     # bucket, credentials, permission: before any work
    check_uri(uri, "--data")                    # a URI holding credentials: refused, redacted
    write_atomic(path, text); write_frame(frame, "forecast.csv")   # never half-written
    check_output(out, inputs={"--data": data}, overwrite=False)    # an output file, before work
    check_output_dir(out, inputs={"--model": model})                # an output directory
    with local_copy(location) as directory: ... # a remote directory, downloaded to a temp dir
    with staged(location) as directory: ...     # written privately, moved or uploaded on exit

``locations``: ``RemotePath`` and the file systems; ``secrets``: credentials in URIs;
``files``: reading and atomic writing; ``outputs``: an output file's checks.
"""

from .files import (
    FORMATS,
    frame_format,
    left_behind,
    local_copy,
    owner,
    read_parquet,
    remove,
    size,
    staged,
    upload,
    write_atomic,
    write_frame,
    write_parquet,
)
from .locations import (
    S3_PERMISSIONS,
    Location,
    RemotePath,
    as_location,
    check_writable,
    explain,
    filesystem,
    is_uri,
    ray_storage,
    resolve,
    uri,
)
from .outputs import check_output, check_output_dir
from .secrets import check_uri, holds_credentials, redact, scrub

__all__ = [
    "FORMATS",
    "S3_PERMISSIONS",
    "as_location",
    "check_output",
    "check_output_dir",
    "check_uri",
    "check_writable",
    "explain",
    "filesystem",
    "frame_format",
    "holds_credentials",
    "is_uri",
    "left_behind",
    "local_copy",
    "Location",
    "owner",
    "ray_storage",
    "read_parquet",
    "redact",
    "RemotePath",
    "remove",
    "resolve",
    "scrub",
    "size",
    "staged",
    "upload",
    "uri",
    "write_atomic",
    "write_frame",
    "write_parquet",
]
