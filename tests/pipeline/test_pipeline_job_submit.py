"""`ray job submit -- python jobs/sweep.py` against a real `ray start --head` cluster (loopback)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def head_node():
    """A separate Ray head (its own GCS port, dashboard on 127.0.0.1), stopped afterwards."""
    dashboard = _free_port()
    # Ray's unix sockets live under --temp-dir; pytest's tmp_path is too long for AF_UNIX.
    temp_dir = tempfile.mkdtemp(prefix="ft-ray-", dir="/tmp")
    # Ray 2.60's `ray start --block` drains its node for up to 30 s on SIGTERM (for Serve
    # replicas to move away); nothing here needs that, so the head shuts down at once.
    env = {**os.environ, "RAY_AUTH_MODE": "disabled", "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
    env.pop("RAY_ADDRESS", None)
    ray_bin = Path(sys.executable).with_name("ray")
    process = subprocess.Popen(
        [
            str(ray_bin),
            "start",
            "--head",
            "--block",
            "--num-cpus=2",
            f"--port={_free_port()}",
            "--node-ip-address=127.0.0.1",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={dashboard}",
            # the test session's own Ray already holds the agent's default port 52365
            f"--dashboard-agent-listen-port={_free_port()}",
            f"--temp-dir={temp_dir}",
            "--disable-usage-stats",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    address = f"http://127.0.0.1:{dashboard}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{address}/api/version", timeout=2)
            break
        except OSError:
            time.sleep(1)
    else:
        os.killpg(process.pid, signal.SIGTERM)
        pytest.fail("ray start --head did not bring up the job server within 120 s")
    yield address, env
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_job_submit_runs_the_sweep_on_that_cluster(head_node, tmp_path):
    address, env = head_node
    out = tmp_path / "run"
    ray_bin = Path(sys.executable).with_name("ray")
    for _ in range(10):  # the job agent may start a few seconds after the dashboard answers
        result = subprocess.run(
            [
                str(ray_bin),
                "job",
                "submit",
                "--address",
                address,
                "--working-dir",
                ".",
                "--",
                "python",
                "jobs/sweep.py",
                "--models",
                "mlp",
                "--trials",
                "2",
                "--horizon",
                "2",
                "--out",
                str(out),
                # where the job runs is the point; `run`'s report and refit are tested locally
                # (tests/evaluate/test_evaluate_backtest.py, tests/pipeline/test_pipeline_cli.py)
                "--set",
                "train.max_epochs=2",
                "--set",
                "ensemble.samples=8",
                "--set",
                "evaluate.refit_full=false",
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if "No available agent" not in result.stdout + result.stderr:
            break
        time.sleep(3)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "succeeded" in (result.stdout + result.stderr)
    board = pd.read_parquet(out / "leaderboard.parquet")
    assert len(board) == 2
    assert (out / "ensemble" / "manifest.json").is_file()
    # the job connected to the submitted-to cluster instead of starting its own
    assert "Started a local Ray instance" not in result.stdout + result.stderr
