"""The input's columns a run does not use, and why: named once in the run's summary line.

    ignored = ignored_columns(read_columns(path), config.data)   # [("color", "text, ...")]
    print(ignored_text(ignored))   # "ignored column(s): 'color' (text (dtype object): ...)"

A long-format column other than ``unique_id``, ``ds`` and ``y`` is a covariate when
``covariates.data_columns`` picks it (the rule the run itself follows); every other one is ignored:
a column that is not numeric (when ``data.covariates`` is unset), or one that ``data.covariates``
does not list. Wide data has no ignored columns (every column but ``ds`` is a series).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from foretune.errors import ForetuneError

from .covariates import data_columns
from .io import REQUIRED


def ignored_columns(frame: pd.DataFrame, data: Any, static: Sequence[str] = ()) -> list[tuple[str, str]]:
    """``(column, why)`` for each column of long ``frame`` the run with ``data`` (a
    ``DataConfig``) ignores; ``static``: the static attributes' names. Declarations the data
    contradicts are left to the run's own checks (nothing is listed then)."""
    if "y" not in frame.columns and "unique_id" not in frame.columns:
        return []
    try:
        past, future = data_columns(frame, data.covariates, data.future_covariates, static)
    except ForetuneError:
        return []
    used = set(REQUIRED) | set(past) | set(future)
    out = []
    for column in frame.columns:
        if column in used:
            continue
        if column in static:
            why = "a static attribute of the same name comes from data.static_path"
        elif data.covariates is not None:
            why = "not listed in data.covariates"
        else:
            why = (
                f"{_kind(frame[column])}, not a number: covariates must be numeric; encode it as "
                "numbers to use it"
            )
        out.append((str(column), why))
    return out


def _kind(column: pd.Series) -> str:
    if pd.api.types.is_datetime64_any_dtype(column):
        return f"dates (dtype {column.dtype})"
    if pd.api.types.is_string_dtype(column) or column.dtype == object:
        return f"text (dtype {column.dtype})"
    return f"dtype {column.dtype}"


def ignored_text(ignored: list[tuple[str, str]]) -> str:
    """The summary line's part naming the ignored columns ('' when none is)."""
    if not ignored:
        return ""
    return "ignored column(s): " + "; ".join(f"{name!r} ({why})" for name, why in ignored)
