"""``foretune bench``: seconds per training epoch of every architecture, beside reference figures.

    results = run_bench(json_path=None)   # prints the table; returns one row per architecture

Each architecture trains at its default hyperparameters on 1,000 synthetic windows (length 20,
one feature, horizon 1, batch 32, Adam at lr 1e-3). Three loops are timed in turn on the same
data: foretune's own epoch (``train.epoch.Trainer.train_epoch``, exactly what ``fit`` runs), a
hand-written PyTorch loop, and that loop with fused Adam (the floor); ``overhead`` is foretune's
time over the floor. A figure is the median of ``repeats`` epochs after a warm-up, as the
thread's CPU time on one CPU thread (wall clock is in the JSON too); with CUDA present the GPU
column is measured as well, else it reads "not measured".
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from foretune import models
from foretune.storage import write_atomic
from foretune.train.epoch import Trainer
from foretune.train.feed import MemoryFeed
from foretune.train.spec import TrainSpec, build_model

SAMPLES, WINDOW, FEATURES, HORIZON, BATCH = 1000, 20, 1, 1, 32
LEARNING_RATE, DIRECTION_WEIGHT = 1e-3, 0.2
#: Reference single-epoch times (seconds), CPU and GPU, that the table compares against.
SEED_CPU = {
    "mlp": 0.5,
    "lstm": 2.5,
    "gru": 1.8,
    "bilstm": 4.0,
    "cnn_lstm": 3.0,
    "tcn": 1.5,
    "transformer": 3.5,
    "attention_lstm": 4.5,
}
SEED_GPU = {
    "mlp": 0.1,
    "lstm": 0.3,
    "gru": 0.2,
    "bilstm": 0.5,
    "cnn_lstm": 0.4,
    "tcn": 0.2,
    "transformer": 0.6,
    "attention_lstm": 0.7,
}
NOT_MEASURED = "not measured"
#: Shortest timed sample: epochs shorter than this are timed k at a time (less timer noise).
MIN_SAMPLE_S = 0.15


def synthetic_windows(n: int = SAMPLES, seed: int = 0) -> tuple[np.ndarray, ...]:
    """``x [n, WINDOW, 1]``, ``y_reg [n, HORIZON]``, ``y_dir [n, HORIZON]`` of a random walk."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n + WINDOW + HORIZON).astype(np.float32)
    x = np.lib.stride_tricks.sliding_window_view(z, WINDOW)[:n, :, None].copy()
    y = np.lib.stride_tricks.sliding_window_view(z[WINDOW:], HORIZON)[:n].copy()
    d = np.where(y > 0.25, 2, np.where(y < -0.25, 0, 1)).astype(np.int64)
    return x, y, d


def bench_spec(name: str, **overrides: Any) -> TrainSpec:
    """The benchmark's ``TrainSpec`` of ``name`` (default hyperparameters, loop defaults, and
    the bare loop's squared-error loss so that both loops compute the same thing)."""
    settings: dict[str, Any] = {"loss": "mse", **overrides}
    return TrainSpec(
        architecture=name,
        hyperparameters=models.default_hyperparameters(name, WINDOW),
        window=WINDOW,
        horizon=HORIZON,
        learning_rate=LEARNING_RATE,
        batch_size=BATCH,
        direction_weight=DIRECTION_WEIGHT,
        seed=0,
        **settings,
    )


class BareLoop:
    """The floor: a plain PyTorch epoch (shuffle, slice, forward, loss, backward, Adam step)."""

    def __init__(
        self,
        model: nn.Module,
        arrays: tuple[np.ndarray, ...],
        device: torch.device,
        fused: bool = False,
    ) -> None:
        self.model = model
        self.x, self.y, self.d = (torch.as_tensor(a, device=device) for a in arrays)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, fused=fused or None)
        self.generator = torch.Generator().manual_seed(0)

    def epoch(self) -> None:
        self.model.train()
        perm = torch.randperm(len(self.x), generator=self.generator).to(self.x.device)
        x, y, d = self.x[perm], self.y[perm], self.d[perm]
        for i in range(0, len(x), BATCH):
            self.optimizer.zero_grad()
            reg, logits = self.model(x[i : i + BATCH])
            loss = nn.functional.mse_loss(reg, y[i : i + BATCH]) + DIRECTION_WEIGHT * (
                nn.functional.cross_entropy(logits.reshape(-1, 3), d[i : i + BATCH].reshape(-1))
            )
            loss.backward()
            self.optimizer.step()


def _trainer(spec: TrainSpec, arrays, device: torch.device) -> Trainer:
    model = build_model(spec, FEATURES).to(device)
    return Trainer(spec, model, model, MemoryFeed(spec, arrays, tuple(a[:1] for a in arrays), device))


def _seconds(fn: Callable[[], Any], device: torch.device) -> tuple[float, float]:
    """(busy seconds, wall seconds) of ``fn()``: on CPU the busy figure is this thread's CPU
    time (all of the work with one intra-op thread, and immune to other processes' load); on
    CUDA both are wall-clock after a synchronize."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, busy = time.perf_counter(), time.thread_time()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        wall = time.perf_counter() - wall
        return wall, wall
    return time.thread_time() - busy, time.perf_counter() - wall


def time_epochs(
    name: str, device: str | torch.device = "cpu", repeats: int = 5, compile: bool = False
) -> dict[str, Any]:
    """Median seconds per epoch of foretune's loop and the bare loop (alternating) for ``name``."""
    device = torch.device(device)
    arrays = synthetic_windows()
    ours = _trainer(bench_spec(name), arrays, device)
    bare = BareLoop(build_model(bench_spec(name), FEATURES).to(device), arrays, device)
    fused = BareLoop(build_model(bench_spec(name), FEATURES).to(device), arrays, device, True)
    loops: dict[str, Callable[[], Any]] = {
        "s_per_epoch": ours.train_epoch,
        "bare_s_per_epoch": bare.epoch,
        "bare_fused_s_per_epoch": fused.epoch,
    }
    out: dict[str, Any] = {"params": sum(p.numel() for p in ours.model.parameters())}
    if compile:
        compiled = _trainer(bench_spec(name, compile=True), arrays, device)
        out["compile_warmup_s"] = _seconds(compiled.train_epoch, device)[1]
        loops["compile_s_per_epoch"] = compiled.train_epoch
    busy: dict[str, list[float]] = {key: [] for key in loops}
    wall: dict[str, list[float]] = {key: [] for key in loops}
    warm = min(_seconds(fn, device)[0] for fn in loops.values())  # allocator, oneDNN, lazy init
    per_sample = max(1, min(20, math.ceil(MIN_SAMPLE_S / max(warm, 1e-6))))  # short epochs: k
    for _ in range(repeats):
        for key, fn in loops.items():
            b, w = _seconds(lambda fn=fn: [fn() for _ in range(per_sample)], device)
            busy[key].append(b / per_sample)
            wall[key].append(w / per_sample)
    out["epochs_per_sample"] = per_sample
    out.update({key: statistics.median(values) for key, values in busy.items()})
    out["wall_s_per_epoch"] = statistics.median(wall["s_per_epoch"])
    out["bare_wall_s_per_epoch"] = statistics.median(wall["bare_s_per_epoch"])
    return out


def run_bench(
    json_path: str | Path | None = None,
    *,
    names: list[str] | None = None,
    repeats: int = 5,
    compile: bool = False,
    echo: bool = True,
) -> dict[str, Any]:
    """Time every architecture on CPU (one thread) and, when present, on CUDA; print a table.

    Returns ``{"device", "threads", "settings", "models": {name: {"params", "s_per_epoch",
    "bare_s_per_epoch", "overhead", "seed_cpu_s_per_epoch", "speedup_vs_seed", "gpu_s_per_epoch",
    "seed_gpu_s_per_epoch"}}}`` and writes it to ``json_path`` when given.
    """
    names = names or models.available()
    cuda = torch.cuda.is_available()
    threads = torch.get_num_threads()
    results: dict[str, Any] = {}
    torch.set_num_threads(1)
    try:
        for name in names:
            cpu = time_epochs(name, "cpu", repeats, compile)
            row = {
                "params": cpu.pop("params"),
                **cpu,
                "overhead": cpu["s_per_epoch"] / cpu["bare_fused_s_per_epoch"] - 1.0,
                "overhead_vs_bare": cpu["s_per_epoch"] / cpu["bare_s_per_epoch"] - 1.0,
                "seed_cpu_s_per_epoch": SEED_CPU.get(name),
                "speedup_vs_seed": SEED_CPU[name] / cpu["s_per_epoch"] if name in SEED_CPU else None,
                "gpu_s_per_epoch": NOT_MEASURED,
                "seed_gpu_s_per_epoch": SEED_GPU.get(name),
            }
            results[name] = row
    finally:
        torch.set_num_threads(threads)
    if cuda:
        for name in names:
            gpu = time_epochs(name, "cuda", repeats)
            results[name]["gpu_s_per_epoch"] = gpu["s_per_epoch"]
            results[name]["gpu_bare_s_per_epoch"] = gpu["bare_s_per_epoch"]
    summary = {
        "device": f"CPU, 1 thread ({_cpu_name()})"
        + (f"; GPU {torch.cuda.get_device_name(0)}" if cuda else "; no CUDA"),
        "torch": torch.__version__,
        "settings": {
            "samples": SAMPLES,
            "window": WINDOW,
            "features": FEATURES,
            "horizon": HORIZON,
            "batch": BATCH,
            "repeats": repeats,
        },
        "models": results,
    }
    if echo:
        print(format_table(summary))
    if json_path:
        write_atomic(Path(json_path), json.dumps(summary, indent=2))
    return summary


def format_table(summary: dict[str, Any]) -> str:
    """The benchmark as a Markdown table (CPU figures: seconds of one core per epoch)."""
    rows = summary["models"]
    compiled = any("compile_s_per_epoch" in r for r in rows.values())
    head = [
        "model",
        "params",
        "foretune s/epoch",
        "bare s/epoch",
        "bare fused-Adam s/epoch",
        "overhead vs fused bare",
        "seed CPU s",
        "vs seed",
        "GPU s/epoch",
        "seed GPU s",
    ]
    if compiled:
        head += ["compiled s/epoch", "compile s"]
    lines = [
        f"device: {summary['device']}; torch {summary['torch']}",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for name, r in rows.items():
        gpu = r["gpu_s_per_epoch"]
        seed = r["seed_cpu_s_per_epoch"]
        cells = [
            name,
            f"{r['params']:,}",
            f"{r['s_per_epoch']:.3f}",
            f"{r['bare_s_per_epoch']:.3f}",
            f"{r['bare_fused_s_per_epoch']:.3f}",
            f"{r['overhead']:+.1%}",
            f"{seed}",
            f"{r['speedup_vs_seed']:.0f}x" if seed else "-",
            gpu if isinstance(gpu, str) else f"{gpu:.4f}",
            f"{r['seed_gpu_s_per_epoch']}",
        ]
        if compiled:
            cells += [
                f"{r.get('compile_s_per_epoch', float('nan')):.3f}",
                f"{r.get('compile_warmup_s', float('nan')):.1f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown CPU"
