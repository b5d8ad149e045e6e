"""``python -m delineate_runtime ...`` (see cli.py)."""

from .cli import main

raise SystemExit(main())
