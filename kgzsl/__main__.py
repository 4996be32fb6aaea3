"""``python -m kgzsl``: the ``kgzsl`` command."""

import sys

from kgzsl.cli import main

sys.exit(main())
