"""Series identity through validate: ids keep their values, dtype and input order; keys are str."""

import numpy as np
import pandas as pd
import pytest

from foretune.data import DataError, RatioTransform, prepare, validate
from foretune.data.validate import series_key


def _panel(ids, n: int = 12) -> pd.DataFrame:
    """One monthly series per id, in the given order; y encodes the series' position."""
    parts = []
    for i, uid in enumerate(ids):
        ds = pd.date_range("2020-01-01", periods=n, freq="MS")
        parts.append(pd.DataFrame({"unique_id": uid, "ds": ds, "y": 100.0 * (i + 1) + np.arange(n)}))
    return pd.concat(parts, ignore_index=True)


def test_int_ids_keep_their_values_dtype_and_input_order():
    frame = _panel([3, 1, 2])
    assert frame["unique_id"].dtype == np.int64
    data = validate(frame)
    assert data.series_ids == ["3", "1", "2"]
    assert list(data.freqs) == ["3", "1", "2"]
    assert data.id_values == {"3": 3, "1": 1, "2": 2}
    assert all(type(v) is int for v in data.id_values.values())
    assert data.id_dtype == np.int64
    # the frame keys series by str and keeps the input order, then time
    assert data.frame["unique_id"].tolist() == ["3"] * 12 + ["1"] * 12 + ["2"] * 12
    assert data.frame["y"].iloc[[0, 12, 24]].tolist() == [100.0, 200.0, 300.0]
    restored = data.original_ids(["2", "3"])
    assert restored.tolist() == [2, 3] and restored.dtype == np.int64


def test_order_of_first_appearance_when_rows_interleave():
    frame = _panel(["b", "c", "a"]).sort_values(["ds", "unique_id"], kind="stable").reset_index(drop=True)
    assert frame["unique_id"].iloc[:3].tolist() == ["a", "b", "c"]  # ds-major, ids sorted
    data = validate(frame)
    assert data.series_ids == ["a", "b", "c"]
    shuffled = _panel(["b", "c", "a"]).iloc[::-1].reset_index(drop=True)  # last rows first
    data = validate(shuffled)
    assert data.series_ids == ["a", "c", "b"]
    first = data.frame.groupby("unique_id", sort=False)["ds"].first()
    assert (first == pd.Timestamp("2020-01-01")).all()  # each series sorted by time


def test_prepare_indexes_series_in_input_order():
    data = validate(_panel([3, 1, 2], n=30))
    prep = prepare(data, window=4, horizon=2, transform=RatioTransform("log_ratio"))
    assert prep.series_ids == ["3", "1", "2"]
    assert sorted(set(prep.train.series.tolist())) == [0, 1, 2]


def test_integral_float_ids_map_to_the_keys_of_the_ints():
    ints = validate(_panel([3, 1, 2]))
    floats = validate(_panel([3.0, 1.0, 2.0]))
    assert floats.series_ids == ints.series_ids == ["3", "1", "2"]
    assert floats.id_values == {"3": 3.0, "1": 1.0, "2": 2.0}
    assert floats.id_dtype == np.float64
    assert floats.original_ids(["1"]).tolist() == [1.0]
    # an int id column that once held a NaN (the NaN rows dropped since): the same keys
    with_nan = _panel([3, 1, 2])
    with_nan.loc[len(with_nan)] = [np.nan, pd.Timestamp("2021-01-01"), 1.0]
    assert with_nan["unique_id"].dtype == np.float64
    assert validate(with_nan.dropna(subset=["unique_id"])).series_ids == ["3", "1", "2"]


@pytest.mark.parametrize(
    ("value", "key"),
    [
        (1, "1"),
        (np.int64(7), "7"),
        (np.int32(-2), "-2"),
        (1.0, "1"),
        (np.float64(12.0), "12"),
        (np.float32(3.0), "3"),
        (1.5, "1.5"),
        ("007", "007"),
        (np.str_("x"), "x"),
        (True, "True"),
    ],
)
def test_series_key(value, key):
    assert series_key(value) == key
    assert type(series_key(value)) is str


def test_null_ids_are_refused_naming_how_many_rows_and_which():
    frame = _panel(["a", "b"])
    frame["unique_id"] = frame["unique_id"].astype(object)
    frame.loc[[2, 5, 17], "unique_id"] = None
    with pytest.raises(DataError, match=r"column 'unique_id' is empty \(null\) in 3 rows \(first 2, 5, 17\)"):
        validate(frame)
    floats = _panel([1.0, 2.0])
    floats.loc[4, "unique_id"] = np.nan
    with pytest.raises(DataError, match=r"'unique_id' is empty \(null\) in row 4;"):
        validate(floats)


def test_ids_that_would_share_a_key_are_refused():
    frame = _panel([1, "1"])
    with pytest.raises(DataError, match="unique_id values 1 and '1' would both be series '1'"):
        validate(frame)


def test_categorical_ids_keep_their_dtype():
    frame = _panel(["z", "y"])
    frame["unique_id"] = frame["unique_id"].astype("category")
    data = validate(frame)
    assert data.series_ids == ["z", "y"]
    assert isinstance(data.id_dtype, pd.CategoricalDtype)
    assert data.original_ids(["y"]).dtype == data.id_dtype


def test_ids_in_error_messages_are_the_str_keys():
    frame = _panel([10, 20])
    frame.loc[14, "y"] = np.inf
    with pytest.raises(DataError, match="series '20'"):
        validate(frame)
