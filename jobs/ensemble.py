"""Cluster entry point: build the ensemble of a finished sweep (``--run DIR``)."""

import sys

from foretune.cli import main


def foretune_argv(argv: list[str]) -> list[str]:
    """The ``foretune`` command line these flags stand for (tests/test_docs.py parses the docs'
    ``python jobs/ensemble.py ...`` commands through it and ``foretune.cli.build_parser``)."""
    return ["ensemble", *argv]


if __name__ == "__main__":
    sys.exit(main(foretune_argv(sys.argv[1:])))
