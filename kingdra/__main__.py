"""``python -m kingdra``: see :mod:`kingdra.cli`."""

from kingdra.cli import main

raise SystemExit(main())
