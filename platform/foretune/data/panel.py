"""A panel's series as flat arrays: levels and covariates one series after another.

    panel = Panel.of(data)              # a validated SeriesFrame, in series_ids order
    panel.lengths, panel.seg            # observations per series, each row's series
    panel.head(levels)                  # the first levels[i] rows of each series
    Panel.one(y, cov)                   # a single series

Window cutting, fitting on training parts and the series store all work on this layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from foretune.errors import DataError

from .frame import SeriesFrame


@dataclass
class Panel:
    """Series one after another: levels ``y [N]`` and covariates ``cov [N, C]``; series ``i`` is
    rows ``offsets[i] : offsets[i+1]`` and has index ``index[i]`` into ``series_ids``."""

    offsets: np.ndarray
    y: np.ndarray
    cov: np.ndarray
    index: np.ndarray

    @property
    def lengths(self) -> np.ndarray:
        """Observations of each series."""
        return np.diff(self.offsets)

    @property
    def seg(self) -> np.ndarray:
        """The series (position in this panel) of each row."""
        return np.repeat(np.arange(len(self.offsets) - 1), self.lengths)

    @classmethod
    def of(cls, data: SeriesFrame) -> Panel:
        """A validated frame's series in ``series_ids`` order (each in its time order)."""
        frame, ids = data.frame, data.series_ids
        y = frame["y"].to_numpy(np.float64)
        cov = frame[list(data.covariates)].to_numpy(np.float64)
        uid = frame["unique_id"].to_numpy()
        starts = np.flatnonzero(np.r_[True, uid[1:] != uid[:-1]]) if len(uid) else np.zeros(0, np.int64)
        if len(starts) == len(ids) and [str(u) for u in uid[starts]] == ids:  # grouped in id order
            return cls(np.r_[starts, len(uid)], y, cov, np.arange(len(ids)))
        codes, uniques = pd.factorize(frame["unique_id"].astype(str))
        rank = pd.Index(ids).get_indexer(uniques)
        if (rank < 0).any():
            raise DataError(f"series {uniques[np.flatnonzero(rank < 0)[0]]!r} has no frequency")
        pos = rank[codes]
        order = np.argsort(pos, kind="stable")
        offsets = np.concatenate([[0], np.cumsum(np.bincount(pos, minlength=len(ids)))])
        return cls(offsets, y[order], cov[order], np.arange(len(ids)))

    @classmethod
    def one(cls, y: np.ndarray, cov: np.ndarray | None = None, index: int = 0) -> Panel:
        """One series' levels ``y`` (and covariates ``cov``) as a panel; ``index`` into ``series_ids``."""
        y = np.asarray(y, dtype=np.float64)
        cov = np.zeros((len(y), 0)) if cov is None else np.asarray(cov, dtype=np.float64)
        return cls(np.array([0, len(y)]), y, cov, np.array([index]))

    def head(self, levels: np.ndarray) -> Panel:
        """The first ``levels[i]`` rows of each series."""
        seg = self.seg
        keep = np.arange(len(self.y)) - self.offsets[seg] < levels[seg]
        offsets = np.concatenate([[0], np.cumsum(levels)])
        return Panel(offsets, self.y[keep], self.cov[keep], self.index)
