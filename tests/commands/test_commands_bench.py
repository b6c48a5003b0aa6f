"""``foretune bench`` internals on one tiny architecture for one repeat (not the full bench)."""

from __future__ import annotations

import json

import torch

from foretune.commands.bench import format_table, run_bench, time_epochs


def test_time_epochs_measures_both_loops():
    row = time_epochs("mlp", "cpu", repeats=1)
    assert row["params"] > 0
    for key in ("s_per_epoch", "bare_s_per_epoch", "bare_fused_s_per_epoch", "wall_s_per_epoch"):
        assert 0 < row[key] < 30, key


def test_run_bench_on_one_model_writes_the_json(tmp_path, capsys):
    threads = torch.get_num_threads()
    out = tmp_path / "bench.json"
    summary = run_bench(out, names=["mlp"], repeats=1)
    assert torch.get_num_threads() == threads  # restored after the one-thread measurement
    saved = json.loads(out.read_text())
    row = saved["models"]["mlp"]
    assert set(row) >= {
        "params",
        "s_per_epoch",
        "bare_s_per_epoch",
        "seed_cpu_s_per_epoch",
        "gpu_s_per_epoch",
    }
    assert row["seed_cpu_s_per_epoch"] == 0.5
    if not torch.cuda.is_available():
        assert row["gpu_s_per_epoch"] == "not measured"
    assert "| mlp |" in capsys.readouterr().out
    assert format_table(summary).count("\n") == 3  # device line, header, rule, one row
