"""read_frame / to_long / validate: formats, and every user error names what to fix."""

import numpy as np
import pandas as pd
import pytest

from foretune.data import DataError, RatioTransform, prepare, read_frame, to_long, validate


def _monthly(uid: str = "a", n: int = 12, start: float = 10.0, **extra) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "unique_id": uid,
            "ds": pd.date_range("2020-01-01", periods=n, freq="MS"),
            "y": start + np.arange(n, dtype=float),
        }
    )
    for name, values in extra.items():
        frame[name] = values
    return frame


def _two_series(**extra) -> pd.DataFrame:
    return pd.concat([_monthly("alpha", **extra), _monthly("beta", **extra)], ignore_index=True)


# -- happy paths --------------------------------------------------------------------------------
def test_long_parquet_round_trip(tmp_path):
    frame = _two_series(temp=np.linspace(0.0, 1.0, 12))
    path = tmp_path / "long.parquet"
    frame.to_parquet(path)
    read = read_frame(path)
    pd.testing.assert_frame_equal(read, frame)
    data = validate(read)
    assert data.series_ids == ["alpha", "beta"]
    assert data.covariates == ("temp",)
    assert data.freqs == {"alpha": "MS", "beta": "MS"}
    assert list(data.frame.columns) == ["unique_id", "ds", "y", "temp"]


def test_wide_parquet_is_melted(tmp_path):
    ds = pd.date_range("2021-01-01", periods=5, freq="QS")
    wide = pd.DataFrame({"ds": ds, "gdp": [1.0, 2, 3, 4, 5], "cpi": [10.0, 20, 30, 40, 50]})
    path = tmp_path / "wide.parquet"
    wide.to_parquet(path)
    long = read_frame(path)
    assert list(long.columns) == ["unique_id", "ds", "y"]
    assert len(long) == 10
    gdp = long[long["unique_id"] == "gdp"]
    assert list(gdp["ds"]) == list(ds)
    assert list(gdp["y"]) == [1.0, 2, 3, 4, 5]
    assert list(long.loc[long["unique_id"] == "cpi", "y"]) == [10.0, 20, 30, 40, 50]
    data = validate(long)
    assert sorted(data.series_ids) == ["cpi", "gdp"]
    # pandas names quarter starts with its own anchor ("QS-OCT" for January starts)
    assert all(str(f).startswith("QS") for f in data.freqs.values()), data.freqs


def test_to_long_melts_wide_and_passes_long_through():
    wide = pd.DataFrame({"ds": [0, 1, 2], "s1": [1.0, 2.0, 3.0], "s2": [4.0, 5.0, 6.0]})
    long = to_long(wide)
    assert list(long.columns) == ["unique_id", "ds", "y"]
    assert list(long.itertuples(index=False, name=None)) == [
        ("s1", 0, 1.0),
        ("s1", 1, 2.0),
        ("s1", 2, 3.0),
        ("s2", 0, 4.0),
        ("s2", 1, 5.0),
        ("s2", 2, 6.0),
    ]
    already = _monthly()
    pd.testing.assert_frame_equal(to_long(already), already)


def test_read_frame_accepts_a_dataframe_and_does_not_mutate_it():
    frame = _monthly()
    original = frame.copy()
    out = read_frame(frame)
    out.loc[0, "y"] = -1.0
    pd.testing.assert_frame_equal(frame, original)


def test_integer_ds_is_accepted_with_step_1():
    frame = pd.DataFrame({"unique_id": "i", "ds": np.arange(30), "y": np.arange(1.0, 31.0)})
    data = validate(frame)
    assert data.freqs == {"i": 1}
    prep = prepare(data, window=4, horizon=2, transform=RatioTransform())
    assert len(prep.train) > 0


def test_validate_sorts_series_and_drops_non_numeric_extras():
    frame = pd.concat([_monthly("b"), _monthly("a")], ignore_index=True)
    frame["note"] = "text"
    data = validate(frame)
    assert data.covariates == ()
    assert list(data.frame.columns) == ["unique_id", "ds", "y"]
    assert list(data.frame["unique_id"].iloc[[0, 11, 12]]) == ["a", "a", "b"]


# -- read errors --------------------------------------------------------------------------------
def test_missing_path_raises(tmp_path):
    path = tmp_path / "nope.parquet"
    with pytest.raises(DataError, match="does not exist") as info:
        read_frame(path)
    assert "nope.parquet" in str(info.value)


def test_non_parquet_file_raises(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("unique_id,ds,y\na,2020-01-01,1.0\n")
    with pytest.raises(DataError, match="cannot read .*data.csv as Parquet"):
        read_frame(path)


# -- validation errors --------------------------------------------------------------------------
def test_missing_y_column():
    frame = _monthly().rename(columns={"y": "value"})
    with pytest.raises(DataError, match=r"\['y'\] missing"):
        validate(read_frame(frame))


def test_missing_ds_column():
    frame = _monthly().drop(columns="ds")
    with pytest.raises(DataError, match="'ds'"):
        read_frame(frame)
    with pytest.raises(DataError, match=r"\['ds'\] missing"):
        validate(frame)


def test_missing_unique_id_column():
    with pytest.raises(DataError, match=r"\['unique_id'\] missing"):
        validate(_monthly().drop(columns="unique_id"))


def test_non_numeric_y():
    frame = _monthly()
    frame["y"] = frame["y"].astype(str)
    with pytest.raises(DataError, match="column 'y' must be numeric"):
        validate(frame)


def test_nan_in_y_names_column_and_series():
    frame = _two_series()
    frame.loc[15, "y"] = np.nan  # row 3 of "beta"
    with pytest.raises(DataError, match="column 'y'") as info:
        validate(frame)
    assert "'beta'" in str(info.value) and "NaN/inf" in str(info.value)


def test_inf_in_covariate_names_column_and_series():
    frame = _two_series(temp=np.linspace(0.0, 1.0, 12))
    frame.loc[4, "temp"] = np.inf
    with pytest.raises(DataError, match="column 'temp'") as info:
        validate(frame)
    assert "'alpha'" in str(info.value)


def test_requested_covariate_must_exist_and_be_numeric():
    frame = _monthly(label=["x"] * 12)
    with pytest.raises(DataError, match="missing_col"):
        validate(frame, covariates=["missing_col"])
    with pytest.raises(DataError, match="'label' must be numeric"):
        validate(frame, covariates=["label"])


def test_duplicate_timestamps():
    frame = pd.concat([_monthly("ok"), _monthly("dup")], ignore_index=True)
    frame.loc[frame.index[-1], "ds"] = frame.loc[frame.index[-2], "ds"]
    with pytest.raises(DataError, match="series 'dup' has duplicate time stamp"):
        validate(frame)


def test_unsorted_timestamps():
    frame = pd.concat([_monthly("ok"), _monthly("shuffled")], ignore_index=True)
    rows = frame.index[frame["unique_id"] == "shuffled"]
    frame.loc[rows[[3, 4]], "ds"] = frame.loc[rows[[4, 3]], "ds"].to_numpy()
    with pytest.raises(DataError, match="series 'shuffled' has unsorted time stamps"):
        validate(frame)


def test_irregular_spacing_gap_in_monthly_series():
    frame = pd.concat([_monthly("ok"), _monthly("gappy")], ignore_index=True)
    frame = frame.drop(index=frame.index[(frame["unique_id"] == "gappy")][5])
    with pytest.raises(DataError, match="series 'gappy' is irregularly spaced"):
        validate(frame)


def test_irregular_integer_steps():
    frame = pd.DataFrame({"unique_id": "int", "ds": [0, 1, 2, 4, 5], "y": [1.0] * 5})
    with pytest.raises(DataError, match="series 'int' is irregularly spaced"):
        validate(frame)


def test_series_shorter_than_window_plus_horizon():
    window, horizon = 6, 3
    frame = pd.concat([_monthly("long", n=12), _monthly("tiny", n=9)], ignore_index=True)
    with pytest.raises(DataError, match="series 'tiny' has 9 observations") as info:
        validate(frame, min_length=window + horizon + 1)
    assert "at least 10" in str(info.value)
    # exactly long enough passes
    validate(frame, min_length=9)


@pytest.mark.parametrize("bad", [0.0, -2.5])
def test_non_positive_value_under_log_ratio_suggests_diff(bad):
    frame = pd.concat([_monthly("pos"), _monthly("neg")], ignore_index=True)
    frame.loc[20, "y"] = bad  # "neg", position 8
    with pytest.raises(DataError, match="series 'neg' has a value <= 0") as info:
        validate(frame, transform="log_ratio")
    assert "diff" in str(info.value)
    assert "position 8" in str(info.value)


def test_negative_values_are_accepted_under_diff():
    frame = _monthly("neg", n=30, start=-15.0)  # -15 .. 14, crosses zero
    data = validate(frame, transform="diff")
    assert data.frame["y"].min() == -15.0
    prep = prepare(data, window=4, horizon=2, transform=RatioTransform("diff"))
    assert len(prep.train) > 0
    np.testing.assert_allclose(prep.train.y_reg, 0.0, atol=1e-6)  # constant steps of 1
    validate(frame, transform="none")


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)


def test_uri_paths_are_read_through_pyarrow_filesystems(tmp_path):
    frame = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2020-01-01", periods=5, freq="D"), "y": 1.0})
    path = tmp_path / "data.parquet"
    frame.to_parquet(path, index=False)
    read = read_frame(path.as_uri())  # file:// URI, the same code path as s3:// and gs://
    assert list(read.columns) == ["unique_id", "ds", "y"] and len(read) == 5
    with pytest.raises(DataError, match="nope.parquet"):
        read_frame((tmp_path / "nope.parquet").as_uri())
