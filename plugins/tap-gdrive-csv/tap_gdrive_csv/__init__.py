"""tap-gdrive-csv: Singer tap for CSV files and Google Sheets on Google Drive."""

from __future__ import annotations

from tap_gdrive_csv.tap import TapGDriveCsv, main

__all__ = ["TapGDriveCsv", "main"]
