"""Uploads larger than 5 MB (S3's smallest multipart part) against the loopback S3 server.

A file of foretune's goes up in one PUT or one multipart upload that S3 completes only when every
part is in: the object then holds exactly the bytes written, and a writer killed midway leaves the
object that was there before (an upload never completed is never visible). pyarrow sends parts of
10 MiB, so the files here are larger than that: their ETags show the parts (``md5-<count>``).
Needs moto >= 5.2.2: 5.2.1 answers ``CompleteMultipartUpload`` with the wrong XML root, which
pyarrow reads as an error (getmoto/moto#10055).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
from s3_server import BUCKET, serving_as_writer

from foretune.storage import read_parquet, resolve, write_atomic, write_frame

MB = 1 << 20


@pytest.fixture(scope="module")
def s3():
    """The server, and this process's AWS variables pointing at it with the writer's keys."""
    with serving_as_writer() as server:
        yield server


def _etag(s3, key: str) -> str:
    return s3.client().head_object(Bucket=BUCKET, Key=key)["ETag"].strip('"')


def test_a_large_file_goes_up_in_parts_and_reads_back_whole(s3):
    payload = np.random.default_rng(0).bytes(12 * MB)
    write_atomic(resolve(f"s3://{BUCKET}/big/blob.bin"), payload)
    assert "-" in _etag(s3, "big/blob.bin")  # a multipart upload's ETag: md5-of-parts-<count>
    body = s3.client().get_object(Bucket=BUCKET, Key="big/blob.bin")["Body"].read()
    assert body == payload


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_a_large_forecast_file_round_trips(s3, suffix):
    rng = np.random.default_rng(1)
    n = {"parquet": 1_600_000, "csv": 600_000}[suffix]  # about 14 MB either way
    ids = np.repeat([f"s{i}" for i in range(400)], n // 400)
    frame = pd.DataFrame({"unique_id": ids, "y": rng.normal(size=n)})
    location = resolve(f"s3://{BUCKET}/big/forecast.{suffix}")
    write_frame(frame, location)
    size = s3.client().head_object(Bucket=BUCKET, Key=f"big/forecast.{suffix}")["ContentLength"]
    assert size > 10 * MB and "-" in _etag(s3, f"big/forecast.{suffix}")
    if suffix == "parquet":
        back = read_parquet(location)
    else:
        back = pd.read_csv(s3.client().get_object(Bucket=BUCKET, Key="big/forecast.csv")["Body"])
    pd.testing.assert_frame_equal(back, frame, check_exact=False)


def test_an_upload_killed_midway_leaves_the_old_object(s3, tmp_path):
    key = "big/killed.bin"
    old = b"the old, whole object"
    s3.client().put_object(Bucket=BUCKET, Key=key, Body=old)
    script = textwrap.dedent(
        f"""
        import sys
        from foretune.storage import resolve, write_atomic
        print("ready", flush=True)
        write_atomic(resolve("s3://{BUCKET}/{key}"), b"x" * (200 * {MB}))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    child = subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE)
    assert child.stdout.readline().strip() == b"ready"
    time.sleep(1.5)  # inside the upload of 200 MB
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    body = s3.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    assert body == old
