"""Frequency inference, the frequencies validate resolves, date continuation and the season rule."""

import numpy as np
import pandas as pd
import pytest

from foretune.data import resolve_freqs, validate
from foretune.data.calendar import (
    common_freq,
    future_dates,
    infer_freq,
    season_length,
    season_lengths,
    series_seasons,
)


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


def test_season_lengths_is_the_override_else_the_season_of_each_frequency():
    freqs = {"a": "MS", "b": "QS", "c": None, "d": 1}
    assert season_lengths(freqs) == {"a": 12, "b": 4, "c": 1, "d": 1}
    assert season_lengths(freqs, 3) == {"a": 3, "b": 3, "c": 3, "d": 3}
    got = season_lengths(["h", "MS", "h"])
    assert got.dtype == np.int64 and got.tolist() == [24, 12, 24]
    assert season_lengths([], None).tolist() == []
    with pytest.raises(ValueError, match=">= 1"):
        season_lengths(freqs, 0)


def test_common_freq_is_the_most_common_and_the_first_seen_among_equals():
    assert common_freq(["D", "MS", "MS", "D"]) == "D"
    assert common_freq(["D", "MS", "MS"]) == "MS"
    assert common_freq([]) is None


def test_infer_freq_takes_an_unsorted_datetime_index():
    dates = pd.date_range("2020-01-01", periods=5, freq="W-SUN", tz="Europe/Berlin")
    assert infer_freq(dates[::-1]) == "W-SUN"


def test_resolve_freqs_gives_validate_s_frequencies_keyed_by_the_input_ids():
    months = pd.date_range("2020-01-01", periods=8, freq="MS")
    frame = pd.concat(
        [
            pd.DataFrame({"unique_id": 7, "ds": months.delete(3), "y": 1.0}),  # a gap
            pd.DataFrame({"unique_id": 8, "ds": months[:1], "y": 1.0}),  # one observation
            pd.DataFrame({"unique_id": 9, "ds": months[::2], "y": 1.0}),  # every other month
        ]
    )
    assert resolve_freqs(frame) == {7: "MS", 8: "MS", 9: "2MS"}
    series = validate(frame, fill="ffill")
    assert series.freqs == {"7": "MS", "8": "MS", "9": "2MS"}
    assert resolve_freqs(series.frame) == series.freqs  # a validated frame resolves to its own
    assert series_seasons(frame) == {7: 1, 8: 1, 9: 6}  # a raw frame's inference cannot see gaps
    assert season_lengths(resolve_freqs(frame)) == {7: 12, 8: 12, 9: 6}
    assert resolve_freqs(frame, freq="MS")[9] == "MS"
