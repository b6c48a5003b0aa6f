"""Where ``foretune run``'s wall clock goes: the sweep against everything after it.

Run from the repository root (about 10-30 minutes per panel on 2 shared CPU cores)::

    python benchmarks/run_stages.py                              # the three timing panels
    python benchmarks/run_stages.py --datasets business_1400     # one of them
    python benchmarks/run_stages.py --datasets business_14000    # the memory check (longer)
    python benchmarks/run_stages.py --doc docs/benchmarks.md     # also rewrite its block there

Each panel runs ``foretune run`` (``foretune.commands.run.run``: sweep, ensemble build, the
backtest report on the held-out tail, the served ensemble refit on all the data) with the
packaged quickstart configuration (``configs/quickstart.yaml``: 8 trials), changing only the data
path and the horizon, and prints the seconds of every stage the run recorded in
``RUN/timings.json`` with its share of the run's wall clock, and the memory it took: the
driver's peak resident set (this process: the data, the ensemble build, the report and the
refit; Ray's trial workers are other processes) and the machine's peak memory in use (every
process, other jobs included), sampled every half second. The target: everything after the
sweep under 25% of the run.

Panels (real data shipped inside installed packages; nothing is downloaded):

- ``italy_power``: aeon's ``ItalyPowerDemand`` (TRAIN + TEST): 1,096 daily Italian electricity
  load curves of 24 hourly points (each z-normalised by the archive), each taken as an hourly
  series; horizon 4, ``data.season: 1`` and lookbacks ``search.windows: [4, 8, 12]`` (the
  hourly season, 24, is the whole series: the default lookbacks are its multiples and the
  report's seasonal naive needs a season of history before its first origin, more than a
  24-point series can give after the held-out tail).
- ``m1_yearly``: the M1 competition's 181 yearly series (``benchmarks/accuracy.py``); horizon 6.
- ``business_1400``: 1,400 synthetic monthly series shaped like a business panel
  (``foretune.data.synthetic.business_panel``: 48-144 months with trend and a yearly season, 5%
  shorter and 10% ending up to a year early); horizon 18.
- ``business_14000``: the same panel with 14,000 series, run end to end in memory; a memory
  check, so with 2 trials of 1 epoch (the sweep's length does not change what the stages after
  it hold in memory).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
try:
    import foretune  # noqa: F401
except ImportError:  # run without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))

os.environ.setdefault("RAY_AUTH_MODE", "disabled")

TARGET = 0.25  # the stages after the sweep, as a share of the run's wall clock
START, END = "<!-- run-stages:start -->", "<!-- run-stages:end -->"


def italy_power() -> pd.DataFrame:
    """ItalyPowerDemand's 1,096 daily load curves as hourly series of 24 points."""
    frames = []
    for part in ("TRAIN", "TEST"):
        path = resources.files("aeon").joinpath(
            "datasets", "data", "ItalyPowerDemand", f"ItalyPowerDemand_{part}.ts"
        )
        lines = [
            ln for ln in Path(str(path)).read_text().splitlines() if ln and not ln.startswith(("@", "#"))
        ]
        for i, line in enumerate(lines):
            y = np.array(line.split(":")[0].split(","), dtype=np.float64)  # the class label follows ':'
            ds = pd.date_range("2020-01-01", periods=len(y), freq="h")
            frames.append(pd.DataFrame({"unique_id": f"{part.lower()}_{i:04d}", "ds": ds, "y": y}))
    return pd.concat(frames, ignore_index=True)


def m1_yearly() -> pd.DataFrame:
    from accuracy import m1_yearly as load

    return load()


def business(series: int) -> Callable[[], pd.DataFrame]:
    def load() -> pd.DataFrame:
        from foretune.data.synthetic import business_panel

        return business_panel(series)

    return load


@dataclass(frozen=True)
class Panel:
    loader: Callable[[], pd.DataFrame]
    horizon: int
    settings: dict = field(default_factory=dict)  # config keys the panel needs beside the defaults


PANELS = {
    "italy_power": Panel(italy_power, 4, {"data.season": 1, "search.windows": [4, 8, 12]}),
    "m1_yearly": Panel(m1_yearly, 6),
    "business_1400": Panel(business(1400), 18),
    "business_14000": Panel(business(14000), 18, {"search.trials": 2, "train.max_epochs": 1}),
}
#: What ``main`` runs without ``--datasets`` (the memory check only when asked).
DEFAULT = ("italy_power", "m1_yearly", "business_1400")
GIB = 1 << 30


class Memory:
    """Peak memory during a block: this process's resident set (``VmHWM``, reset at the start
    where Linux allows it) and the machine's memory in use (``MemTotal - MemAvailable``,
    sampled every ``every`` seconds)."""

    def __init__(self, every: float = 0.5) -> None:
        self.every, self.machine, self._stop = every, 0, threading.Event()

    def __enter__(self) -> Memory:
        try:  # "5" resets the peak resident set to the current one (Linux >= 4.0)
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.machine = max(self.machine, _in_use())
            self._stop.wait(self.every)

    @property
    def driver(self) -> int:
        """This process's peak resident set in bytes."""
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _in_use() -> int:
    """The machine's memory in use in bytes (0 where ``/proc/meminfo`` is unreadable)."""
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    except OSError:
        return 0
    return (int(info["MemTotal"].split()[0]) - int(info["MemAvailable"].split()[0])) * 1024


def run_panel(name: str, out: Path, seed: int) -> dict:
    """``foretune run`` on one panel; its timings and the externally measured wall clock."""
    from foretune.commands.run import run
    from foretune.config import experiment_config
    from foretune.rundir import RunDir

    panel = PANELS[name]
    frame = panel.loader()
    run_dir = out / name
    run_dir.mkdir(parents=True, exist_ok=True)
    data_path = out / f"{name}.parquet"
    frame.to_parquet(data_path, index=False)
    settings = {
        "name": f"stages-{name}",
        "seed": seed,
        "data.path": str(data_path),
        "data.horizon": panel.horizon,
        **panel.settings,
    }
    config = experiment_config(None, settings)
    sizes = frame.groupby("unique_id").size()
    print(f"\n=== {name}: {len(sizes)} series, {sizes.min()}-{sizes.max()} points, horizon {panel.horizon}")
    load_before = os.getloadavg()[0]
    with Memory() as memory:
        start = time.perf_counter()
        run(config, run_dir, num_cpus=2)
        wall = time.perf_counter() - start
    timings = json.loads(RunDir(run_dir).timings.read_text())
    result = {
        "panel": name,
        "series": int(len(sizes)),
        "points": f"{sizes.min()}-{sizes.max()}",
        "horizon": panel.horizon,
        "wall": wall,
        "stages": timings["stages"],
        "load": (load_before, os.getloadavg()[0]),
        "driver_peak_gib": memory.driver / GIB,
        "machine_peak_gib": memory.machine / GIB,
        "machine_total_gib": _total() / GIB,
    }
    (run_dir / "stages.json").write_text(json.dumps(result, indent=2))
    return result


def _total() -> int:
    """The machine's memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def table(result: dict, depth: int = 4) -> str:
    """Markdown: every recorded stage down to ``depth`` levels, its seconds and share of the run."""
    wall, stages = result["wall"], result["stages"]
    lines = ["| stage | seconds | share of run |", "|---|---:|---:|"]
    for stage, seconds in stages.items():
        level = stage.count(".")
        if level >= depth:
            continue
        label = ("&nbsp;&nbsp;" * level) + (stage if level == 0 else stage.split(".", level)[-1])
        lines.append(f"| {label} | {seconds:.1f} | {seconds / wall:.1%} |")
    top = {k: v for k, v in stages.items() if "." not in k}
    other = wall - sum(top.values())
    lines.append(f"| other (start-up, printing) | {other:.1f} | {other / wall:.1%} |")
    after = wall - top.get("sweep", 0.0)
    verdict = "meets" if after / wall <= TARGET else "misses"
    lines.append(
        f"| **after the sweep** | **{after:.1f}** | **{after / wall:.1%}** ({verdict} <= {TARGET:.0%}) |"
    )
    lines.append(f"| **run** | **{wall:.1f}** | 100% |")
    if "driver_peak_gib" in result:
        lines.append(
            f"\nMemory: the driver's peak resident set {result['driver_peak_gib']:.2f} GiB; the "
            f"machine's peak memory in use {result['machine_peak_gib']:.1f} of "
            f"{result['machine_total_gib']:.1f} GiB (every process, other jobs included)."
        )
    return "\n".join(lines)


def section(result: dict) -> str:
    load = ", ".join(f"{v:.1f}" for v in result["load"])
    extra = ", ".join(f"{k}={v}" for k, v in PANELS[result["panel"]].settings.items())
    return (
        f"### {result['panel']}: {result['series']:,} series of {result['points']} points, horizon "
        f"{result['horizon']}{f' ({extra})' if extra else ''}; load average before/after: {load} "
        f"on {os.cpu_count()} cores\n\n" + table(result)
    )


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py parses the
    commands the docs show with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=",".join(DEFAULT), help=f"comma-separated, of {list(PANELS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="output directory (default runs/stages-<time>)")
    parser.add_argument(
        "--doc",
        "--readme",
        dest="doc",
        metavar="PATH",
        help="rewrite the run-stages block of this Markdown file (docs/benchmarks.md) with the tables",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in PANELS]
    if unknown:
        parser.error(f"unknown panel(s) {unknown}; choose from {list(PANELS)}")
    out = Path(args.out or f"runs/stages-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    sections = [section(run_panel(name, out, args.seed)) for name in names]
    text = (
        f"Generated by `python benchmarks/run_stages.py` (seed {args.seed}, quickstart defaults: "
        f"{os.cpu_count()} CPUs shared with other jobs, so read the shares, not the seconds).\n\n"
        + "\n\n".join(sections)
        + "\n"
    )
    (out / "run_stages.md").write_text(text)
    print("\n" + text)
    if args.doc:
        from accuracy import write_doc

        text = kept_sections(Path(args.doc), names, text)
        write_doc(Path(args.doc), text, START, END)
        print(f"rewrote the run-stages block of {args.doc}")
    return 0


def kept_sections(doc: Path, names: list[str], text: str) -> str:
    """``text`` followed by the sections of ``doc``'s run-stages block (``docs/benchmarks.md``)
    of the panels not run this time."""
    old = doc.read_text()
    if START not in old:
        return text
    block = old.split(START, 1)[1].split(END, 1)[0]
    kept = [
        "### " + part.strip()
        for part in block.split("\n### ")[1:]
        if part.split(":", 1)[0].strip() in PANELS and part.split(":", 1)[0].strip() not in names
    ]
    if not kept:
        return text
    return text + "\n(kept from an earlier run of the same script:)\n\n" + "\n\n".join(kept) + "\n"


if __name__ == "__main__":
    sys.exit(main())
