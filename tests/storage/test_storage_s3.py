"""Issue 18: run directories and data on object storage, against a real S3 server on loopback.

One module-wide run (``bucket_run``) serves most tests, since each stage costs seconds:

1. ``foretune sweep --out s3://.../exp1 --data s3://.../data`` (a hive-partitioned Parquet prefix)
   starts in a subprocess on a local Ray and is SIGKILLed (with its Ray) once one trial's
   final checkpoint is in the bucket;
2. ``s3_cluster.py`` resumes it with ``--resume s3://.../exp1`` on a multi-node
   ``ray.cluster_utils.Cluster`` whose nodes have separate temp directories, builds a series
   store from the data prefix through Ray Data (the streamed path), deletes the nodes'
   directories, and builds the ensemble from the bucket alone;
3. ``foretune predict --model s3://.../exp1/ensemble`` forecasts in a fresh process and writes
   the forecast to the bucket.

The server is moto's (``s3_server.S3Server``); every process gets the endpoint and the
``writer``'s keys through the standard AWS variables only.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from s3_cluster import RESULT_PREFIX, WORKERS
from s3_server import AWS, BUCKET, serving_as_writer

from foretune.data import read_frame
from foretune.errors import ArtifactError, StorageError
from foretune.rundir import check_run_dir
from foretune.storage import read_parquet, resolve
from support import recorded_finished

HERE = Path(__file__).resolve().parent
TRIALS = 3
RUN = f"s3://{BUCKET}/runs/exp1"
DATA = f"s3://{BUCKET}/data"


@pytest.fixture(scope="module")
def s3():
    """The server, and this process's AWS variables pointing at it with the writer's keys."""
    with serving_as_writer() as server:
        yield server


@pytest.fixture(scope="module")
def data_prefix(s3) -> str:
    """The built-in panel as a hive-partitioned Parquet prefix (one directory per series)."""
    location = resolve(DATA)
    table = pa.Table.from_pandas(read_frame(None), preserve_index=False)
    pq.write_to_dataset(table, location.path, partition_cols=["unique_id"], filesystem=location.fs)
    return DATA


def _keys(s3, prefix: str) -> list[str]:
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _finished(s3) -> set[str]:
    """Trials that Tune's experiment state in the bucket records as finished."""
    keys = sorted(k for k in _keys(s3, "runs/exp1/sweep/experiment_state-") if k.endswith(".json"))
    body = [s3.client().get_object(Bucket=BUCKET, Key=k)["Body"].read().decode() for k in keys]
    return recorded_finished(body)


def _env(s3, ray_tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in AWS and k != "RAY_ADDRESS"}
    return {
        **env,
        **s3.env(s3.writer),
        "RAY_TMPDIR": str(ray_tmp),
        "RAY_AUTH_MODE": "disabled",
        "PYTHONPATH": os.pathsep.join([str(HERE.parents[1] / "platform"), str(HERE)]),
    }


@pytest.fixture(scope="module")
def bucket_run(s3, data_prefix):
    """Steps 1-3 of the module docstring; what each one printed and returned."""
    work = Path(tempfile.mkdtemp(prefix="fts3-", dir="/tmp"))  # short: Ray's socket paths
    config = work / "exp.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "seed": 0,
                "models": ["mlp"],
                "data": {"horizon": 2},
                "train": {"max_epochs": 2, "patience": 2},
                "search": {"trials": TRIALS, "windows": [8], "scheduler": "none", "max_concurrent": 1},
                "ensemble": {"top_k": 2, "samples": 8},
            }
        )
    )
    env = _env(s3, work / "ray")
    foretune = [sys.executable, "-m", "foretune"]
    driver = subprocess.Popen(
        [*foretune, "sweep", "--config", str(config), "--out", RUN, "--data", data_prefix, "--num-cpus", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    while not _finished(s3) and time.monotonic() < deadline:
        assert driver.poll() is None, driver.stdout.read().decode()[-3000:]
        time.sleep(0.2)
    os.killpg(driver.pid, signal.SIGKILL)  # the driver and its local Ray
    first_log = driver.communicate()[0].decode()
    killed = {
        "finished": _finished(s3),
        "leaderboard": "runs/exp1/leaderboard.parquet" in _keys(s3, "runs/"),
    }

    cluster = subprocess.run(
        [sys.executable, str(HERE / "s3_cluster.py"), RUN, data_prefix, str(work / "nodes")],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    lines = [line for line in cluster.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    assert lines, f"{cluster.stdout[-3000:]}\n{cluster.stderr[-6000:]}"
    resumed = json.loads(lines[-1][len(RESULT_PREFIX) :])
    assert "error" not in resumed, resumed["error"]

    predict = subprocess.run(
        [
            *foretune,
            "predict",
            "--model",
            f"{RUN}/ensemble",
            "--data",
            data_prefix,
            "--out",
            f"{RUN}/forecast.parquet",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    logs = first_log + cluster.stdout + cluster.stderr + predict.stdout + predict.stderr
    yield {"killed": killed, "resumed": resumed, "predict": predict, "logs": logs}
    shutil.rmtree(work, ignore_errors=True)


def test_a_partitioned_parquet_prefix_reads_like_the_single_file(data_prefix):
    expected = read_frame(None).sort_values(["unique_id", "ds"]).reset_index(drop=True)
    frame = read_frame(data_prefix)
    assert list(frame.columns) != list(expected.columns)  # the partition column comes last
    frame = frame[list(expected.columns)].sort_values(["unique_id", "ds"]).reset_index(drop=True)
    assert frame["unique_id"].dtype == expected["unique_id"].dtype  # plain ids, not categories
    assert frame.equals(expected)


def test_sweep_killed_then_resumed_on_a_cluster_keeps_every_output_in_the_bucket(s3, bucket_run):
    killed, resumed = bucket_run["killed"], bucket_run["resumed"]
    assert 1 <= len(killed["finished"]) < TRIALS and not killed["leaderboard"]
    assert resumed["sweep_rc"] == 0 and resumed["ensemble_rc"] == 0, bucket_run["logs"][-4000:]
    # Ray started every node's processes with the driver's AWS variables
    assert all(all(found.values()) for found in resumed["node_env"].values()), resumed["node_env"]
    # the resumed trials ran on the worker nodes, which kept only staging copies (since deleted);
    # a trial whose last checkpoint landed just before the kill may be restored from it there
    ran_on_workers = set().union(*(set(resumed["node_trials"][w]) for w in WORKERS))
    board = read_parquet(resolve(f"{RUN}/leaderboard.parquet"))
    assert len(board) == TRIALS and board["trial_id"].nunique() == TRIALS
    assert (board["status"] == "ok").all(), board[["status", "reason"]]
    assert killed["finished"] <= set(board["trial_id"])  # kept, not rerun under a new id
    assert ran_on_workers and ran_on_workers <= set(board["trial_id"])
    assert all(path.startswith(f"{RUN}/sweep/") for path in board["checkpoint_path"])
    keys = set(_keys(s3, "runs/exp1/"))
    for name in ("config.json", "transform.json", "curves.parquet", "ensemble/manifest.json"):
        assert f"runs/exp1/{name}" in keys, sorted(keys)[:20]
    assert any(k.startswith("runs/exp1/sweep/experiment_state") for k in keys)


def test_the_streamed_path_reads_the_prefix_through_ray_data_on_the_workers(bucket_run):
    expected = read_frame(None)
    assert bucket_run["resumed"]["store"] == {
        "series": sorted(expected["unique_id"].unique()),
        "rows": len(expected),
    }


def test_a_fresh_process_forecasts_from_the_bucket(bucket_run):
    predict = bucket_run["predict"]
    assert predict.returncode == 0, predict.stderr[-3000:]
    forecast = read_parquet(resolve(f"{RUN}/forecast.parquet"))
    assert forecast["unique_id"].nunique() == 8 and len(forecast) == 16  # 8 series x horizon 2
    assert forecast["mean"].notna().all()


def test_no_credential_is_written_or_printed(s3, bucket_run):
    access, secret = s3.writer
    for key in _keys(s3, "runs/exp1/"):
        if key.endswith((".parquet", ".json", ".pkl", ".csv")) or "/ensemble/" in key:
            body = s3.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
            assert access.encode() not in body and secret.encode() not in body, key
    assert access not in bucket_run["logs"] and secret not in bucket_run["logs"]


def test_a_tampered_object_in_the_bucket_is_refused(s3, bucket_run):
    key = "runs/exp1/ensemble/members/0/model.pt"
    body = bytearray(s3.client().get_object(Bucket=BUCKET, Key=key)["Body"].read())
    body[-1] ^= 0xFF
    s3.client().put_object(Bucket=BUCKET, Key=key, Body=bytes(body))
    from foretune.ensemble import Ensemble

    with pytest.raises(ArtifactError, match=r"members/0/model.pt in s3://.*does not match its checksum"):
        Ensemble.load(f"{RUN}/ensemble")


def test_storage_problems_are_named_before_any_work(s3, tmp_path, capsys, monkeypatch):
    from foretune.cli import main

    args = ["sweep", "--config", str(_tiny_yaml(tmp_path)), "--num-cpus", "1"]
    assert main([*args, "--out", "xyz://bucket/run"]) == 2
    assert "cannot open xyz://bucket/run" in capsys.readouterr().err
    assert main([*args, "--out", "s3://no-such-bucket/run"]) == 2
    assert "bucket 'no-such-bucket' does not exist" in capsys.readouterr().err
    with pytest.raises(StorageError, match="credentials in the URI") as info:
        check_run_dir("s3://AKIDEXAMPLE:hunter2@bucket/run", overwrite=False, hint="")
    assert "hunter2" not in str(info.value)
    s3.enforce_auth(True)
    try:
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3.reader[0])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.reader[1])
        assert main([*args, "--out", f"s3://{BUCKET}/denied"]) == 2
        err = capsys.readouterr().err
        assert "access denied" in err and "s3:PutObject" in err, err
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        assert main([*args, "--out", f"s3://{BUCKET}/anonymous"]) == 2
        assert "no AWS credentials were found" in capsys.readouterr().err
    finally:
        s3.enforce_auth(False)
    assert not _keys(s3, "denied") and not _keys(s3, "anonymous")  # nothing was written


def _tiny_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump({"models": ["mlp"], "search": {"trials": 1}}))
    return path
