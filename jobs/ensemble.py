"""Cluster entry point: build the ensemble of a finished sweep (``--run DIR``)."""

import sys

from foretune.cli import main

if __name__ == "__main__":
    sys.exit(main(["ensemble", *sys.argv[1:]]))
