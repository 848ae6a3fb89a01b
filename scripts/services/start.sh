#!/usr/bin/env bash
# Start the local S3 server and Nessie (idempotent). Options: see `start.sh --help`.
# Writes .services/env; logs go to .services/logs/. Stop with scripts/services/stop.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
py="${INGESTGEN_PYTHON:-$repo/.venv/bin/python}"
[ -x "$py" ] || py="$(command -v python3)"
exec "$py" "$here/servicectl.py" start "$@"
