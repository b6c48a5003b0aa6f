"""``foretune`` command line: parse, build the config, call one function.

Commands: ``run`` (sweep + ensemble), ``sweep``, ``ensemble --run DIR``,
``predict --model DIR --data PATH``, ``evaluate``, ``explain``, ``bench``; each calls one
function of ``foretune.commands``. Arguments are checked before any work starts: no flag naming a
location may hold credentials (``storage.check_uri``); ``--out`` of a run must be new or empty
unless ``--resume``/``--overwrite``; ``predict --out`` is a new ``.parquet``/``.csv`` file (or
``--overwrite``) that is none of the inputs; numbers follow ``foretune.arguments``. ``--quiet``
prints nothing but errors, ``--verbose`` adds Ray Tune's reporter (``foretune.console``). A
``ForetuneError`` (a problem the user can fix) prints one line (any URI in it redacted) and exits
2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from foretune import __version__, arguments
from foretune.errors import ForetuneError

DESCRIPTION = """\
foretune searches, trains and ensembles deep-learning forecasters for a panel of time series
(Ray Tune + Optuna + PyTorch, on one machine or a Ray cluster) and forecasts every series with
calibrated intervals and up/flat/down probabilities."""

EPILOG = """\
examples:
  foretune run                                  the quickstart: the built-in data, about a minute
  foretune run --data panel.parquet --horizon 12 --models lstm,tcn --trials 16 --out runs/exp1
  foretune run --set train.max_epochs=5 --set search.windows=[8,16]
  foretune predict --model runs/exp1/ensemble --data panel.parquet --out forecast.parquet

`foretune COMMAND --help` lists a command's flags; any config key can be set with --set."""


class _HelpWithArchitectures(argparse.Action):
    """``--help`` that also lists the architectures, imported only when the help is shown
    (``foretune.models`` imports torch, which a plain command line should not pay for)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from foretune.models import ARCHITECTURES

        listed = "architectures (--models): " + ", ".join(ARCHITECTURES)
        parser.epilog = f"{parser.epilog}\n\n{listed}" if parser.epilog else listed
        parser.print_help()
        parser.exit()


def _add_help(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("-h", "--help", action=_HelpWithArchitectures, help="show this help and exit")
    return parser


def _add_output_flags(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``--quiet`` / ``--verbose`` (``foretune.console``), on every command."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "-q", "--quiet", action="store_true", help="print nothing but errors (no progress, no summaries)"
    )
    group.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show Ray Tune's own progress reporter and the trials' output",
    )
    return parser


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
    parser.add_argument(
        "--out", help="run directory, new or empty (default runs/<name>-<time>); see --overwrite"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the run already in --out (what it wrote is removed first)",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        metavar="KEY=VALUE",
        help="set any config key, repeatable; the value is YAML: --set train.max_epochs=5 "
        "--set search.windows=[8,16] (the named flags win over --set)",
    )
    parser.add_argument(
        "--num-cpus",
        type=arguments.flag(arguments.count, "--num-cpus"),
        help="CPUs of the local Ray instance",
    )
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
    """The experiment config: YAML (or the quickstart), then ``--set``, then the named flags."""
    from foretune.config import experiment_config, parse_settings

    settings = parse_settings(getattr(args, "settings", None))
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
    flags = {key: value for key, value in overrides.items() if value is not None}
    return experiment_config(args.config, settings, flags)


def _data_path(data: str | None) -> str | None:
    """Local paths become absolute (trials run elsewhere); URIs (s3://, gs://) pass through."""
    if data is None or "://" in data:
        return data
    return str(Path(data).resolve())


def _predict_parser(pred: argparse.ArgumentParser) -> None:
    """``foretune predict``'s flags."""
    pred.add_argument("--model", required=True, help="ensemble directory (RUN/ensemble)")
    pred.add_argument("--data", required=True, help="Parquet with each series' history")
    pred.add_argument("--horizon", type=arguments.flag(arguments.count, "--horizon"))
    pred.add_argument(
        "--samples",
        type=arguments.flag(arguments.samples, "--samples"),
        help="MC-dropout samples per member (>= 1)",
    )
    pred.add_argument("--out", help="write the forecast to this .parquet or .csv file (default: print it)")
    pred.add_argument("--overwrite", action="store_true", help="replace the file --out names if it exists")
    pred.add_argument(
        "--futr", help="Parquet/CSV of future-known covariates (unique_id, ds, ...) for the horizon"
    )
    pred.add_argument("--static", help="Parquet/CSV of static attributes of series the run did not see")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="foretune",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    _add_help(parser)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, title="commands", metavar="COMMAND")
    for name, help_ in (
        ("run", "sweep, then build the ensemble and the backtest report (the main job)"),
        ("sweep", "sweep and write the leaderboard"),
    ):
        experiment_parser(_add_help(commands.add_parser(name, help=help_, description=help_, add_help=False)))
    ens = commands.add_parser("ensemble", help="build the ensemble of a finished sweep")
    ens.add_argument("--run", required=True, help="run directory of the sweep")
    _predict_parser(commands.add_parser("predict", help="forecast with a saved ensemble"))
    ev = commands.add_parser("evaluate", help="rolling-origin backtest against baselines + report")
    ev.add_argument("--model", required=True, help="ensemble directory (RUN/ensemble)")
    ev.add_argument("--data", required=True, help="Parquet with the series to backtest on")
    ev.add_argument("--horizon", type=arguments.flag(arguments.count, "--horizon"))
    ev.add_argument(
        "--windows",
        type=arguments.flag(arguments.count, "--windows"),
        default=3,
        help="rolling-origin windows",
    )
    ev.add_argument("--out", help="output directory (default: next to the model)")
    ex = commands.add_parser("explain", help="integrated-gradients attributions")
    ex.add_argument("--model", required=True, help="ensemble directory (RUN/ensemble)")
    ex.add_argument("--data", required=True, help="Parquet with each series' history")
    ex.add_argument("--series", nargs="*", help="series ids (default: all)")
    ex.add_argument(
        "--step",
        type=arguments.flag(arguments.count, "--step"),
        default=1,
        help="horizon step to explain (1-based)",
    )
    ex.add_argument("--target", choices=["forecast", "direction"], default="forecast")
    ex.add_argument("--baseline", choices=["zeros", "mean"], default="zeros")
    ex.add_argument("--out", help="output directory (default: next to the model)")
    ex.add_argument("--futr", help="Parquet/CSV of future-known covariates for the horizon")
    bench = commands.add_parser("bench", help="seconds per epoch of every architecture")
    bench.add_argument("--json", help="also write the results as JSON to this path")
    for sub in commands.choices.values():
        _add_output_flags(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from foretune import console
    from foretune.storage.secrets import scrub

    args = build_parser().parse_args(argv)
    level = console.QUIET if args.quiet else console.VERBOSE if args.verbose else console.NORMAL
    try:
        with console.verbosity(level):
            return _dispatch(args)
    except ForetuneError as exc:  # a problem the user can fix: one line; bugs keep their trace
        print(f"foretune: error: {scrub(str(exc))}", file=sys.stderr)  # scrub: no URI's credentials
        return 2


#: Flags that name a file, a directory or a URI: none may carry credentials.
LOCATION_FLAGS = ("config", "data", "out", "resume", "model", "futr", "static", "run", "json")


def _dispatch(args: argparse.Namespace) -> int:
    from foretune.storage import check_uri, resolve

    for name in LOCATION_FLAGS:  # before anything is read, written or reached over the network
        if getattr(args, name, None) is not None:
            check_uri(getattr(args, name), f"--{name}")

    if args.command in ("run", "sweep"):
        from foretune.commands import run as commands

        if args.resume:
            run_dir = resolve(args.resume)
            config = commands.resumed_config(run_dir)
        else:
            config = config_from_args(args)
            run_dir = commands.default_run_dir(config)
            _check_out(run_dir, overwrite=args.overwrite)
        command = commands.run if args.command == "run" else commands.sweep
        command(config, run_dir, num_cpus=args.num_cpus, resume=bool(args.resume))
    elif args.command == "ensemble":
        from foretune.commands.run import ensemble

        ensemble(resolve(args.run))
    elif args.command == "predict":
        from foretune.commands.predict import predict

        predict(
            args.model,
            args.data,
            horizon=args.horizon,
            samples=args.samples,
            out=args.out,
            futr=args.futr,
            static=args.static,
            overwrite=args.overwrite,
        )
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
            futr_df=args.futr,
        )
    elif args.command == "bench":
        from foretune.commands.bench import run_bench

        run_bench(json_path=args.json)
    return 0


def _check_out(run_dir: Path, overwrite: bool) -> None:
    """``--out`` must be new or empty, unless ``--overwrite`` (then the earlier run is removed)."""
    from foretune.rundir import check_run_dir, clear_run_outputs

    hint = f"continue the run in it with `--resume {run_dir}`, or replace it with --overwrite"
    check_run_dir(run_dir, overwrite=overwrite, hint=hint, label="--out")
    if overwrite and run_dir.is_dir():
        clear_run_outputs(run_dir)


if __name__ == "__main__":
    sys.exit(main())
