"""Cluster entry point: forecast with a saved ensemble (``--model DIR --data PATH --out FILE``)."""

import sys

from foretune.cli import main


def foretune_argv(argv: list[str]) -> list[str]:
    """The ``foretune`` command line these flags stand for (tests/test_docs.py parses the docs'
    ``python jobs/predict.py ...`` commands through it and ``foretune.cli.build_parser``)."""
    return ["predict", *argv]


if __name__ == "__main__":
    sys.exit(main(foretune_argv(sys.argv[1:])))
