"""Cluster entry point: ``ray job submit --working-dir . -- python jobs/sweep.py [flags]``.

Takes the same flags as ``foretune run`` (plus ``--sweep-only``). Inside a submitted job Ray sets
``RAY_ADDRESS``, so this connects to that cluster and never starts its own.
"""

import sys

from foretune.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    command = "sweep" if "--sweep-only" in argv else "run"
    sys.exit(main([command, *[a for a in argv if a != "--sweep-only"]]))
