"""`python -m cockpit` is the same as the `cockpit` console script."""

from __future__ import annotations

from cockpit.cli import main

raise SystemExit(main())
