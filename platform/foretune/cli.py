"""``foretune`` command line: parse, build the config, call one function.

Commands: ``run`` (sweep + ensemble), ``sweep``, ``ensemble --run DIR``,
``predict --model DIR --data PATH``, ``evaluate``, ``explain``, ``bench``; each calls one
function of ``foretune.commands``. A ``ForetuneError`` (a problem the user can fix) prints one
line and exits 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from foretune.errors import ForetuneError


def experiment_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Flags shared by ``run``, ``sweep`` and ``jobs/sweep.py``; they override the config."""
    parser.add_argument("--config", help="experiment YAML (default: configs/quickstart.yaml)")
    parser.add_argument("--data", help="Parquet file or directory (long or wide format)")
    parser.add_argument("--horizon", type=int, help="forecast steps")
    parser.add_argument("--freq", help="frequency of every series, e.g. 30min, MS or an integer step")
    parser.add_argument("--season", type=int, help="seasonal period (default: from the frequency)")
    parser.add_argument(
        "--fill",
        choices=["none", "ffill", "interpolate", "zero"],
        help="gaps and missing y (default none: an error naming the series and time stamp)",
    )
    parser.add_argument("--models", help="comma-separated architectures, e.g. lstm,tcn")
    parser.add_argument("--trials", type=int, help="number of trials")
    parser.add_argument("--time-budget", type=float, help="stop the sweep after SECONDS")
    parser.add_argument("--seed", type=int, help="seed for splits, init, sampling and search")
    parser.add_argument("--out", help="run directory (default runs/<name>-<time>)")
    parser.add_argument("--num-cpus", type=int, help="CPUs of the local Ray instance")
    parser.add_argument(
        "--streaming",
        choices=["auto", "on", "off"],
        help="stream the data through Ray Data instead of memory (default: auto, by size)",
    )
    parser.add_argument(
        "--resume", metavar="DIR", help="continue the interrupted experiment in run directory DIR"
    )
    return parser


def config_from_args(args: argparse.Namespace):
    """The experiment config: YAML (or the quickstart) with the flags applied on top."""
    from foretune.config import ExperimentConfig

    overrides: dict[str, Any] = {
        "data.path": _data_path(args.data),
        "data.horizon": args.horizon,
        "data.freq": int(args.freq) if args.freq and args.freq.isdigit() else args.freq,
        "data.season": args.season,
        "data.fill": args.fill,
        "models": args.models.split(",") if args.models else None,
        "search.trials": args.trials,
        "search.time_budget_s": args.time_budget,
        "seed": args.seed,
        "out": args.out,
        "data.streaming": args.streaming,
    }
    return ExperimentConfig.from_yaml(args.config, overrides)


def _data_path(data: str | None) -> str | None:
    """Local paths become absolute (trials run elsewhere); URIs (s3://, gs://) pass through."""
    if data is None or "://" in data:
        return data
    return str(Path(data).resolve())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="foretune", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    experiment_parser(commands.add_parser("run", help="sweep, then build the ensemble"))
    experiment_parser(commands.add_parser("sweep", help="sweep and write the leaderboard"))
    ens = commands.add_parser("ensemble", help="build the ensemble of a finished sweep")
    ens.add_argument("--run", required=True, help="run directory of the sweep")
    pred = commands.add_parser("predict", help="forecast with a saved ensemble")
    pred.add_argument("--model", required=True, help="ensemble directory (RUN/ensemble)")
    pred.add_argument("--data", required=True, help="Parquet with each series' history")
    pred.add_argument("--horizon", type=int)
    pred.add_argument("--samples", type=int, help="MC-dropout samples per member")
    pred.add_argument("--out", help="write the forecast to this Parquet file")
    ev = commands.add_parser("evaluate", help="rolling-origin backtest against baselines + report")
    ev.add_argument("--model", required=True, help="ensemble directory (RUN/ensemble)")
    ev.add_argument("--data", required=True, help="Parquet with the series to backtest on")
    ev.add_argument("--horizon", type=int)
    ev.add_argument("--windows", type=int, default=3, help="rolling-origin windows")
    ev.add_argument("--out", help="output directory (default: next to the model)")
    ex = commands.add_parser("explain", help="integrated-gradients attributions")
    ex.add_argument("--model", required=True, help="ensemble directory (RUN/ensemble)")
    ex.add_argument("--data", required=True, help="Parquet with each series' history")
    ex.add_argument("--series", nargs="*", help="series ids (default: all)")
    ex.add_argument("--step", type=int, default=1, help="horizon step to explain (1-based)")
    ex.add_argument("--target", choices=["forecast", "direction"], default="forecast")
    ex.add_argument("--baseline", choices=["zeros", "mean"], default="zeros")
    ex.add_argument("--out", help="output directory (default: next to the model)")
    bench = commands.add_parser("bench", help="seconds per epoch of every architecture")
    bench.add_argument("--json", help="also write the results as JSON to this path")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except ForetuneError as exc:  # a problem the user can fix: one line; bugs keep their trace
        print(f"foretune: error: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command in ("run", "sweep"):
        from foretune.commands import run as commands

        if args.resume:
            run_dir = Path(args.resume).resolve()
            config = commands.resumed_config(run_dir)
        else:
            config = config_from_args(args)
            run_dir = commands.default_run_dir(config)
        command = commands.run if args.command == "run" else commands.sweep
        command(config, run_dir, num_cpus=args.num_cpus, resume=bool(args.resume))
    elif args.command == "ensemble":
        from foretune.commands.run import ensemble

        ensemble(Path(args.run).resolve())
    elif args.command == "predict":
        from foretune.commands.predict import predict

        predict(args.model, args.data, horizon=args.horizon, samples=args.samples, out=args.out)
    elif args.command == "evaluate":
        from foretune.commands.evaluate import evaluate_command

        evaluate_command(
            model=args.model, data=args.data, horizon=args.horizon, windows=args.windows, out=args.out
        )
    elif args.command == "explain":
        from foretune.commands.explain import explain_command

        explain_command(
            model=args.model,
            data=args.data,
            series=args.series,
            step=args.step,
            target=args.target,
            baseline=args.baseline,
            out=args.out,
        )
    elif args.command == "bench":
        from foretune.commands.bench import run_bench

        run_bench(json_path=args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
