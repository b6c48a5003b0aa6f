"""Verbosity levels and progress bars (foretune.console)."""

from __future__ import annotations

import io
import logging
import warnings

import pytest

from foretune import console


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_bars_only_on_a_terminal_and_never_when_quiet(monkeypatch):
    items = [1, 2, 3]
    monkeypatch.setattr("sys.stderr", io.StringIO())  # a pipe or a log file: no bar
    assert console.progress(items, desc="x") is items
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    bar = console.progress(items, desc="MC draws", unit="member")
    assert bar is not items and list(bar) == items
    assert "MC draws" in terminal.getvalue()
    with console.verbosity(console.QUIET):
        assert console.progress(items, desc="x") is items


def test_quiet_swallows_stdout_warnings_and_ray_logs_then_restores_them(capsys):
    ray_logger = logging.getLogger("ray")
    before = ray_logger.level
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with console.verbosity(console.QUIET):
            assert console.is_quiet() and ray_logger.level == logging.ERROR
            print("chatter")
            warnings.warn("muted", stacklevel=1)
        warnings.warn("heard again", stacklevel=1)
    assert [str(w.message) for w in caught] == ["heard again"]
    assert capsys.readouterr().out == ""
    assert console.current() == console.NORMAL and ray_logger.level == before
    with console.verbosity(console.VERBOSE):
        assert console.is_verbose()
        print("shown")
    assert capsys.readouterr().out == "shown\n"
    with pytest.raises(ValueError, match="quiet, normal, verbose"):
        with console.verbosity("loud"):
            pass
