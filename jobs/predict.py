"""Cluster entry point: forecast with a saved ensemble (``--model DIR --data PATH --out FILE``)."""

import sys

from foretune.cli import main

if __name__ == "__main__":
    sys.exit(main(["predict", *sys.argv[1:]]))
