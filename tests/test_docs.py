"""Every code block of the README and of ``docs/`` runs here, or is parsed by the program it calls.

A fenced block names its language, one of ``LANGUAGES``:

- ``python``: executed. A page's blocks share one namespace and run in order, in a temporary
  working directory, so a later block uses what an earlier one defined (a page that fits once
  forecasts, saves and loads from that fit). They need Ray: the tests are ``slow``.
- ``bash``: split into commands (``\\`` continuations joined, comments dropped, split on ``&&``,
  ``||``, ``;`` and ``|``), each checked without running it: ``foretune ...`` by foretune's own
  parser (``foretune.cli.build_parser``, which starts nothing), then its ``--set`` keys and a
  repository ``--config`` file through the config; ``python jobs/X.py ...`` through the job's
  ``foretune_argv`` and the same parser; ``python benchmarks/X.py ...`` by the script's own
  ``build_parser``; ``python -m pytest ...`` as it is; ``bash setup.sh`` by ``bash -n``. Programs
  that need a cluster or a cloud account are in ``EXTERNAL`` with the reason; any other program
  fails, so a new kind of command has to be thought about here first.
- ``yaml``: an experiment's settings, merged onto the quickstart and validated as a config
  (``ExperimentConfig.from_dict``, ``search.validate_space``), so a wrong key or value fails.
- ``text``: not run (usage synopses with ``[--flag VALUE]``, printed output, tables, diagrams);
  a synopsis's ``foretune`` subcommand and flags must exist.

Besides: the README stays a front door (under 200 lines, the two quick-start commands as CI runs
them, every page of ``docs/`` linked), every relative link and anchor resolves, and every table
block a benchmark script rewrites (``--doc``) is in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
LANGUAGES = {"bash", "python", "yaml", "text"}

#: Programs a ``bash`` block may call that cannot run here, and why; their command lines are not
#: parsed, but a command they run after ``--`` (``ray job submit ... -- python jobs/sweep.py``) is.
EXTERNAL = {
    "ray": "starts, reaches or tears down a Ray cluster (ray start/up/down/dashboard, ray job "
    "submit); tests/cluster runs the same sweeps on Ray's multi-node test cluster",
    "aws": "needs an AWS account and a bucket; tests/storage runs a sweep into a local S3 server (moto)",
    "pip": "installs from a package index; setup.sh and the CI install the project",
    "tensorboard": "serves a web UI until stopped; tests/search/test_search_progress.py checks the "
    "logs it reads",
}
SEPARATORS = {"&&", "||", ";", "|", "&"}


@dataclass(frozen=True)
class Block:
    """One fenced code block: its page, the line of its opening fence, language and text."""

    page: Path
    line: int
    language: str
    text: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line} ({self.language or 'no language'})"


@cache
def blocks(page: Path) -> tuple[Block, ...]:
    """The fenced blocks of ``page`` (fences at the start of a line; an unclosed one fails)."""
    found, opened, language, body = [], None, "", []
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if opened is None and line.startswith("```"):
            opened, language, body = number, line[3:].strip(), []
        elif opened is not None and line.strip() == "```":
            found.append(Block(page, opened, language, "\n".join(body) + "\n"))
            opened = None
        elif opened is not None:
            body.append(line)
    assert opened is None, f"{page.relative_to(ROOT)}:{opened}: a code block is never closed"
    return tuple(found)


def all_blocks(language: str) -> list[Block]:
    return [b for page in PAGES for b in blocks(page) if b.language == language]


def _ids(items) -> list[str]:
    return [str(b) if isinstance(b, Block) else str(b.relative_to(ROOT)) for b in items]


# -- every block has a language we check ------------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_every_block_names_a_known_language(page):
    bad = [str(b) for b in blocks(page) if b.language not in LANGUAGES]
    assert not bad, f"blocks without a language of {sorted(LANGUAGES)}: {bad}"


# -- bash: every command is parsed by its program ---------------------------------------------


def commands(block: Block) -> list[tuple[int, list[str]]]:
    """``(line, argv)`` of every command in a bash block."""
    out, pending, first = [], "", 0
    for number, line in enumerate(block.text.splitlines(), block.line + 1):
        first = first if pending else number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        words, pending = shlex.split(pending + line, comments=True), ""
        argv: list[str] = []
        for word in [*words, "&&"]:
            if word in SEPARATORS:
                if argv:
                    out.append((first, argv))
                argv = []
            elif argv or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word):  # VAR=value prefix
                argv.append(word)
    return out


def parse_foretune(args: list[str]) -> str | None:
    """Parse ``foretune ARGS`` as the command line would, without running it: the reason it is
    refused, or None."""
    from foretune.cli import build_parser
    from foretune.config import experiment_config, parse_settings
    from foretune.errors import ConfigError

    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            namespace = build_parser().parse_args(args)
    except SystemExit as exc:
        return None if exc.code == 0 else f"refused by foretune's parser: {_last_line(stderr)}"
    if namespace.command not in ("run", "sweep"):
        return None
    try:
        settings = parse_settings(namespace.settings)
        config = namespace.config
        if config and (config.startswith("configs/") or (ROOT / config).is_file()):
            experiment_config(str(ROOT / config), settings)
    except ConfigError as exc:
        return f"refused by the config: {exc}"
    return None


def _last_line(stream: io.StringIO) -> str:
    """argparse's error line (its usage lines before it only repeat the flags)."""
    lines = stream.getvalue().strip().splitlines()
    return lines[-1] if lines else "(nothing on stderr)"


@cache
def script(path: Path):
    """Import a script of ``jobs/`` or ``benchmarks/`` by path, without running its ``main``;
    ``sys.path`` and the modules beside it (``benchmarks/datasets.py``) are put back after."""
    path_before, modules_before = list(sys.path), set(sys.modules)
    try:
        spec = importlib.util.spec_from_file_location(f"_docs_{path.parent.name}_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # a dataclass of the script looks its module up
        spec.loader.exec_module(module)
    finally:
        sys.path[:] = path_before
        for name in set(sys.modules) - modules_before - {spec.name}:
            if str(getattr(sys.modules[name], "__file__", "") or "").startswith(str(path.parent)):
                del sys.modules[name]
    return module


def parse_script(argv: list[str]) -> str | None:
    """``python jobs/X.py ...`` or ``python benchmarks/X.py ...``: the reason it is refused, or None."""
    path = ROOT / argv[0]
    if path.parent.name not in ("jobs", "benchmarks") or path.suffix != ".py":
        return "only scripts of jobs/ and benchmarks/ are known"
    if not path.is_file():
        return f"{argv[0]} does not exist"
    module = script(path)
    if path.parent.name == "jobs":
        return parse_foretune(module.foretune_argv(argv[1:]))
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(io.StringIO()):
            module.build_parser().parse_args(argv[1:])
    except SystemExit as exc:
        return None if exc.code == 0 else f"refused by its parser: {_last_line(stderr)}"
    return None


def refusal(argv: list[str]) -> str | None:
    """Why the command ``argv`` is wrong or unknown, or None when its program accepts it."""
    program, args = argv[0], argv[1:]
    if program == "foretune":
        return parse_foretune(args)
    if program in ("python", "python3"):
        if args[:2] == ["-m", "pytest"]:
            return None
        return parse_script(args) if args else "an interactive python is not a command"
    if program == "bash" and args == ["setup.sh"]:
        check = subprocess.run(["bash", "-n", str(ROOT / "setup.sh")], capture_output=True, text=True)
        return None if check.returncode == 0 else f"bash -n setup.sh: {check.stderr.strip()}"
    if program in EXTERNAL:
        return refusal(args[args.index("--") + 1 :]) if "--" in args else None
    return f"{program!r} is not a program this test knows: parse it here, or add it to EXTERNAL with why"


@pytest.mark.parametrize("block", all_blocks("bash"), ids=_ids(all_blocks("bash")))
def test_every_command_is_accepted_by_its_program(block):
    found = commands(block)
    assert found, f"{block}: a bash block without a command"
    bad = [
        f"{block.page.relative_to(ROOT)}:{line}: `{shlex.join(argv)}`: {why}"
        for line, argv in found
        if (why := refusal(argv))
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("block", all_blocks("text"), ids=_ids(all_blocks("text")))
def test_a_synopsis_names_real_subcommands_and_flags(block):
    """A ``text`` block's ``foretune ...`` lines (synopses: not runnable) name real flags."""
    from foretune.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    bad = []
    for line in block.text.replace("\\\n", " ").splitlines():  # continuations joined
        words = line.split("#", 1)[0].split()
        if len(words) < 2 or words[0] != "foretune":
            continue
        if not words[1].startswith("-") and words[1] not in sub.choices:
            bad.append(f"no subcommand {words[1]!r}")
            continue
        known = sub.choices.get(words[1], parser)._option_string_actions
        flags = re.findall(r"--[a-z][a-z-]*", " ".join(words))
        bad += [f"`foretune {words[1]}` has no {flag}" for flag in flags if flag not in known]
    assert not bad, f"{block}: " + "; ".join(bad)


# -- yaml: experiment settings ---------------------------------------------------------------


def _merged(base: dict, fragment: dict) -> dict:
    out = dict(base)
    for key, value in fragment.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict) and key != "space"
        out[key] = _merged(out[key], value) if both else value
    return out


@pytest.mark.parametrize("block", all_blocks("yaml"), ids=_ids(all_blocks("yaml")))
def test_every_yaml_block_is_a_valid_experiment(block):
    from foretune.config import ExperimentConfig
    from foretune.errors import ConfigError
    from foretune.search.space import validate_space

    fragment = yaml.safe_load(block.text)
    assert isinstance(fragment, dict), f"{block}: not a mapping of experiment settings"
    try:
        config = ExperimentConfig.from_dict(_merged(ExperimentConfig.from_yaml(None).to_dict(), fragment))
        validate_space(config)
    except ConfigError as exc:
        pytest.fail(f"{block}: refused as experiment settings: {exc}")


# -- python: executed, one session per page ----------------------------------------------------


def _readme_ran(namespace: dict, tmp_path: Path, printed: str) -> None:
    """What the README's "From Python" block promises: a plot, a forecast of 8 series x 4
    steps, and the backtest table with the ensemble beside the baselines."""
    assert (tmp_path / "forecast.png").is_file()
    assert len(namespace["forecast"]) == 8 * 4
    assert re.search(r"^\s*0\s+ensemble\s", printed, re.M) and "seasonal_naive" in printed, printed


#: Checks of what a page's blocks left behind, beyond running without an error.
AFTER = {"README.md": _readme_ran}
PYTHON_PAGES = [page for page in PAGES if any(b.language == "python" for b in blocks(page))]


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=_ids(PYTHON_PAGES))
def test_python_blocks_run_in_order(page, ray_session, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    for block in blocks(page):
        if block.language != "python":
            continue
        code = compile("\n" * block.line + block.text, str(page), "exec")  # tracebacks: page lines
        try:
            exec(code, namespace)
        except Exception as exc:
            raise AssertionError(f"{block}: the block failed: {exc!r}") from exc
    AFTER.get(page.name, lambda *_: None)(namespace, tmp_path, capsys.readouterr().out)


# -- the README as a front door, links, generated blocks -------------------------------------


def test_the_readme_is_a_front_door():
    readme = ROOT / "README.md"
    assert len(readme.read_text().splitlines()) < 200
    argvs = [argv for b in blocks(readme) if b.language == "bash" for _, argv in commands(b)]
    # .ci/run and setup.sh's users run exactly these two
    assert argvs[:3] == [["bash", "setup.sh"], ["foretune", "run"], ["python", "-m", "pytest"]], argvs
    for page in (DOCS / "README.md", readme):
        text = page.read_text()
        unlinked = [p.name for p in DOCS.glob("*.md") if p.name != "README.md" and f"{p.name})" not in text]
        assert not unlinked, f"{page.relative_to(ROOT)} does not link {unlinked}"


def _slug(heading: str, seen: dict[str, int]) -> str:
    """GitHub's anchor of a heading (lower case, punctuation dropped, spaces as hyphens)."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
    seen[slug] = seen.get(slug, -1) + 1
    return f"{slug}-{seen[slug]}" if seen[slug] else slug


@cache
def anchors(page: Path) -> frozenset[str]:
    inside, seen, found = False, {}, set()
    for line in page.read_text().splitlines():
        inside ^= line.startswith("```")
        if not inside and (m := re.match(r"#{1,6} (.+)", line)):
            found.add(_slug(m.group(1), seen))
    return frozenset(found)


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_every_relative_link_and_anchor_resolves(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if not resolved.exists():
            bad.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            bad.append(f"{target}: no heading with that anchor")
    assert not bad, f"{page.relative_to(ROOT)}: {bad}"


def test_every_generated_block_lives_in_docs_benchmarks():
    """Each block a benchmark script rewrites (``--doc docs/benchmarks.md``) is there, once; the
    accuracy headline (``--summary README.md``) is in the README, once."""
    text = (DOCS / "benchmarks.md").read_text()
    names = {
        name
        for path in (ROOT / "benchmarks").glob("*.py")
        for name in re.findall(r"<!-- ([\w-]+):start -->", path.read_text())
    }
    assert {"accuracy-benchmark", "refit-full", "run-stages", "sweep-overhead"} <= names
    readme = (ROOT / "README.md").read_text()
    for name in sorted(names):
        page, where = (readme, "README.md") if name == "accuracy-summary" else (text, "docs/benchmarks.md")
        for marker in (f"<!-- {name}:start -->", f"<!-- {name}:end -->"):
            assert page.count(marker) == 1, f"{where} has {marker} {page.count(marker)} times"
