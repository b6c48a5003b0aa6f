"""The report's HTML: cell text, tables, notes, embedded figures and the page around them.

    fig = Figures(out / FILES_DIR)
    body = table(frame, marks={"mase": {0: "best"}}) + note("...") + fig("forecasts", figure, "...")
    html = page("title", [Section("forecasts", "Forecasts", body=body)])

Every text is escaped; figures are written as ``FILES_DIR/<name>.png`` and embedded as base64
data URIs, so the page alone is complete (no server, no JavaScript).
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from foretune.plotting import png

__all__ = ["FIGURE_NAMES", "FILES_DIR", "Figures", "Section", "fmt", "note", "page", "table"]

FILES_DIR = "report_files"
FIGURE_NAMES = (
    "leaderboard",
    "curves",
    "forecasts",
    "residuals",
    "residual_acf",
    "reliability",
    "backtest_steps",
    "attribution_heatmap",
    "attribution_bars",
)
"""Every PNG ``write_report`` may write; stale ones are removed before each write."""

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;
max-width:1200px;padding:0 1em;color:#222;line-height:1.4}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
nav a{margin-right:1em}.note{color:#666;font-size:.92em}.missing{background:#f7f7f7;
padding:.6em 1em;border-left:3px solid #bbb}.scroll{overflow-x:auto;max-height:36em}
table.tbl{border-collapse:collapse;font-size:.85em;font-variant-numeric:tabular-nums}
table.tbl th,table.tbl td{padding:.25em .6em;border-bottom:1px solid #eee;text-align:right;
white-space:nowrap}table.tbl th{background:#fafafa;position:sticky;top:0}
.best{font-weight:bold;color:#1a7f37}.bad{color:#b42318;font-weight:bold}
figure{margin:1em 0}figure img{max-width:100%;height:auto}figcaption{color:#555;font-size:.9em}
"""


@dataclass
class Section:
    """One section of the page: its ``body`` HTML, or why it is ``missing``."""

    key: str
    heading: str
    body: str | None = None
    missing: str | None = None


def fmt(value: Any) -> str:
    """Compact cell text: 4 significant digits, thousands as integers, blanks for missing."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if np.isnan(v):
            return ""
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        if 1e4 <= abs(v) < 1e12:
            return f"{v:,.0f}"
        return f"{v:.4g}"
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return str(value)


def table(frame: pd.DataFrame, marks: dict[str, dict[int, str]] | None = None) -> str:
    """``to_html`` of the escaped, formatted cells; ``marks[col][row] = css class`` wraps a cell."""
    marks = marks or {}
    cells = {}
    for j, col in enumerate(frame.columns):
        column = []
        for i, value in enumerate(frame.iloc[:, j].tolist()):
            text = html.escape(fmt(value))
            css = marks.get(str(col), {}).get(i)
            column.append(f'<span class="{css}">{text}</span>' if css else text)
        cells[j] = column
    out = pd.DataFrame(cells, index=range(len(frame)), columns=range(frame.shape[1]))
    out.columns = [html.escape(str(c)) for c in frame.columns]
    body = out.to_html(escape=False, index=False, border=0, classes="tbl", na_rep="")
    return f'<div class="scroll">{body}</div>'


def note(text: str) -> str:
    """A grey paragraph of escaped ``text``."""
    return f'<p class="note">{html.escape(text)}</p>'


class Figures:
    """Writes each figure's PNG under ``report_files/`` and returns its embedded HTML."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.written: list[Path] = []

    def __call__(self, name: str, figure: Figure, caption: str) -> str:
        assert name in FIGURE_NAMES, name
        path = self.directory / f"{name}.png"
        image = png(figure)
        path.write_bytes(image)
        self.written.append(path)
        data = base64.b64encode(image).decode("ascii")
        cap = html.escape(caption)
        href = f"{FILES_DIR}/{name}.png"
        return (
            f'<figure><a href="{href}"><img src="data:image/png;base64,{data}" alt="{cap}">'
            f"</a><figcaption>{cap}</figcaption></figure>"
        )


def page(title: str, sections: list[Section]) -> str:
    """The whole HTML page: title, links to the sections shown, the list of those left out (with
    the reason), then each section shown."""
    shown = [s for s in sections if s.body is not None]
    left_out = [s for s in sections if s.body is None]
    nav = " ".join(f'<a href="#{s.key}">{html.escape(s.heading)}</a>' for s in shown)
    missing = ""
    if left_out:
        items = "".join(
            f"<li>{html.escape(s.heading)}: {html.escape(s.missing or '')}</li>" for s in left_out
        )
        missing = f'<div class="missing"><p>Not included:</p><ul>{items}</ul></div>'
    body = "\n".join(
        f'<section id="{s.key}">\n<h2>{html.escape(s.heading)}</h2>\n{s.body}\n</section>' for s in shown
    )
    t = html.escape(title)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{t}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<h1>{t}</h1>\n"
        f"<nav>{nav}</nav>\n{missing}\n{body}\n"
        f'<p class="note">Generated by foretune.evaluate.report.</p>\n</body>\n</html>\n'
    )
