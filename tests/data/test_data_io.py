"""read_frame / to_long / validate: formats (Parquet, CSV, wide), and every user error names what
to fix. Gaps and frequencies: test_data_fill.py; series ids and order: test_data_ids.py."""

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


def test_validate_keeps_input_order_and_drops_non_numeric_extras():
    frame = pd.concat([_monthly("b"), _monthly("a")], ignore_index=True)
    frame["note"] = "text"
    data = validate(frame)
    assert data.covariates == ()
    assert list(data.frame.columns) == ["unique_id", "ds", "y"]
    assert data.series_ids == ["b", "a"]
    assert list(data.frame["unique_id"].iloc[[0, 11, 12]]) == ["b", "b", "a"]


# -- read errors --------------------------------------------------------------------------------
def test_missing_path_raises(tmp_path):
    path = tmp_path / "nope.parquet"
    with pytest.raises(DataError, match="does not exist") as info:
        read_frame(path)
    assert "nope.parquet" in str(info.value)


def test_non_parquet_file_raises(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("unique_id,ds,y\na,2020-01-01,1.0\n")
    with pytest.raises(DataError, match="cannot read .*data.txt as Parquet"):
        read_frame(path)


def test_long_csv_is_read_with_ids_as_text(tmp_path):
    path = tmp_path / "panel.csv"
    rows = [
        f"{uid},2020-{m:02d}-01,{10 * m + k},{m / 10}"
        for k, uid in enumerate(["007", "12"])
        for m in range(1, 7)
    ]
    path.write_text("unique_id,ds,y,temp\n" + "\n".join(rows) + "\n")
    frame = read_frame(path)
    assert frame["unique_id"].iloc[[0, 6]].tolist() == ["007", "12"]  # leading zeros kept
    assert pd.api.types.is_datetime64_any_dtype(frame["ds"])
    data = validate(frame)
    assert data.series_ids == ["007", "12"]
    assert data.covariates == ("temp",)
    assert data.freqs == {"007": "MS", "12": "MS"}
    assert data.frame["y"].iloc[:3].tolist() == [10.0, 20.0, 30.0]


def test_wide_and_compressed_csv_with_an_empty_cell(tmp_path):
    import gzip

    path = tmp_path / "wide.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("ds,gdp,cpi\n0,1.0,\n1,2.0,20\n2,3.0,30\n3,4.0,40\n")
    long = read_frame(str(path))
    assert list(long.columns) == ["unique_id", "ds", "y"]
    data = validate(long)
    assert data.series_ids == ["gdp", "cpi"]
    assert data.freqs == {"gdp": 1, "cpi": 1}
    cpi = data.frame[data.frame["unique_id"] == "cpi"]
    assert cpi["ds"].tolist() == [1, 2, 3] and cpi["y"].tolist() == [20.0, 30.0, 40.0]  # leading NaN dropped


def test_csv_through_a_uri_and_a_bad_csv(tmp_path):
    path = tmp_path / "panel.csv"
    path.write_text("unique_id,ds,y\na,0,1.0\na,1,2.0\na,2,3.0\n")
    assert len(read_frame(path.as_uri())) == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("unique_id,ds,y\na,0,1.0,extra\n")
    with pytest.raises(DataError, match="cannot read .*bad.csv as CSV"):
        read_frame(bad)


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


def test_nan_in_y_names_series_stamp_row_and_data_fill():
    frame = _two_series()
    frame.loc[15, "y"] = np.nan  # row 3 of "beta"
    with pytest.raises(DataError, match="series 'beta' has 1 gap") as info:
        validate(frame)
    assert "y is NaN at 2020-04-01 (row 15)" in str(info.value)
    assert "data.fill" in str(info.value)


def test_inf_in_covariate_names_column_and_series():
    frame = _two_series(temp=np.linspace(0.0, 1.0, 12))
    frame.loc[4, "temp"] = np.inf
    with pytest.raises(DataError, match="column 'temp'") as info:
        validate(frame)
    assert "'alpha'" in str(info.value) and "2020-05-01 (row 4)" in str(info.value)


def test_requested_covariate_must_exist_and_be_numeric():
    frame = _monthly(label=["x"] * 12)
    with pytest.raises(DataError, match="missing_col"):
        validate(frame, covariates=["missing_col"])
    with pytest.raises(DataError, match="'label' must be numeric"):
        validate(frame, covariates=["label"])


def test_duplicate_timestamps():
    frame = pd.concat([_monthly("ok"), _monthly("dup")], ignore_index=True)
    frame.loc[frame.index[-1], "ds"] = frame.loc[frame.index[-2], "ds"]
    with pytest.raises(
        DataError, match="series 'dup' has duplicate time stamp ds=2020-11-01 .rows 22 and 23"
    ):
        validate(frame)


def test_unsorted_timestamps_are_sorted_within_each_series():
    frame = pd.concat([_monthly("ok"), _monthly("shuffled")], ignore_index=True)
    rows = frame.index[frame["unique_id"] == "shuffled"]
    frame.loc[rows[[3, 4]], "ds"] = frame.loc[rows[[4, 3]], "ds"].to_numpy()
    data = validate(frame)
    shuffled = data.frame[data.frame["unique_id"] == "shuffled"]
    assert shuffled["ds"].is_monotonic_increasing
    assert shuffled["y"].iloc[2:6].tolist() == [12.0, 14.0, 13.0, 15.0]  # each y stays with its ds


def test_missing_month_names_the_first_missing_stamp():
    frame = pd.concat([_monthly("ok"), _monthly("gappy")], ignore_index=True)
    frame = frame.drop(index=frame.index[(frame["unique_id"] == "gappy")][5])
    with pytest.raises(DataError, match="series 'gappy' has 1 gap.*time stamp 2020-06-01; set data.fill"):
        validate(frame)


def test_irregular_datetime_spacing_suggests_data_freq():
    ds = pd.to_datetime(["2020-01-01", "2020-01-04", "2020-01-05", "2020-01-11", "2020-01-13"])
    frame = pd.DataFrame({"unique_id": "odd", "ds": ds, "y": 1.0})
    with pytest.raises(DataError, match="series 'odd' is irregularly spaced") as info:
        validate(frame)
    assert "step first changes at 2020-01-05" in str(info.value) and "data.freq" in str(info.value)


def test_irregular_integer_steps():
    frame = pd.DataFrame({"unique_id": "int", "ds": [0, 3, 4, 9, 11], "y": [1.0] * 5})
    with pytest.raises(DataError, match="series 'int' is irregularly spaced"):
        validate(frame)


def test_null_unparseable_and_fractional_ds():
    frame = _monthly()
    frame["ds"] = frame["ds"].astype(object)
    frame.loc[[3, 7], "ds"] = None
    with pytest.raises(DataError, match=r"column 'ds' is empty \(null\) in 2 rows \(first 3, 7\)"):
        validate(frame)
    frame.loc[[3, 7], "ds"] = ["2020-04-01", "not a date"]
    with pytest.raises(DataError, match="cannot read 'not a date' as a date .row 7."):
        validate(frame)
    steps = pd.DataFrame({"unique_id": "f", "ds": [0.0, 1.0, 2.5], "y": 1.0})
    with pytest.raises(DataError, match="not integer time steps .e.g. 2.5 in row 2"):
        validate(steps)
    assert validate(steps.assign(ds=[0.0, 1.0, 2.0])).freqs == {"f": 1}  # integral floats are steps


def test_min_length_defaults_to_one():
    frame = pd.concat([_monthly("long"), _monthly("one", n=1)], ignore_index=True)
    assert validate(frame).freqs == {"long": "MS", "one": "MS"}


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
    assert "diff" in str(info.value) and "data.transform: auto" in str(info.value)
    assert "position 8" in str(info.value)
    validate(frame)  # the default, auto, leaves the choice per series to the transform
    validate(frame, transform="auto")


def test_negative_values_are_accepted_under_diff():
    frame = _monthly("neg", n=30, start=-15.0)  # -15 .. 14, crosses zero
    data = validate(frame, transform="diff")
    assert data.frame["y"].min() == -15.0
    prep = prepare(data, window=4, horizon=2, transform=RatioTransform("diff"))
    assert len(prep.train) > 0
    np.testing.assert_allclose(prep.train.y_reg, 0.0, atol=1e-6)  # constant steps of 1 (exact drift)
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
