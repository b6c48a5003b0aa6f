"""Cluster entry point: ``ray job submit --working-dir . -- python jobs/sweep.py [flags]``.

Takes the same flags as ``foretune run`` (plus ``--sweep-only``). Inside a submitted job Ray sets
``RAY_ADDRESS``, so this connects to that cluster and never starts its own.
"""

import sys

from foretune.cli import main


def foretune_argv(argv: list[str]) -> list[str]:
    """The ``foretune`` command line these flags stand for (tests/test_docs.py parses the docs'
    ``python jobs/sweep.py ...`` commands through it and ``foretune.cli.build_parser``)."""
    command = "sweep" if "--sweep-only" in argv else "run"
    return [command, *[a for a in argv if a != "--sweep-only"]]


if __name__ == "__main__":
    sys.exit(main(foretune_argv(sys.argv[1:])))
