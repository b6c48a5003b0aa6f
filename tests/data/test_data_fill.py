"""validate on ragged panels: gaps and NaN (data.fill), frequencies (data.freq), short series and
degenerate values. Every expected value below is worked out by hand."""

import numpy as np
import pandas as pd
import pytest

from foretune.data import DataError, validate
from foretune.data.validate import MAX_ABS_VALUE, check_series, regularize_series

MONTHS = pd.date_range("2020-01-01", periods=6, freq="MS")


def _gappy(uid: str = "gappy") -> pd.DataFrame:
    """Monthly Jan..Jun 2020 without March; y is NaN in May. ``temp`` is a covariate."""
    return pd.DataFrame(
        {
            "unique_id": uid,
            "ds": MONTHS.delete(2),
            "y": [10.0, 20.0, 40.0, np.nan, 80.0],
            "temp": [1.0, 2.0, 4.0, 5.0, 6.0],
        }
    )


def _monthly(uid: str, n: int = 12) -> pd.DataFrame:
    return pd.DataFrame(
        {"unique_id": uid, "ds": pd.date_range("2020-01-01", periods=n, freq="MS"), "y": 1.0 + np.arange(n)}
    )


# -- data.fill ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fill", "y", "temp"),
    [
        ("ffill", [10, 20, 20, 40, 40, 80], [1, 2, 2, 4, 5, 6]),
        ("interpolate", [10, 20, 30, 40, 60, 80], [1, 2, 3, 4, 5, 6]),
        ("zero", [10, 20, 0, 40, 0, 80], [1, 2, 0, 4, 5, 6]),
    ],
)
def test_each_fill_mode_inserts_the_missing_month_and_fills_it_and_the_nan(fill, y, temp):
    data = validate(_gappy(), fill=fill)
    assert data.freqs == {"gappy": "MS"}
    assert list(data.frame["ds"]) == list(MONTHS)
    assert data.frame["y"].tolist() == [float(v) for v in y]
    assert data.frame["temp"].tolist() == [float(v) for v in temp]
    assert list(data.frame["unique_id"]) == ["gappy"] * 6


def test_fill_none_names_the_series_the_first_missing_stamp_and_data_fill():
    frame = pd.concat([_monthly("ok"), _gappy().drop(columns="temp")], ignore_index=True)
    with pytest.raises(DataError) as info:
        validate(frame)
    message = str(info.value)
    assert "series 'gappy'" in message
    assert "first: no row for time stamp 2020-03-01" in message
    assert "1 missing time stamp(s), 1 NaN value(s) of y" in message
    assert "data.fill" in message and "interpolate" in message
    assert "2020-01-01" not in message  # not the regular start of the series, as before


def test_fill_none_names_a_nan_in_y_when_it_comes_first():
    frame = _monthly("nan", n=6)
    frame.loc[1, "y"] = np.nan  # February, before any missing stamp
    frame = frame.drop(index=4)  # May missing
    with pytest.raises(DataError, match=r"series 'nan' has 2 gap\(s\)") as info:
        validate(frame)
    assert "y is NaN at 2020-02-01 (row 1)" in str(info.value)
    assert "data.fill" in str(info.value)


def test_nan_in_a_covariate_follows_the_fill_rule():
    frame = _monthly("c", n=5)
    frame["temp"] = [np.nan, 2.0, np.nan, np.inf, 5.0]  # inf in a covariate is a missing value
    with pytest.raises(DataError, match="column 'temp' has 3 NaN/inf value") as info:
        validate(frame)
    assert "series 'c'" in str(info.value) and "2020-01-01 (row 0)" in str(info.value)
    assert "data.fill" in str(info.value)
    # the leading NaN takes the first value; the rest is filled forward / interpolated / zero
    assert validate(frame, fill="ffill").frame["temp"].tolist() == [2.0, 2.0, 2.0, 2.0, 5.0]
    assert validate(frame, fill="interpolate").frame["temp"].tolist() == [2.0, 2.0, 3.0, 4.0, 5.0]
    assert validate(frame, fill="zero").frame["temp"].tolist() == [0.0, 2.0, 0.0, 0.0, 5.0]
    assert validate(frame, fill="zero").frame["y"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_a_covariate_without_any_value_cannot_be_filled_forward():
    frame = _monthly("c", n=4).assign(temp=np.nan)
    with pytest.raises(DataError, match="column 'temp' has no value in series 'c'"):
        validate(frame, fill="ffill")
    assert validate(frame, fill="zero").frame["temp"].tolist() == [0.0] * 4


@pytest.mark.parametrize("fill", ["none", "ffill", "interpolate", "zero"])
def test_leading_and_trailing_nan_in_y_are_dropped_not_filled(fill):
    frame = _monthly("late", n=6)
    frame.loc[[0, 1, 5], "y"] = np.nan  # starts in March, ends in May
    data = validate(frame, fill=fill)
    assert list(data.frame["ds"]) == list(pd.date_range("2020-03-01", periods=3, freq="MS"))
    assert data.frame["y"].tolist() == [3.0, 4.0, 5.0]


def test_wide_frame_with_ragged_starts_melts_and_validates():
    wide = pd.DataFrame({"ds": MONTHS, "early": [1.0, 2, 3, 4, 5, 6], "late": [np.nan, np.nan, 3.0, 4, 5, 6]})
    data = validate(wide.melt(id_vars="ds", var_name="unique_id", value_name="y"))
    assert data.series_ids == ["early", "late"]
    assert data.frame.groupby("unique_id", sort=False).size().tolist() == [6, 4]


def test_a_series_without_any_observation_is_refused_by_name():
    frame = pd.concat([_monthly("ok"), _monthly("empty", n=3).assign(y=np.nan)], ignore_index=True)
    with pytest.raises(DataError, match="series 'empty' has no observation"):
        validate(frame, fill="ffill")


@pytest.mark.parametrize("fill", ["none", "ffill", "interpolate", "zero"])
def test_inf_in_y_is_always_an_error(fill):
    frame = pd.concat([_monthly("ok"), _monthly("inf")], ignore_index=True)
    frame.loc[15, "y"] = -np.inf
    with pytest.raises(DataError, match="column 'y' is infinite in row 15") as info:
        validate(frame, fill=fill)
    assert "series 'inf'" in str(info.value) and "2020-04-01" in str(info.value)


def test_magnitudes_that_would_overflow_are_refused_naming_series_and_row():
    assert MAX_ABS_VALUE == 1e150
    frame = pd.concat([_monthly("ok"), _monthly("big")], ignore_index=True)
    frame.loc[14, "y"] = 1e300
    with pytest.raises(DataError, match="column 'y' has a value 1e\\+300") as info:
        validate(frame)
    assert "series 'big' at row 14" in str(info.value)
    frame.loc[14, "y"] = -1e149  # large but safe
    validate(frame, transform="diff")
    frame["temp"] = 0.0
    frame.loc[3, "temp"] = 2e150
    with pytest.raises(DataError, match="column 'temp'.*series 'ok' at row 3"):
        validate(frame)


# -- data.freq ----------------------------------------------------------------------------------
def test_integer_ds_with_freq_step_2():
    # steps 6, 2, 6: no step fits half of them, so only data.freq makes the series usable
    frame = pd.DataFrame({"unique_id": "i", "ds": [0, 6, 8, 14], "y": [0.0, 6.0, 8.0, 14.0]})
    with pytest.raises(DataError, match="series 'i' is irregularly spaced") as info:
        validate(frame)
    assert "data.freq" in str(info.value)
    with pytest.raises(DataError, match="first: no row for time stamp 2;") as info:
        validate(frame, freq=2)
    assert "at step 2 (4 missing time stamp(s)" in str(info.value)
    data = validate(frame, freq=2, fill="interpolate")
    assert data.freqs == {"i": 2}
    assert data.frame["ds"].tolist() == [0, 2, 4, 6, 8, 10, 12, 14]
    assert data.frame["y"].tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0]
    assert validate(frame, freq="2", fill="ffill").frame["y"].tolist() == [0, 0, 0, 6, 8, 8, 8, 14]


def test_integer_steps_must_be_multiples_of_freq():
    frame = pd.DataFrame({"unique_id": "i", "ds": [0, 2, 5, 6], "y": 1.0})
    with pytest.raises(DataError, match="series 'i' has time stamp 5 off its regular grid at step 2"):
        validate(frame, freq=2, fill="ffill")


def test_integer_ds_gap_is_found_without_freq():
    frame = pd.DataFrame({"unique_id": "int", "ds": [0, 1, 2, 4, 5], "y": [1.0, 2, 3, 5, 6]})
    with pytest.raises(DataError, match="series 'int' has 1 gap.*at step 1.*time stamp 3;"):
        validate(frame)
    assert validate(frame, fill="interpolate").frame["y"].tolist() == [1.0, 2, 3, 4, 5, 6]


def test_irregular_datetime_series_with_freq():
    ds = pd.to_datetime(["2021-05-01 00:00", "2021-05-01 00:30", "2021-05-01 02:00", "2021-05-01 02:30"])
    frame = pd.DataFrame({"unique_id": "sensor", "ds": ds, "y": [1.0, 2.0, 5.0, 6.0]})
    with pytest.raises(DataError, match="series 'sensor' is irregularly spaced"):
        validate(frame)
    data = validate(frame, freq="30min", fill="interpolate")
    assert data.freqs == {"sensor": "30min"}
    assert list(data.frame["ds"]) == list(pd.date_range("2021-05-01", periods=6, freq="30min"))
    assert data.frame["y"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    off = frame.assign(ds=ds.insert(1, pd.Timestamp("2021-05-01 00:15"))[:4])
    with pytest.raises(DataError, match="time stamp 2021-05-01 00:15:00 off its regular grid"):
        validate(off, freq="30min", fill="ffill")


def test_freq_is_checked_against_the_kind_of_ds():
    dates, steps = _monthly("a"), pd.DataFrame({"unique_id": "a", "ds": [0, 1, 2], "y": 1.0})
    with pytest.raises(DataError, match="integer step but ds holds dates"):
        validate(dates, freq=1)
    with pytest.raises(DataError, match="date frequency but ds holds integer steps"):
        validate(steps, freq="D")
    with pytest.raises(DataError, match="'fortnightly' is not a pandas frequency alias"):
        validate(dates, freq="fortnightly")
    with pytest.raises(DataError, match="positive integer step"):
        validate(steps, freq=0)


def test_a_too_fine_freq_is_refused_instead_of_exploding_the_series():
    frame = pd.DataFrame(
        {"unique_id": "d", "ds": pd.date_range("2020-01-01", periods=3, freq="180D"), "y": 1.0}
    )
    with pytest.raises(DataError, match="series 'd' spans 2020-01-01 to 2020-12-26.*check data.freq"):
        validate(frame, freq="min", fill="ffill")


def test_business_days_with_a_missing_day_are_business_days():
    days = pd.DataFrame({"unique_id": "days", "ds": pd.date_range("2024-01-01", periods=20), "y": 1.0})
    bdays = pd.bdate_range("2024-01-01", periods=15)  # Mon 1 Jan .. Fri 19 Jan
    trading = pd.DataFrame({"unique_id": "trading", "ds": bdays.delete(6), "y": np.arange(14.0)})
    data = validate(pd.concat([days, trading], ignore_index=True), fill="ffill")
    assert data.freqs == {"days": "D", "trading": "B"}
    got = data.frame[data.frame["unique_id"] == "trading"]
    assert list(got["ds"]) == list(bdays)  # Tue 9 Jan inserted, no weekend days
    assert got["y"].iloc[5:8].tolist() == [5.0, 5.0, 6.0]


def test_time_zone_is_kept_through_the_fill():
    ds = pd.date_range("2020-03-07", periods=48, freq="h", tz="US/Eastern")  # across a DST change
    frame = pd.DataFrame({"unique_id": "tz", "ds": ds.delete(30), "y": np.arange(47.0)})
    data = validate(frame, fill="interpolate")
    assert data.freqs == {"tz": "h"}
    assert str(data.frame["ds"].dt.tz) == "US/Eastern"
    assert list(data.frame["ds"]) == list(ds)
    assert data.frame["y"].iloc[29:32].tolist() == [29.0, 29.5, 30.0]


# -- short series -------------------------------------------------------------------------------
def test_a_one_observation_series_takes_the_panel_frequency():
    one = pd.DataFrame({"unique_id": ["one"], "ds": [pd.Timestamp("2021-06-01")], "y": [5.0]})
    frame = pd.concat([_monthly("a"), one, _monthly("b")], ignore_index=True)
    data = validate(frame)
    assert data.freqs == {"a": "MS", "one": "MS", "b": "MS"}
    assert data.frame[data.frame["unique_id"] == "one"]["y"].tolist() == [5.0]


def test_a_two_observation_series_with_a_gap_takes_the_panel_frequency_and_the_fill():
    two = pd.DataFrame(
        {"unique_id": "two", "ds": pd.to_datetime(["2021-01-01", "2021-03-01"]), "y": [1.0, 3.0]}
    )
    frame = pd.concat([_monthly("a"), two], ignore_index=True)
    with pytest.raises(DataError, match="series 'two'.*time stamp 2021-02-01"):
        validate(frame)
    data = validate(frame, fill="interpolate")
    assert data.freqs["two"] == "MS"
    assert data.frame[data.frame["unique_id"] == "two"]["y"].tolist() == [1.0, 2.0, 3.0]


def test_short_series_off_the_panel_grid_are_refused_naming_data_freq():
    two = pd.DataFrame({"unique_id": "mid", "ds": pd.to_datetime(["2021-01-15", "2021-02-15"]), "y": 1.0})
    with pytest.raises(DataError, match="series 'mid' has 2 observation.*'MS'.*set data.freq"):
        validate(pd.concat([_monthly("a"), two], ignore_index=True))


def test_a_panel_where_no_frequency_can_be_inferred_needs_data_freq():
    frame = pd.DataFrame(
        {
            "unique_id": ["a", "b", "b"],
            "ds": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-02-01"]),
            "y": 1.0,
        }
    )
    with pytest.raises(DataError, match="series 'a' has 1 observation.*set data.freq"):
        validate(frame)
    assert validate(frame, freq="MS").freqs == {"a": "MS", "b": "MS"}
    # integer steps: two observations show their own step
    steps = pd.DataFrame({"unique_id": ["a", "a"], "ds": [10, 15], "y": 1.0})
    assert validate(steps).freqs == {"a": 5}


def test_min_length_defaults_to_one_and_counts_the_filled_series():
    frame = pd.concat([_monthly("a"), _gappy("short").drop(columns="temp")], ignore_index=True)
    validate(frame, fill="ffill", min_length=6)
    with pytest.raises(DataError, match="series 'short' has 6 observations but needs at least 7"):
        validate(frame, fill="ffill", min_length=7)


def test_zero_fill_under_explicit_log_ratio_is_refused_but_auto_accepts_it():
    with pytest.raises(DataError, match="series 'gappy' has a value <= 0 .* position 2 .*2020-03-01"):
        validate(_gappy(), fill="zero", transform="log_ratio")
    assert validate(_gappy(), fill="zero", transform="auto").frame["y"].min() == 0.0


def test_unknown_fill_mode():
    with pytest.raises(DataError, match="data.fill must be one of"):
        validate(_gappy(), fill="backfill")


# -- the per-series functions (the streamed path uses them) -------------------------------------
def test_regularize_series_and_check_series_follow_the_same_rule():
    frame = _gappy()
    regular = regularize_series(
        "g", frame["ds"], frame["y"].to_numpy(), frame[["temp"]].to_numpy(), fill="ffill", covariates=["temp"]
    )
    assert regular.freq == "MS" and regular.inserted == 1
    assert list(regular.ds) == list(MONTHS)
    assert regular.y.tolist() == [10.0, 20.0, 20.0, 40.0, 40.0, 80.0]
    assert regular.cov[:, 0].tolist() == [1.0, 2.0, 2.0, 4.0, 5.0, 6.0]
    assert check_series("g", regular.ds, regular.y, "log_ratio", 6) == "MS"
    with pytest.raises(DataError, match="first: no row for time stamp 2020-03-01"):
        regularize_series("g", frame["ds"], frame["y"].to_numpy())
    with pytest.raises(DataError, match="series 'g' has 1 missing time stamp.*the first 2020-03-01"):
        check_series("g", frame["ds"].to_numpy(), np.ones(5), "log_ratio", 1)
    # one observation: the caller's fallback frequency
    assert regularize_series("s", MONTHS[:1], np.ones(1), fallback_freq="MS").freq == "MS"
    with pytest.raises(DataError, match="data.freq"):
        regularize_series("s", MONTHS[:1], np.ones(1))
