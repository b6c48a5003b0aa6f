"""No write is ever torn: processes killed (SIGKILL) at random moments while they save leave the
old whole file or artifact, the new one, or a clean refusal; never half of one.

Each kill forks this test process (everything already imported, so a child starts in
milliseconds), lets the child save in a loop, and kills it after a random delay.
"""

from __future__ import annotations

import os
import random
import signal
import time

import numpy as np
import pandas as pd
import pytest
from tiny_artifact import tiny_ensemble

from foretune.ensemble import ArtifactError, Ensemble
from foretune.storage import write_atomic, write_frame

# The kills need os.fork (a child killed with SIGKILL mid-save), which only POSIX systems have;
# on Linux and macOS, CI's machines among them, every test here runs.
pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork"), reason="kills a forked child mid-save: os.fork and SIGKILL exist on POSIX only"
)
KILLS = 40


def _kill_while(save, delays: list[float]) -> None:
    """Fork a child that calls ``save(i)`` for i = 0, 1, ... until it is killed after each delay."""
    for delay in delays:
        pid = os.fork()
        if pid == 0:  # the child: save forever
            try:
                i = 0
                while True:
                    save(i)
                    i += 1
            finally:
                os._exit(0)
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        yield


def test_an_ensemble_killed_while_saving_loads_whole_or_is_refused(tmp_path):
    versions = [tiny_ensemble(architectures=("mlp", "lstm")), tiny_ensemble(architectures=("mlp",))]
    for v, weight in zip(versions, (0.25, 1.0), strict=True):
        v.members[0].weight = weight  # tell the two apart after loading
    target = tmp_path / "ensemble"
    started = time.perf_counter()
    versions[0].save(target)
    save_seconds = time.perf_counter() - started
    rng = random.Random(0)
    delays = [rng.uniform(0, 4 * save_seconds) for _ in range(KILLS)]
    outcomes = {"loaded": 0, "refused": 0, "midway": 0}
    for _ in _kill_while(lambda i: versions[i % 2].save(target), delays):
        outcomes["midway"] += any(p.name.startswith(".ensemble-staging-") for p in tmp_path.iterdir())
        try:
            loaded = Ensemble.load(target)
        except ArtifactError as exc:  # only ever the clean refusal of a missing artifact
            assert "interrupted" in str(exc) or "does not exist" in str(exc), exc
            outcomes["refused"] += 1
            continue
        weight = loaded.members[0].weight
        assert weight in (0.25, 1.0)
        assert len(loaded.members) == (2 if weight == 0.25 else 1)  # a whole artifact
        outcomes["loaded"] += 1
    assert outcomes["loaded"] > KILLS // 2 and outcomes["midway"] > KILLS // 4, outcomes
    versions[1].save(target)  # a save after the kills clears what they left
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["ensemble"], left
    assert Ensemble.load(target).members[0].weight == 1.0


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".json"])
def test_a_file_killed_while_written_is_the_old_or_the_new_one(tmp_path, suffix):
    frames = [
        pd.DataFrame({"unique_id": ["a"] * n, "y": np.arange(n, dtype=float)}) for n in (20_000, 40_000)
    ]
    texts = [f.to_json() for f in frames]
    target = tmp_path / f"out{suffix}"

    def save(i: int) -> None:
        if suffix == ".json":
            write_atomic(target, texts[i % 2])
        else:
            write_frame(frames[i % 2], target)

    save(0)
    rng = random.Random(1)
    for _ in _kill_while(save, [rng.uniform(0, 0.05) for _ in range(KILLS)]):
        if suffix == ".json":
            assert target.read_text() in texts
        else:
            read = pd.read_parquet(target) if suffix == ".parquet" else pd.read_csv(target)
            assert any(read.equals(f) for f in frames)
    save(1)  # a write after the kills clears the temporary files they left
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
