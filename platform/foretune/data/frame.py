"""A validated panel (``SeriesFrame``) and the str key that stands for a series everywhere.

    data = validate(frame)                 # a SeriesFrame
    data.series_ids, data.freqs            # str keys in input order, key -> frequency
    data.id_values["3"]                    # the id as the input held it (e.g. the int 3)
    series_key(3) == series_key(3.0) == "3"

Keys are what every stage after validation uses; ``original_ids`` gives the input's ids back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .calendar import Freq


def series_key(value: Any) -> str:
    """The str key that stands for one ``unique_id`` value everywhere inside foretune.

    Strings are their own key and integers their decimal text; an integral float maps to the
    integer's key (``1.0`` -> ``"1"``: pandas turns an int id column into floats once it holds a
    NaN), so a model trained on int ids recognises them.
    """
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return str(int(number)) if number.is_integer() else str(number)
    return str(value)


@dataclass(frozen=True)
class SeriesFrame:
    """A validated long frame plus what was learned about it.

    ``frame``: ``unique_id`` (str keys), ``ds``, ``y`` and the covariates (float64), sorted by
    series in input order, then time; every series on its regular grid without gaps.
    ``freqs``: key -> frequency, in input order. ``id_values``: key -> the id as the input held
    it; ``id_dtype``: the input's ``unique_id`` dtype (``original_ids`` restores both).
    ``inputs``: how the covariate columns were made (``covariates.InputSpec.to_dict``; empty:
    the data's own columns, past covariates only).
    """

    frame: pd.DataFrame
    covariates: tuple[str, ...]
    freqs: dict[str, Freq]
    id_values: dict[str, Any] = field(default_factory=dict)
    id_dtype: Any = field(default_factory=lambda: np.dtype(object))
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def series_ids(self) -> list[str]:
        """The series' str keys in input order."""
        return list(self.freqs)

    def original_ids(self, keys: Iterable[str]) -> pd.Series:
        """The input's id values for ``keys``, with the input column's dtype where it holds them."""
        values = [self.id_values.get(k, k) for k in keys]
        try:
            return pd.Series(values, dtype=self.id_dtype)
        except (TypeError, ValueError):
            return pd.Series(values, dtype=object)
