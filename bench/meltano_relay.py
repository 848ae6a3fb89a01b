"""Benchmark: what Meltano itself spends relaying Singer lines from a tap to a loader.

``meltano run`` reads the tap's stdout line by line and writes each line to the loader's stdin
(``meltano.core.logging.capture_subprocess_output``: an asyncio ``readline``, a ``write`` and a
``drain`` per line). This bench runs that very function, in-process as Meltano does, between
``cat`` of a file of RECORD lines (the shape of the tap's deals_daily lines) and a sink that
discards them, and reports this process's own CPU seconds: the relay's cost without the tap or
the loader. As the baseline in the same run, the same pipes relayed by 256 KiB chunks instead
of lines (what a byte relay would cost). Prints a table and, last, one line of JSON with
``lines``, per-line ``relay`` and ``chunks`` figures (wall s, CPU s, µs of CPU per line), their
ratio and the load average. Reads and writes only its temporary folder.

    python bench/meltano_relay.py [--lines 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from meltano.core.logging.utils import capture_subprocess_output

# Meltano's `elt.buffer_size` default (100 MiB); a block's stdout reader gets half as its limit.
LINE_LIMIT = (100 << 20) // 2
CHUNK = 256 << 10
LINE = (
    '{{"type":"RECORD","stream":"deals_record","record":{{"deal_id":"{n}",'
    '"snapshot_date":"2026-01-{day:02d}","account":"Acme Corp","stage":"proposal",'
    '"amount":"12345.67","currency":"EUR","probability":"0.42","is_won":"false",'
    '"updated_at":"2026-11-{day:02d}T10:15:00Z"}},'
    '"time_extracted":"2026-12-02T18:00:00.000000Z"}}\n'
)


def write_lines(path: Path, lines: int) -> int:
    """Write ``lines`` RECORD lines; return bytes."""
    with path.open("w", encoding="utf-8") as out:
        for start in range(0, lines, 50_000):
            stop = min(start + 50_000, lines)
            out.write("".join(LINE.format(n=n, day=1 + n % 28) for n in range(start, stop)))
    return path.stat().st_size


async def _by_chunks(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(CHUNK):
        writer.write(data)
        await writer.drain()


async def _relay(path: Path, how: Callable[..., Awaitable[None]]) -> None:
    source = await asyncio.create_subprocess_exec(
        "cat", str(path), stdout=asyncio.subprocess.PIPE, limit=LINE_LIMIT
    )
    sink = await asyncio.create_subprocess_exec(
        "sh", "-c", "cat > /dev/null", stdin=asyncio.subprocess.PIPE
    )
    assert source.stdout is not None
    assert sink.stdin is not None
    await how(source.stdout, sink.stdin)
    sink.stdin.close()
    await source.wait()
    await sink.wait()


def timed(path: Path, how: Callable[..., Awaitable[None]], lines: int) -> dict[str, float]:
    """Relay the file once; wall seconds and this process's own CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    asyncio.run(_relay(path, how))
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "seconds": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_us_per_line": round(cpu / lines * 1e6, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ingestgen-bench-relay-") as tmp:
        path = Path(tmp) / "records.jsonl"
        size = write_lines(path, args.lines)
        print(f"{args.lines:,} RECORD lines, {size / 1e6:.0f} MB")
        relay = timed(path, capture_subprocess_output, args.lines)
        chunks = timed(path, _by_chunks, args.lines)
    for name, got in (("relay", relay), ("chunks", chunks)):
        print(
            f"{name:>6}: {got['seconds']:6.2f} s  CPU {got['cpu_s']:6.2f} s  "
            f"{got['cpu_us_per_line']:6.2f} µs CPU/line"
        )
    ratio = round(relay["cpu_s"] / max(chunks["cpu_s"], 0.01), 1)
    print(f"Meltano's line relay / chunk relay (CPU): {ratio}")
    summary = {
        "lines": args.lines,
        "relay": relay,
        "chunks": chunks,
        "cpu_ratio": ratio,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
