"""`python -m shrooms.cli`: the `shrooms` command."""

import sys

from . import main

sys.exit(main())
