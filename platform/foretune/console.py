"""How much foretune prints (``quiet``, ``normal``, ``verbose``) and its progress bars.

    with verbosity("quiet"):            # CLI --quiet, Foretune(verbosity="quiet")
        ...                             # stdout swallowed, warnings and Ray's logs muted
    for member in progress(members, desc="MC draws", unit="member"):
        ...                             # a tqdm bar on a terminal or in a notebook
    trials = bar(total=16, desc="sweep", unit="trial")   # a bar to update by hand, or None
    summary_text("Ensemble", rows); summary_html("Ensemble", rows)   # an object's notebook view

``normal`` prints foretune's own lines: the sweep's per-trial lines and heartbeat, summaries,
and tqdm bars for the sweep's trials, the ensemble's MC draws, backtests and the streamed store
build. ``quiet``
prints nothing but errors (a ``ForetuneError`` still reaches stderr). ``verbose`` adds Ray
Tune's own progress reporter and the trials' own output. Bars are drawn only where someone sees
them: stderr is a terminal or a Jupyter kernel, and never when quiet. The level is a process
setting of the driver (trials report through Tune, so they need none).
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

QUIET, NORMAL, VERBOSE = "quiet", "normal", "verbose"
LEVELS = (QUIET, NORMAL, VERBOSE)
_level = NORMAL
T = TypeVar("T")


def current() -> str:
    """The verbosity in force: ``quiet``, ``normal`` or ``verbose``."""
    return _level


def is_quiet() -> bool:
    return _level == QUIET


def is_verbose() -> bool:
    return _level == VERBOSE


@contextlib.contextmanager
def verbosity(level: str) -> Iterator[None]:
    """Run the block at ``level``; ``quiet`` also sends stdout to nowhere and mutes warnings and
    Ray's and Optuna's log records below ERROR. The previous level is restored afterwards."""
    global _level
    if level not in LEVELS:
        raise ValueError(f"verbosity must be one of {', '.join(LEVELS)}, got {level!r}")
    before = _level
    _level = level
    try:
        if level != QUIET:
            yield
            return
        loggers = [logging.getLogger(name) for name in ("ray", "optuna")]
        levels = [lg.level for lg in loggers]
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for lg in loggers:
                lg.setLevel(logging.ERROR)
            try:
                yield
            finally:
                for lg, old in zip(loggers, levels, strict=True):
                    lg.setLevel(old)
    finally:
        _level = before


def bars_enabled() -> bool:
    """Progress bars are drawn: not quiet, and stderr is a terminal or a Jupyter kernel's."""
    if _level == QUIET:
        return False
    stream = sys.stderr
    if type(stream).__module__.startswith("ipykernel"):
        return True
    return bool(getattr(stream, "isatty", lambda: False)())


def bar(total: int, *, desc: str, unit: str = "it") -> Any:
    """A tqdm bar of ``total`` steps (``tqdm.auto``: a widget in a notebook) that stays when done,
    to ``update`` by hand, when bars are enabled (``bars_enabled``); else None. Lines printed
    while it shows go through its ``write`` so that they do not tear it."""
    if not bars_enabled():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=True, dynamic_ncols=True)


def progress(iterable: Iterable[T], *, desc: str, unit: str = "it", total: int | None = None) -> Iterable[T]:
    """``iterable`` behind a tqdm bar (``tqdm.auto``: a widget in a notebook) when bars are
    enabled (``bars_enabled``), else ``iterable`` itself. The bar disappears when done."""
    if not bars_enabled():
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, unit=unit, total=total, leave=False, dynamic_ncols=True)


def summary_text(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """An object's plain-text summary (its ``__repr__``): ``title`` then one ``label: value``
    line per row."""
    width = max((len(label) for label, _ in rows), default=0)
    return "\n".join([title, *(f"  {label.ljust(width)}  {value}" for label, value in rows)])


def summary_html(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """The same summary as a small HTML table, what a notebook shows (``_repr_html_``)."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(label)}</th>"
        f"<td style='text-align:left'>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    return f"<div><strong>{html.escape(title)}</strong><table>{body}</table></div>"
