"""``python -m fluxstream`` = the ``fluxstream`` command."""

from .cli import main

raise SystemExit(main())
