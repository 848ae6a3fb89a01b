"""Local-folder mode: records, bookmarks, skips and errors, in-process."""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from tap_gdrive_csv import TapGDriveCsv
from tap_gdrive_csv.exceptions import (
    ConfigError,
    CsvFormatError,
    FileNotFoundInSourceError,
    HeaderMismatchError,
)

Sync = Callable[..., Any]  # the `sync` fixture (see conftest)
Discover = Callable[[dict[str, Any]], dict[str, Any]]

DEALS = ["deal_id", "snapshot_date", "account", "stage", "amount", "currency", "is_won"]


def local_config(folder: Path, **extra: Any) -> dict[str, Any]:
    return {
        "local_folder": str(folder),
        "files": [
            {"file_id": "deals_2024_01.csv", "object": "deals_daily"},
            {"file_id": "deals_2024_02.csv", "object": "deals_daily"},
            {"file_id": "contacts.csv", "object": "contacts"},
        ],
        **extra,
    }


def bump_mtime(path: Path, seconds: float = 10) -> None:
    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + seconds))


def test_discovery_builds_one_string_stream_per_object(
    data_folder: Path, discover: Discover
) -> None:
    catalog = discover(local_config(data_folder))
    streams = {entry["tap_stream_id"]: entry for entry in catalog["streams"]}
    assert set(streams) == {"deals_daily", "contacts"}
    properties = streams["deals_daily"]["schema"]["properties"]
    assert list(properties) == DEALS
    assert all(prop == {"type": ["string", "null"]} for prop in properties.values())


def test_records_are_the_csv_cells_as_strings_with_empty_as_null(
    data_folder: Path, sync: Sync
) -> None:
    result = sync(local_config(data_folder))
    deals = result.records["deals_daily"]
    assert [r["deal_id"] for r in deals] == ["1", "2", "3", "1", "4"]
    assert deals[1] == {
        "deal_id": "2",
        "snapshot_date": "2024-01-31",
        "account": "Umbrella, Inc.",
        "stage": "prospect",
        "amount": None,
        "currency": "EUR",
        "is_won": "false",
    }
    assert deals[2]["account"] == "Wayne\nEnterprises"
    assert deals[4]["amount"] == "1,250.50"
    assert deals[4]["currency"] is None
    assert result.records["contacts"] == [
        {"contact_id": "10", "email": "ana@example.com", "name": "Ana"},
        {"contact_id": "11", "email": None, "name": 'Bo "the Builder"'},
    ]
    # Exactly the CSV's columns: no provenance columns for the loader to reject.
    assert all(set(r) == set(DEALS) for r in deals)


def test_state_holds_modified_time_and_md5_per_file(data_folder: Path, sync: Sync) -> None:
    result = sync(local_config(data_folder))
    files = result.state["bookmarks"]["deals_daily"]["files"]
    assert set(files) == {"deals_2024_01.csv", "deals_2024_02.csv"}
    entry = files["deals_2024_01.csv"]
    content = (data_folder / "deals_2024_01.csv").read_bytes()
    assert entry["md5"] == hashlib.md5(content, usedforsecurity=False).hexdigest()
    assert entry["rows"] == 3
    assert entry["modified_time"].endswith("Z")
    # The first file's bookmark is emitted after its rows and before the second file's rows.
    deals = [
        i
        for i, m in enumerate(result.messages)
        if m.get("stream") == "deals_daily" and m["type"] == "RECORD"
    ]
    between = result.messages[deals[2] + 1 : deals[3]]
    bookmarked = [
        set(m["value"]["bookmarks"]["deals_daily"]["files"])
        for m in between
        if m["type"] == "STATE" and "deals_daily" in m["value"]["bookmarks"]
    ]
    assert bookmarked == [{"deals_2024_01.csv"}]


def test_second_run_with_state_emits_no_records(data_folder: Path, sync: Sync) -> None:
    first = sync(local_config(data_folder))
    second = sync(local_config(data_folder), state=first.state)
    assert second.records == {}
    assert second.of_type("SCHEMA")  # schemas are still announced
    assert second.state == first.state


def test_changed_file_is_reread_whole_and_others_skipped(data_folder: Path, sync: Sync) -> None:
    first = sync(local_config(data_folder))
    changed = data_folder / "deals_2024_02.csv"
    changed.write_text(changed.read_text() + "5,2024-02-29,Hooli,won,10,EUR,true\n")
    bump_mtime(changed)
    second = sync(local_config(data_folder), state=first.state)
    assert [r["deal_id"] for r in second.records["deals_daily"]] == ["1", "4", "5"]
    assert "contacts" not in second.records
    files = second.state["bookmarks"]["deals_daily"]["files"]
    assert files["deals_2024_02.csv"]["rows"] == 3
    assert (
        files["deals_2024_01.csv"]
        == first.state["bookmarks"]["deals_daily"]["files"]["deals_2024_01.csv"]
    )


def test_touched_file_with_same_content_is_skipped_and_rebookmarked(
    data_folder: Path, sync: Sync
) -> None:
    first = sync(local_config(data_folder))
    bump_mtime(data_folder / "contacts.csv")
    second = sync(local_config(data_folder), state=first.state)
    assert second.records == {}
    before = first.state["bookmarks"]["contacts"]["files"]["contacts.csv"]
    after = second.state["bookmarks"]["contacts"]["files"]["contacts.csv"]
    assert after["md5"] == before["md5"]
    assert after["modified_time"] > before["modified_time"]


def test_full_refresh_reads_everything_every_time(data_folder: Path, sync: Sync) -> None:
    config = local_config(data_folder, incremental_strategy="full_refresh")
    first = sync(config)
    second = sync(config, state=first.state)
    assert len(second.records["deals_daily"]) == 5
    assert len(second.records["contacts"]) == 2


def test_bookmarks_of_unconfigured_files_are_dropped(data_folder: Path, sync: Sync) -> None:
    state = {"bookmarks": {"contacts": {"files": {"gone.csv": {"modified_time": "x", "md5": "y"}}}}}
    result = sync(local_config(data_folder), state=state)
    assert set(result.state["bookmarks"]["contacts"]["files"]) == {"contacts.csv"}


def test_deselected_column_is_not_emitted(
    data_folder: Path, sync: Sync, discover: Discover
) -> None:
    config = local_config(data_folder)
    catalog = discover(config)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"] == []:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == "deals_daily"
            elif meta["breadcrumb"] == ["properties", "amount"]:
                meta["metadata"]["selected"] = False
    result = sync(config, catalog=catalog)
    assert set(result.records) == {"deals_daily"}
    assert all("amount" not in r for r in result.records["deals_daily"])
    assert result.records["deals_daily"][0]["account"] == "Initech"


def test_all_columns_deselected_still_counts_rows(
    data_folder: Path, sync: Sync, discover: Discover
) -> None:
    config = local_config(data_folder)
    catalog = discover(config)
    for entry in catalog["streams"]:
        for meta in entry["metadata"]:
            if meta["breadcrumb"]:
                meta["metadata"]["selected"] = False
            else:
                meta["metadata"]["selected"] = entry["tap_stream_id"] == "contacts"
    result = sync(config, catalog=catalog)
    assert result.records["contacts"] == [{}, {}]


def test_stream_maps_use_the_sdk_record_path_with_the_same_values(
    data_folder: Path, sync: Sync
) -> None:
    plain = sync(local_config(data_folder))
    mapped = sync(local_config(data_folder, stream_maps={"contacts": {"email": "__NULL__"}}))
    assert mapped.records["deals_daily"] == plain.records["deals_daily"]
    assert mapped.records["contacts"] == [
        {"contact_id": "10", "name": "Ana"},
        {"contact_id": "11", "name": 'Bo "the Builder"'},
    ]


def test_dry_run_limit_stops_mid_file_without_bookmarking_it(data_folder: Path) -> None:
    tap = TapGDriveCsv(config=local_config(data_folder), parse_env_config=False)
    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with redirect_stdout(buffer):
        assert tap.run_sync_dry_run(dry_run_record_limit=2)
    buffer.seek(0)
    messages = [json.loads(line) for line in buffer.read().splitlines()]
    deals = [
        m["record"]["deal_id"]
        for m in messages
        if m["type"] == "RECORD" and m["stream"] == "deals_daily"
    ]
    assert deals == ["1", "2"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    deals_state = states[-1]["bookmarks"].get("deals_daily", {})
    assert "deals_2024_01.csv" not in deals_state.get("files", {})
    # contacts.csv has exactly 2 rows: read whole within the limit, so it is bookmarked.
    assert set(states[-1]["bookmarks"]["contacts"]["files"]) == {"contacts.csv"}


def test_semicolon_delimiter_and_latin1_encoding(tmp_path: Path, sync: Sync) -> None:
    (tmp_path / "eu.csv").write_bytes("id;città;note\n1;Forlì;\n2;Zürich;ok\n".encode("latin-1"))
    config = {
        "local_folder": str(tmp_path),
        "files": [{"file_id": "eu.csv", "object": "eu"}],
        "delimiter": ";",
        "encoding": "latin-1",
    }
    assert sync(config).records["eu"] == [
        {"id": "1", "città": "Forlì", "note": None},
        {"id": "2", "città": "Zürich", "note": "ok"},
    ]


def test_bom_crlf_and_header_only_files(tmp_path: Path, sync: Sync) -> None:
    (tmp_path / "excel.csv").write_bytes(b"\xef\xbb\xbfid,name\r\n1,Ana\r\n2,\r\n")
    (tmp_path / "empty.csv").write_bytes(b"id,name\r\n")
    config = {
        "local_folder": str(tmp_path),
        "files": [
            {"file_id": "excel.csv", "object": "people"},
            {"file_id": "empty.csv", "object": "people"},
        ],
    }
    result = sync(config)
    assert result.records["people"] == [{"id": "1", "name": "Ana"}, {"id": "2", "name": None}]
    assert result.state["bookmarks"]["people"]["files"]["empty.csv"]["rows"] == 0


def test_header_mismatch_between_files_of_one_object_fails_discovery(
    data_folder: Path, discover: Discover
) -> None:
    (data_folder / "deals_2024_02.csv").write_text("deal_id,account,region\n1,Initech,EU\n")
    with pytest.raises(HeaderMismatchError) as caught:
        discover(local_config(data_folder))
    message = str(caught.value)
    assert "'deals_2024_01.csv' and 'deals_2024_02.csv'" in message
    assert "'deals_daily'" in message
    assert "missing 'snapshot_date'" in message
    assert "unexpected 'region'" in message


def test_header_change_after_discovery_fails_the_sync(
    data_folder: Path, sync: Sync, discover: Discover
) -> None:
    config = local_config(data_folder)
    catalog = discover(config)
    (data_folder / "contacts.csv").write_text("contact_id,email,name,phone\n1,a@b,A,123\n")
    with pytest.raises(HeaderMismatchError) as caught:
        sync(config, catalog=catalog)
    assert "'contacts.csv'" in str(caught.value)
    assert "unexpected 'phone'" in str(caught.value)
    assert "run discovery again" in str(caught.value)


def _deselect(catalog: dict[str, Any], stream: str, column: str) -> dict[str, Any]:
    entry = next(e for e in catalog["streams"] if e["tap_stream_id"] == stream)
    for item in entry["metadata"]:
        if item["breadcrumb"] == ["properties", column]:
            item["metadata"]["selected"] = False
    return catalog


def test_headers_from_files_sends_a_changed_header_as_discovery_would(
    data_folder: Path, sync: Sync, discover: Discover
) -> None:
    # A catalog cached by the runner before the header changed: the new column reaches the
    # loader (its unknown_columns policy decides), a column deselected in the catalog stays out.
    catalog = _deselect(discover(local_config(data_folder)), "contacts", "email")
    (data_folder / "contacts.csv").write_text("contact_id,email,name,phone\n1,a@b,A,123\n")
    result = sync(local_config(data_folder, headers_from_files=True), catalog=catalog)
    assert result.records["contacts"] == [{"contact_id": "1", "name": "A", "phone": "123"}]
    schema = next(m for m in result.of_type("SCHEMA") if m["stream"] == "contacts")
    assert set(schema["schema"]["properties"]) == {"contact_id", "name", "phone"}
    assert len(result.records["deals_daily"]) == 5  # the other object is read as before


def test_headers_from_files_with_an_unchanged_header_keeps_the_catalog_selection(
    data_folder: Path, sync: Sync, discover: Discover
) -> None:
    catalog = _deselect(discover(local_config(data_folder)), "contacts", "email")
    config = local_config(data_folder, headers_from_files=True)
    assert sync(config, catalog=catalog).records["contacts"] == sync(
        local_config(data_folder), catalog=catalog
    ).records["contacts"]
    assert all("email" not in row for row in sync(config, catalog=catalog).records["contacts"])


def test_headers_from_files_fails_on_files_of_one_object_that_disagree(
    data_folder: Path, sync: Sync, discover: Discover
) -> None:
    catalog = discover(local_config(data_folder))
    (data_folder / "deals_2024_02.csv").write_text("deal_id,account,region\n1,Initech,EU\n")
    with pytest.raises(HeaderMismatchError) as caught:
        sync(local_config(data_folder, headers_from_files=True), catalog=catalog)
    assert "'deals_2024_01.csv' and 'deals_2024_02.csv'" in str(caught.value)
    assert "headers differ" in str(caught.value)


def test_missing_file_names_the_file_and_the_fix(data_folder: Path, discover: Discover) -> None:
    config = local_config(data_folder)
    config["files"].append({"file_id": "deals_2024_03.csv", "object": "deals_daily"})
    with pytest.raises(FileNotFoundInSourceError) as caught:
        discover(config)
    assert "'deals_2024_03.csv'" in str(caught.value)
    assert "source.files" in str(caught.value)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is empty"),
        (b"id,id\n1,2\n", "names the column 'id' twice"),
        (b"id,,x\n1,2,3\n", "column 2 of file"),
    ],
)
def test_unusable_headers_are_refused(
    tmp_path: Path, content: bytes, expected: str, discover: Discover
) -> None:
    (tmp_path / "bad.csv").write_bytes(content)
    config = {"local_folder": str(tmp_path), "files": [{"file_id": "bad.csv", "object": "bad"}]}
    with pytest.raises(CsvFormatError, match=expected):
        discover(config)


def test_ragged_row_is_a_format_error_naming_the_file(tmp_path: Path, sync: Sync) -> None:
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3,4,5\n")
    config = {"local_folder": str(tmp_path), "files": [{"file_id": "ragged.csv", "object": "r"}]}
    with pytest.raises(CsvFormatError, match=r"'ragged.csv'.*delimiter, quote_char and encoding"):
        sync(config)


def test_file_id_cannot_escape_the_folder(data_folder: Path, discover: Discover) -> None:
    config = {"local_folder": str(data_folder), "files": [{"file_id": "../x.csv", "object": "x"}]}
    with pytest.raises(ConfigError, match="points outside local_folder"):
        discover(config)


@pytest.mark.parametrize(
    ("content", "encoding", "delimiter"),
    [
        (b'id,"a ""quoted"", name","line\nbreak"\n1,2,3\n', "utf-8", ","),
        (b"\xef\xbb\xbfid;name\r\n1;x\r\n", "utf-8", ";"),
        (b"\n\nid,name\n1,x\n", "utf-8", ","),
        ("id,caf\u00e9,na\u00efve\n1,2,3\n".encode("latin-1"), "latin-1", ","),
        (b"id,name\n", "utf-8", ","),
    ],
    ids=[
        "quotes-and-line-break",
        "bom-crlf-semicolon",
        "blank-lines-first",
        "latin-1",
        "header-only",
    ],
)
def test_header_names_are_arrows_own(
    tmp_path: Path, content: bytes, encoding: str, delimiter: str
) -> None:
    # The header is parsed without Arrow (no background reads at exit); the rows with Arrow.
    # Both must agree on every shape a spreadsheet export takes.
    import pyarrow.csv as pacsv

    from tap_gdrive_csv.configuration import CsvOptions
    from tap_gdrive_csv.csvfile import header_of
    from tap_gdrive_csv.sources.base import FileVersion

    path = tmp_path / "f.csv"
    path.write_bytes(content)
    options = CsvOptions(delimiter=delimiter, encoding=encoding)
    version = FileVersion("f.csv", "f.csv", "text/csv", "2024-01-01T00:00:00Z", None, None)
    arrow = pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(encoding=encoding),
        parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
    )
    assert header_of(path, version, options) == arrow.schema.names


def test_a_local_folder_run_never_imports_the_drive_client() -> None:
    # Per-run cost: JWT, cryptography and the Drive client load only when Drive is read.
    import subprocess
    import sys

    code = (
        "import sys, tap_gdrive_csv.tap; "
        "print(sorted({'jwt', 'cryptography', 'tap_gdrive_csv.auth'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
