"""``python -m ingestgen``."""

from __future__ import annotations

from ingestgen.cli.console import main

main()
