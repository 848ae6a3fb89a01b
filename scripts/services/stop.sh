#!/usr/bin/env bash
# Stop the services that start.sh started (logs under .services/logs/ are kept).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
py="${INGESTGEN_PYTHON:-$repo/.venv/bin/python}"
[ -x "$py" ] || py="$(command -v python3)"
exec "$py" "$here/servicectl.py" stop "$@"
