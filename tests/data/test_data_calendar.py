"""Frequency inference, date continuation and season lengths."""

import pandas as pd
import pytest

from foretune.data.calendar import future_dates, infer_freq, season_length


@pytest.mark.filterwarnings("ignore:'[QM]' is deprecated:FutureWarning")
@pytest.mark.parametrize(
    ("freq", "expected"),
    [
        ("QS", 4),
        ("Q", 4),
        ("M", 12),
        ("QS-OCT", 4),
        ("QE-DEC", 4),
        ("MS", 12),
        ("ME", 12),
        ("W", 52),
        ("W-MON", 52),
        ("D", 7),
        ("B", 5),
        ("h", 24),
        ("6h", 4),
        ("5h", 1),
        ("YS", 1),
        ("min", 1440),
        ("30min", 48),
        ("15min", 96),
        (1, 1),
        (5, 1),
    ],
)
def test_season_length(freq, expected):
    assert season_length(freq) == expected


def test_infer_freq():
    assert infer_freq(pd.date_range("2019-10-01", periods=5, freq="QS-OCT")) == "QS-OCT"
    assert infer_freq(pd.Series(pd.date_range("2020-01-01", periods=4, freq="MS"))[::-1]) == "MS"
    assert infer_freq([1990, 1995, 2000]) == 5
    with pytest.raises(ValueError, match="irregular"):
        infer_freq([1, 2, 4])
    with pytest.raises(ValueError, match="fewer than 3"):
        infer_freq(pd.date_range("2020-01-01", periods=2, freq="D"))
    with pytest.raises(ValueError, match="regularly"):
        infer_freq(pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-05"]))


def test_future_dates():
    assert list(future_dates(10, 5, 3)) == [15, 20, 25]
    got = future_dates(pd.Timestamp("2021-07-01"), "QS-OCT", 2)
    assert list(got) == [pd.Timestamp("2021-10-01"), pd.Timestamp("2022-01-01")]
    # off-anchor last date continues at the next anchor
    assert future_dates("2020-01-15", "MS", 1)[0] == pd.Timestamp("2020-02-01")
    assert future_dates(pd.Timestamp("2020-01-01 23:00", tz="UTC"), "h", 1)[0] == pd.Timestamp(
        "2020-01-02 00:00", tz="UTC"
    )
    assert len(future_dates(3, 1, 0)) == 0
