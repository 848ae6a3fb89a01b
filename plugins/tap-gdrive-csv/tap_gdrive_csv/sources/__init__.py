"""Where CSV files come from: Google Drive (API v3) or a local folder.

Both sources answer the same two questions, "what version of this file is there now?" and
"give me its bytes", so the stream never knows which one it talks to. Sources only read:
they must never modify, move or share a file.
"""

from __future__ import annotations

from tap_gdrive_csv.sources.base import FileSource, FileVersion

__all__ = ["FileSource", "FileVersion"]
