"""Seconds per stage: nested names, repeated stages adding up, nothing recorded without a recorder."""

from __future__ import annotations

import json

from foretune.timings import Timings, stage


def test_nested_stages_are_named_under_their_stage_and_repeats_add_up(tmp_path):
    timings = Timings()
    with timings.recording():
        with stage("ensemble"):
            for _ in range(3):
                with stage("draws"):
                    pass
            with stage("selection"):
                pass
        with stage("report"):
            with stage("draws"):
                pass
    assert list(timings.seconds) == [
        "ensemble",
        "ensemble.draws",
        "ensemble.selection",
        "report",
        "report.draws",
    ]
    assert timings.seconds["ensemble"] >= timings.seconds["ensemble.draws"] >= 0.0
    assert set(timings.top()) == {"ensemble", "report"}
    timings.save(tmp_path / "timings.json")
    saved = json.loads((tmp_path / "timings.json").read_text())
    assert saved["stages"] == timings.seconds
    assert saved["total"] == sum(timings.top().values())
    line = timings.summary(after="ensemble")
    assert line.startswith("wall-clock") and "report" in line and "after the ensemble" in line


def test_stage_without_a_recorder_only_runs_its_block():
    ran = []
    with stage("sweep"):
        ran.append(1)
    assert ran == [1]
    timings = Timings()
    with timings.recording():
        pass
    with stage("later"):  # the recorder is no longer active
        pass
    assert timings.seconds == {}
