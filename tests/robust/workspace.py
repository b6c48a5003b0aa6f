"""The bad-input catalogue's workspace: real files a new user could hand foretune, built once.

    ws = Workspace.build(root)      # model/, run/, data/<case>.parquet, bad_models/<case>/, ...
    ws.path("data", "gap.parquet"); ws.snapshot()   # every file's SHA-256, to prove nothing moved

``BAD_FRAMES`` maps a case name to a function of the built-in history giving a bad frame; each is
saved as ``data/<name>.parquet`` (or ``.csv`` where Parquet cannot hold it). ``BAD_MODELS`` maps
a case name to a way of breaking a copy of the saved ensemble.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tiny_artifact import builtin_history, tiny_ensemble


def _one(h: pd.DataFrame, uid: str = "realgdp") -> pd.DataFrame:
    return h[h["unique_id"] == uid].reset_index(drop=True)


def _with(h: pd.DataFrame, column: str, row: int, value) -> pd.DataFrame:
    h = h.copy()
    h.loc[row, column] = value
    return h


def _day_first(h: pd.DataFrame) -> pd.DataFrame:
    ds = pd.date_range("2020-01-01", periods=60, freq="D")
    return pd.DataFrame({"unique_id": "a", "ds": ds.strftime("%d/%m/%Y"), "y": np.arange(60.0) + 1})


def _irregular(h: pd.DataFrame) -> pd.DataFrame:
    ds = pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-05", "2020-01-11", "2020-01-23", "2020-02-14"])
    return pd.DataFrame({"unique_id": "a", "ds": ds, "y": np.arange(6.0) + 1})


def _wide(h: pd.DataFrame) -> pd.DataFrame:
    wide = h.pivot(index="ds", columns="unique_id", values="y").reset_index()
    wide.columns.name = None
    return wide


#: name -> a bad frame made from the built-in history (long format unless the name says wide).
BAD_FRAMES: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "no_y": lambda h: h.drop(columns="y"),
    "no_ds": lambda h: h.drop(columns="ds"),
    "no_unique_id": lambda h: h.drop(columns="unique_id"),
    "no_rows": lambda h: h.iloc[:0],
    "no_columns": lambda h: pd.DataFrame(),
    "null_id": lambda h: _with(h, "unique_id", 5, None),
    "duplicate_stamp": lambda h: pd.concat([h, h.iloc[[3]]], ignore_index=True),
    "text_y": lambda h: h.assign(y=h["y"].astype(str)),
    "bool_y": lambda h: h.assign(y=h["y"] > 100),
    "inf_y": lambda h: _with(h, "y", 7, np.inf),
    "huge_y": lambda h: _with(h, "y", 7, 1e200),
    "null_ds": lambda h: _with(h, "ds", 9, pd.NaT),
    "text_ds": lambda h: h.assign(ds=h["ds"].dt.strftime("%Y-%m-%d")).pipe(_with, "ds", 4, "not a date"),
    "fractional_ds": lambda h: h.assign(ds=np.tile(np.arange(203) + 0.5, 8)),
    "bool_ds": lambda h: h.assign(ds=np.arange(len(h)) % 2 == 0),
    "day_first_dates": _day_first,
    "missing_stamp": lambda h: h.drop(index=[20]).reset_index(drop=True),
    "nan_inside": lambda h: _with(h, "y", 20, np.nan),
    "all_nan_series": lambda h: h.assign(y=np.where(h["unique_id"] == "cpi", np.nan, h["y"])),
    "irregular": _irregular,
    "wide_text_column": lambda h: _wide(h).assign(color="red"),
    "wide_only_ds": lambda h: _wide(h)[["ds"]],
    "huge_covariate": lambda h: h.assign(promo=np.where(np.arange(len(h)) == 11, 1e200, 0.0)),
    "text_covariate": lambda h: h.assign(color="red"),
    "quarterly_one": _one,
}
#: Frames Parquet cannot hold as they are: written as CSV.
CSV_FRAMES = {"bool_ds"}


def _tamper_member(d: Path) -> None:
    weights = next(d.glob("members/*/model.pt"))
    weights.write_bytes(weights.read_bytes()[:-8] + b"\x00" * 8)


def _future_version(d: Path) -> None:
    manifest = json.loads((d / "manifest.json").read_text())
    manifest["format_version"] = 99
    (d / "manifest.json").write_text(json.dumps(manifest))


def _interrupted(d: Path) -> None:
    d.rename(d.with_name(f"{d.name}.old-999999999"))


#: name -> how to break a copy of the saved ensemble (the copy at ``bad_models/<name>``).
BAD_MODELS: dict[str, Callable[[Path], None]] = {
    "tampered_member": _tamper_member,
    "manifest_not_json": lambda d: (d / "manifest.json").write_text("{not json"),
    "manifest_other_format": lambda d: (d / "manifest.json").write_text('{"format": "other"}'),
    "future_version": _future_version,
    "no_manifest": lambda d: (d / "manifest.json").unlink(),
    "interrupted_save": _interrupted,
}


@dataclass
class Workspace:
    """Files of the catalogue, under ``root``; see the module docstring."""

    root: Path
    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    ensemble: object = None

    @classmethod
    def build(cls, root: Path) -> Workspace:
        ws = cls(root)
        history = builtin_history()
        ensemble = tiny_ensemble(architectures=("mlp", "lstm"))
        ensemble.save(root / "model")
        ensemble.save(root / "run" / "ensemble")
        (root / "run" / "config.json").write_text(json.dumps({"seed": 0}))
        history.to_parquet(root / "hist.parquet", index=False)
        history.to_csv(root / "hist.csv", index=False)
        _one(history).to_parquet(root / "quarterly.parquet", index=False)
        history.head(12).to_parquet(root / "existing.parquet", index=False)
        (root / "afile").write_text("a file, not a directory\n")
        os.link(root / "hist.parquet", root / "hist-link.parquet")  # the data under another name
        (root / "nonempty").mkdir()
        (root / "nonempty" / "notes.txt").write_text("the user's notes\n")
        (root / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
        (root / "data").mkdir()
        for name, make in BAD_FRAMES.items():
            frame = make(history)
            ws.frames[name] = frame
            if name in CSV_FRAMES:
                frame.to_csv(root / "data" / f"{name}.csv", index=False)
            else:
                frame.to_parquet(root / "data" / f"{name}.parquet", index=False)
        for name, spoil in BAD_MODELS.items():
            target = root / "bad_models" / name
            shutil.copytree(root / "model", target)
            spoil(target)
        ws.ensemble = ensemble
        return ws

    def path(self, *parts: str) -> str:
        return str(self.root.joinpath(*parts))

    def data(self, name: str) -> str:
        suffix = ".csv" if name in CSV_FRAMES else ".parquet"
        return self.path("data", f"{name}{suffix}")

    def snapshot(self) -> dict[str, str]:
        """Every file under the workspace (relative path) and its SHA-256."""
        return {
            str(p.relative_to(self.root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(self.root.rglob("*"))
            if p.is_file()
        }
