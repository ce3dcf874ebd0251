"""``python -m scalesearch.cli``: how worker processes are started (search/runtime/workers.py)."""

import sys

from scalesearch.cli import main

sys.exit(main())
