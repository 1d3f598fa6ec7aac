"""The Textual UI. Imports cockpit/ and themes/, never backends/."""

from __future__ import annotations
