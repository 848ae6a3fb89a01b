"""The progress line: phases, record counts and throughput from real Meltano lines, and the
terminal/pipe behaviour of the console."""

from __future__ import annotations

import io
import time

from ingestgen.run.progress import Console, Progress

# Lines as `meltano run` prints them (plugin name, then the plugin's own message).
LINES = [
    "2026-11-26T19:45:39.770247Z [info     ] meltano      Running catalog discovery",
    "2026-11-26T19:45:50.256218Z [info     ] tap-gdrive-csv--deals_daily Beginning sync of "
    "'deals_daily' in full_table mode",
    '2026-11-26T19:45:50.355968Z [info     ] tap-gdrive-csv--deals_daily METRIC: {"type":'
    '"counter","metric":"record_count","value":30,"tags":{"stream":"deals_daily","pid":1}}',
    '2026-11-26T19:45:50.355968Z [info     ] tap-gdrive-csv--deals_daily METRIC: {"type":'
    '"counter","metric":"record_count","value":20,"tags":{"stream":"deals_daily","pid":1}}',
    '2026-11-26T19:45:50.355890Z [info     ] tap-gdrive-csv--deals_daily METRIC: {"type":"timer",'
    '"metric":"sync_duration","value":0.11,"tags":{"stream":"deals_daily"}}',
    "2026-11-26T19:45:57.702457Z [info     ] target-iceberg--deals_daily run 006b721c into "
    "namespace acme",
    "2026-11-26T19:45:58.032343Z [info     ] target-iceberg--deals_daily committed "
    "acme.deals_daily: snapshot 4293729381510967003, 1 file(s)",
]


def test_progress_follows_phases_and_sums_record_counters() -> None:
    progress = Progress("acme/deals_daily", ["deals_daily"])
    assert progress.phase == "starting"
    progress.feed(LINES[0])
    assert progress.phase == "discovering streams"
    progress.feed(LINES[1])
    assert progress.phase == "extracting"
    for line in LINES[2:5]:
        progress.feed(line)
    assert progress.records == {"deals_daily": 50}  # counters are increments; timers ignored
    progress.feed(LINES[5])
    assert progress.phase == "loading"
    progress.feed(LINES[6])
    line = progress.line()
    assert line.startswith("acme/deals_daily  00:00  committing  50 records read (")
    assert line.endswith("/s)  committed 1/1 streams")


def test_garbage_metric_lines_are_ignored() -> None:
    progress = Progress("a/b", ["s"])
    progress.feed("x METRIC: {not json}")
    progress.feed('x METRIC: {"type":"counter","metric":"http_request_count","value":9}')
    assert progress.total_records == 0


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_progress_line_stays_under_the_log() -> None:
    out = Terminal()
    with Console(out, Progress("acme/j", ["s"]), tick_s=3600) as console:
        console.line("first")
        console.line("second")
    text = out.getvalue()
    assert text.startswith("\r\x1b[Kfirst\nacme/j  00:00  starting\r\x1b[Ksecond\n")
    assert text.endswith("\r\x1b[K")  # the progress line is cleared at the end


def test_the_elapsed_time_ticks_while_plugins_are_quiet() -> None:
    out = Terminal()
    with Console(out, Progress("acme/j", ["s"]), tick_s=0.05):
        time.sleep(0.3)
    assert out.getvalue().count("\r\x1b[Kacme/j  00:00  starting") >= 2


def test_in_a_pipe_only_log_lines_are_written() -> None:
    out = io.StringIO()
    with Console(out, Progress("acme/j", ["s"])) as console:
        console.line("first")
        console.line("second")
    assert out.getvalue() == "first\nsecond\n"
