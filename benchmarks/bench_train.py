"""Seconds per training epoch of the eight architectures: ``foretune bench`` with more knobs.

Run from the repository root: ``PYTHONPATH=platform python benchmarks/bench_train.py``
(``--json out.json``, ``--models mlp lstm``, ``--repeats 7``, ``--compile`` to add a
``torch.compile`` column; compiling takes from seconds to minutes per model on CPU).
What is measured and how: see ``foretune.bench``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    from foretune.commands.bench import run_bench
except ImportError:  # run without PYTHONPATH=platform
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
    from foretune.commands.bench import run_bench


def build_parser() -> argparse.ArgumentParser:
    """The command line, built without running anything (tests/test_docs.py parses the
    commands the docs show with it)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the results as JSON to this path")
    parser.add_argument("--models", nargs="+", help="architectures (default: all eight)")
    parser.add_argument("--repeats", type=int, default=5, help="timed epochs per loop")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run_bench(args.json, names=args.models, repeats=args.repeats, compile=args.compile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
