"""``python -m ting_cli`` = ``ting``."""

import sys

from ting_cli.main import main

sys.exit(main())
