"""``python -m tap_gdrive_csv``: same as the ``tap-gdrive-csv`` console script."""

from __future__ import annotations

from tap_gdrive_csv.tap import main

main()
