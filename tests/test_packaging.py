"""A normal (non-editable) install runs on its own: the quickstart config and the built-in data
are in the wheel, and the command line starts from it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGED = REPO / "platform" / "foretune" / "configs" / "quickstart.yaml"


def test_quickstart_config_is_defined_once():
    """The packaged file is the real one; configs/quickstart.yaml at the root points to it."""
    assert PACKAGED.is_file() and not PACKAGED.is_symlink()
    root = REPO / "configs" / "quickstart.yaml"
    assert root.is_symlink() and not os.path.isabs(os.readlink(root))
    assert root.resolve() == PACKAGED.resolve()


def test_wheel_install_runs_without_the_source_tree(tmp_path):
    # Build from a copy, so that the build leaves nothing (build/, egg-info) in the working tree.
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(
        REPO / "platform",
        src / "platform",
        symlinks=True,  # a symlinked data file would break the wheel, as it did; keep links as links
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    dist, site = tmp_path / "dist", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    build = subprocess.run(
        [*pip, "wheel", str(src), "--no-deps", "--no-build-isolation", "-w", str(dist), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = dist.glob("foretune-*.whl")
    install = subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(site), str(wheel), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    assert (site / "foretune" / "configs" / "quickstart.yaml").is_file()

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "RAY_AUTH_MODE": "disabled"}
    check = (
        "import foretune, sys\n"
        f"assert foretune.__file__.startswith({str(site)!r}), foretune.__file__\n"
        "from foretune.config import ExperimentConfig\n"
        "from foretune.data import builtin_dataset_path\n"
        "config = ExperimentConfig.from_yaml(None)\n"
        "assert config.name == 'quickstart', config.name\n"
        "assert builtin_dataset_path().is_file()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", check], cwd=outside, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    result = subprocess.run(
        [sys.executable, "-m", "foretune", "--help"],
        cwd=outside,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "run" in result.stdout and "predict" in result.stdout
