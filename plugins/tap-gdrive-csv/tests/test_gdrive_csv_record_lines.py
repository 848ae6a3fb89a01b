"""The RECORD fast path (columns to JSON lines) against the per-record encoder and the SDK's path.

The fast path writes a chunk's rows from its columns without a dict per row; these tests hold it
to the same bytes as encoding each row as a dict, and to the same messages as the SDK's own
per-record path (its default writer, its record loop), on input chosen to break an encoder.
"""

from __future__ import annotations

import datetime
import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.io_base import SingerWriter

from tap_gdrive_csv import TapGDriveCsv
from tap_gdrive_csv.exceptions import CsvFormatError
from tap_gdrive_csv.output import FastSingerWriter

# Every character a JSON encoder must escape, and some it must not.
TRICKY = [
    'say "hi"',
    "back\\slash \\n not a newline",
    "line\nbreak",
    "cr\r\nlf",
    "tab\there",
    "nul\x00 and \x1f and \x7f",
    "é 漢字 😀",
    "\u2028\u2029",
    "</script>",
    "",
    None,
    "{\"type\":\"RECORD\"}\n",
]
# Names a Struct can carry (any text msgspec need not escape), and names it cannot.
STRUCT_NAMES = ["plain", "spa ce", "ünï 漢", "1st", "type", "</x>"]
ESCAPED_NAMES = ["plain", 'quo"te', "back\\slash", "ctl\x01"]
WHEN = datetime.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=datetime.UTC)


def _bytes_of(write: Any) -> bytes:
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(buffer):
        write(FastSingerWriter())
    buffer.flush()
    return buffer.buffer.getvalue()  # type: ignore[attr-defined]


@pytest.mark.parametrize("names", [STRUCT_NAMES, ESCAPED_NAMES], ids=["struct", "escaped"])
@pytest.mark.parametrize("version", [None, 1767322245678])
@pytest.mark.parametrize("time_extracted", [None, WHEN])
def test_columns_encode_to_the_bytes_of_one_dict_per_row(
    names: list[str], version: int | None, time_extracted: datetime.datetime | None
) -> None:
    # Each column a rotation of TRICKY, so every value meets every key and position.
    columns = [TRICKY[i:] + TRICKY[:i] for i in range(len(names))]
    rows = [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]
    options: dict[str, Any] = {"version": version, "time_extracted": time_extracted}

    fast = _bytes_of(
        lambda w: w.write_columns("s\u00e9\"q", names, columns, num_rows=len(TRICKY), **options)
    )
    reference = _bytes_of(lambda w: w.write_records("s\u00e9\"q", rows, **options))

    assert fast == reference
    lines = fast.decode().split("\n")
    assert lines[-1] == "" and len(lines) == len(TRICKY) + 1
    assert [json.loads(line)["record"] for line in lines[:-1]] == rows


def test_no_columns_still_writes_one_empty_record_per_row() -> None:
    fast = _bytes_of(lambda w: w.write_columns("s", [], [], num_rows=3))
    assert fast == _bytes_of(lambda w: w.write_records("s", [{}, {}, {}]))
    assert fast.count(b'"record":{}') == 3


def test_an_empty_chunk_writes_nothing_and_ragged_columns_are_refused() -> None:
    assert _bytes_of(lambda w: w.write_columns("s", ["a"], [[]], num_rows=0)) == b""
    with pytest.raises(ValueError, match="num_rows"):
        _bytes_of(lambda w: w.write_columns("s", ["a", "b"], [["1"], ["2", "3"]], num_rows=1))


class _SdkPathTap(TapGDriveCsv):
    """The same tap with the SDK's own writer: its streams take the SDK's per-record path."""

    message_writer_class = SingerWriter


def _messages(
    tap_class: type[TapGDriveCsv], config: dict[str, Any], catalog: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], Exception | None]:
    """Every message a sync writes (time_extracted values blanked) and the error it ended with."""
    tap = tap_class(config=config, catalog=catalog, parse_env_config=False)
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    error: Exception | None = None
    with redirect_stdout(buffer):
        try:
            tap.sync_all()
        except CsvFormatError as exc:
            error = exc
    buffer.seek(0)
    # split("\n"), not splitlines(): U+2028 inside a value is no line break in JSON lines.
    messages = [json.loads(line) for line in buffer.read().split("\n") if line.strip()]
    for message in messages:
        if "time_extracted" in message:
            datetime.datetime.fromisoformat(message["time_extracted"])  # a valid timestamp
            message["time_extracted"] = "<when>"
    return messages, error


def _assert_same_messages(fast: list[dict[str, Any]], sdk: list[dict[str, Any]]) -> None:
    """The same SCHEMA and RECORD messages in the same order, and the same bookmarks.

    STATE messages are compared by value: the SDK's record loop also repeats the state after
    every 10,000th record, while the fast path writes one when a bookmark moved (after a file)
    and at the end; every state the fast path writes is one the SDK path wrote too.
    """
    assert [m for m in fast if m["type"] != "STATE"] == [m for m in sdk if m["type"] != "STATE"]
    fast_states = [m["value"] for m in fast if m["type"] == "STATE"]
    sdk_states = [m["value"] for m in sdk if m["type"] == "STATE"]
    assert fast_states and fast_states[-1] == sdk_states[-1]
    assert all(state in sdk_states for state in fast_states)


def _tricky_csv(folder: Path, rows: int = 25_000, name: str = '"na me"') -> dict[str, Any]:
    """A CSV with quotes, empty and quoted-empty cells, unicode and line breaks in cells.

    Over 1 MiB, so the fast path writes several chunks.
    """
    lines = [f'id,{name},note,emoji,empty\r\n']
    for n in range(rows):
        note = ['"multi\nline, ""quoted"""', "back\\slash", "", '""', "tab\tcell"][n % 5]
        emoji = ["😀 漢字", "é", "\u2028", "plain text that is a little longer"][n % 4]
        lines.append(f"{n},\"Ana \"\"{n}\"\"\",{note},{emoji},\r\n")
    (folder / "tricky.csv").write_text("".join(lines), encoding="utf-8", newline="")
    return {"local_folder": str(folder), "files": [{"file_id": "tricky.csv", "object": "tricky"}]}


def test_the_fast_path_writes_the_messages_of_the_sdk_path(tmp_path: Path) -> None:
    config = _tricky_csv(tmp_path)
    fast, fast_error = _messages(TapGDriveCsv, config)
    sdk, sdk_error = _messages(_SdkPathTap, config)

    assert fast_error is None and sdk_error is None
    _assert_same_messages(fast, sdk)
    records = [m["record"] for m in fast if m["type"] == "RECORD"]
    assert len(records) == 25_000
    assert records[0] == {
        "id": "0", "na me": 'Ana "0"', "note": 'multi\nline, "quoted"', "emoji": "😀 漢字",
        "empty": None,
    }
    assert records[2]["note"] is None and records[3]["note"] is None  # empty and quoted empty
    assert all(m["time_extracted"] == "<when>" for m in fast if m["type"] == "RECORD")
    assert fast[-1]["value"]["bookmarks"]["tricky"]["files"]["tricky.csv"]["rows"] == 25_000


def test_the_fast_path_follows_the_catalog_selection_as_the_sdk_path_does(
    tmp_path: Path,
) -> None:
    config = _tricky_csv(tmp_path, rows=50)
    catalog = TapGDriveCsv(config=config, parse_env_config=False).catalog_dict
    for meta in catalog["streams"][0]["metadata"]:
        if meta["breadcrumb"] in (["properties", "note"], ["properties", "na me"]):
            meta["metadata"]["selected"] = False
        elif not meta["breadcrumb"]:
            meta["metadata"]["selected"] = True
    fast, _ = _messages(TapGDriveCsv, config, catalog)
    sdk, _ = _messages(_SdkPathTap, config, catalog)

    _assert_same_messages(fast, sdk)
    records = [m["record"] for m in fast if m["type"] == "RECORD"]
    assert list(records[0]) == ["id", "emoji", "empty"]


def test_a_quote_in_a_column_name_keeps_the_messages_of_the_sdk_path(tmp_path: Path) -> None:
    config = _tricky_csv(tmp_path, rows=100, name='"na""me"')
    fast, _ = _messages(TapGDriveCsv, config)
    sdk, _ = _messages(_SdkPathTap, config)

    _assert_same_messages(fast, sdk)
    assert [m["record"] for m in fast if m["type"] == "RECORD"][1]['na"me'] == 'Ana "1"'


def test_a_bad_row_fails_both_paths_alike(tmp_path: Path) -> None:
    # Rows in the first block, then a ragged row: both paths stop with the same error.
    rows = "".join(f"{n},x\n" for n in range(10))
    (tmp_path / "bad.csv").write_text(f"id,v\n{rows}10,x,extra\n")
    config = {"local_folder": str(tmp_path), "files": [{"file_id": "bad.csv", "object": "bad"}]}
    fast, fast_error = _messages(TapGDriveCsv, config)
    sdk, sdk_error = _messages(_SdkPathTap, config)

    assert isinstance(fast_error, CsvFormatError) and isinstance(sdk_error, CsvFormatError)
    assert str(fast_error) == str(sdk_error)
    assert "'bad.csv'" in str(fast_error)
    assert fast == sdk
    assert not [m for m in fast if m["type"] == "RECORD"]
