"""A tiny bookmarking Singer tap for the fault tests: three streams, ids 1..ROWS each.

Reads ``--state`` (Meltano passes it), sends the records past each stream's bookmark, a STATE
every few rows and a final STATE. ``DYING_TAP_FAIL_AFTER=N`` makes it stop after N records:
one error line on stderr and exit 2, as a tap whose source broke mid-stream does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

STREAMS = ("accounts", "deals", "notes")
PROPS = {"id": {"type": "integer"}, "name": {"type": "string"}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--state")
    parser.add_argument("--catalog")
    parser.add_argument("--discover", action="store_true")
    args = parser.parse_args()
    rows = int(os.environ.get("DYING_TAP_ROWS", "30"))
    fail_after = int(os.environ.get("DYING_TAP_FAIL_AFTER", "0"))
    state = json.loads(open(args.state).read()) if args.state else {}  # noqa: PTH123, SIM115
    marks = state.get("bookmarks", {})
    out = sys.stdout
    for stream in STREAMS:
        schema = {"type": "object", "properties": PROPS}
        out.write(json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema,
                              "key_properties": ["id"]}) + "\n")  # fmt: skip
    sent = 0
    for i in range(1, rows + 1):
        for stream in STREAMS:
            if i <= marks.get(stream, 0):
                continue
            if fail_after and sent == fail_after:
                out.flush()
                sys.stderr.write("dying-tap: the source connection was reset mid-stream\n")
                sys.exit(2)
            record = {"id": i, "name": f"{stream}-{i}"}
            out.write(json.dumps({"type": "RECORD", "stream": stream, "record": record}) + "\n")
            sent += 1
        if i % 4 == 0 or i == rows:
            value = {"bookmarks": {s: max(i, marks.get(s, 0)) for s in STREAMS}}
            out.write(json.dumps({"type": "STATE", "value": value}) + "\n")
    out.flush()


if __name__ == "__main__":
    main()
