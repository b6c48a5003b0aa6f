"""``python -m foretune`` is the ``foretune`` command."""

import sys

from foretune.cli import main

sys.exit(main())
