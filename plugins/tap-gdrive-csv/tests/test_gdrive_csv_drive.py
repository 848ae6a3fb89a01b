"""API mode against the local Drive v3 server: auth flows, Sheets, skips counted in requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from gdrive import DriveServer

from tap_gdrive_csv import TapGDriveCsv
from tap_gdrive_csv.exceptions import (
    AccessDeniedError,
    AuthError,
    CsvFormatError,
    FileNotFoundInSourceError,
    SourceFileError,
    TapGDriveCsvError,
)

Sync = Callable[..., Any]
Discover = Callable[[dict[str, Any]], dict[str, Any]]

JAN = "deal_id,account,amount\n1,Initech,10.50\n2,Umbrella,\n"
FEB = "deal_id,account,amount\n3,Hooli,7\n"


def api_config(server: DriveServer, **auth: Any) -> dict[str, Any]:
    return {
        "api_base_url": server.base_url,
        "files": [
            {"file_id": "1JanFileID", "object": "deals_daily"},
            {"file_id": "1FebFileID", "object": "deals_daily"},
        ],
        **(auth or {"oauth_token": server.issue_token()}),
    }


@pytest.fixture
def drive(gdrive_server: DriveServer) -> DriveServer:
    gdrive_server.add_file("1JanFileID", JAN, name="deals_2024_01.csv")
    gdrive_server.add_file("1FebFileID", FEB, name="deals_2024_02.csv")
    return gdrive_server


def test_oauth_token_reads_both_files(drive: DriveServer, sync: Sync) -> None:
    result = sync(api_config(drive))
    assert result.records["deals_daily"] == [
        {"deal_id": "1", "account": "Initech", "amount": "10.50"},
        {"deal_id": "2", "account": "Umbrella", "amount": None},
        {"deal_id": "3", "account": "Hooli", "amount": "7"},
    ]
    files = result.state["bookmarks"]["deals_daily"]["files"]
    assert files["1JanFileID"]["modified_time"] == drive.get_file("1JanFileID").modified_time
    assert files["1JanFileID"]["md5"] == drive.get_file("1JanFileID").resource()["md5Checksum"]
    assert files["1JanFileID"]["name"] == "deals_2024_01.csv"
    # Metadata asked for exactly the documented fields, on all drives.
    metadata = [r for r in drive.requests if r.kind == "metadata"]
    assert metadata
    assert all(
        r.query
        == {"fields": "id,name,mimeType,modifiedTime,md5Checksum,size", "supportsAllDrives": "true"}
        for r in metadata
    )
    # Discovery read only a ranged head of each file; the sync downloaded each once.
    assert drive.count("media", "1JanFileID", ranged=True) == 1
    assert drive.downloads("1JanFileID") == 1
    assert drive.downloads("1FebFileID") == 1


def test_unchanged_files_are_not_downloaded_again(drive: DriveServer, sync: Sync) -> None:
    config = api_config(drive)
    first = sync(config)
    drive.clear_log()
    second = sync(config, state=first.state)
    assert second.records == {}
    assert drive.downloads() == 0
    assert second.state == first.state


def test_changed_file_is_downloaded_and_reread_whole(drive: DriveServer, sync: Sync) -> None:
    config = api_config(drive)
    first = sync(config)
    drive.update_file("1FebFileID", FEB + "4,Pied Piper,99\n")
    drive.clear_log()
    second = sync(config, state=first.state)
    assert [r["deal_id"] for r in second.records["deals_daily"]] == ["3", "4"]
    assert drive.downloads("1FebFileID") == 1
    assert drive.downloads("1JanFileID") == 0
    files = second.state["bookmarks"]["deals_daily"]["files"]
    assert files["1FebFileID"]["modified_time"] == drive.get_file("1FebFileID").modified_time
    assert files["1FebFileID"]["rows"] == 2


def test_new_modified_time_with_same_md5_skips_without_download(
    drive: DriveServer, sync: Sync
) -> None:
    config = api_config(drive)
    first = sync(config)
    touched = drive.touch("1JanFileID")
    drive.clear_log()
    second = sync(config, state=first.state)
    assert second.records == {}
    assert drive.downloads() == 0
    entry = second.state["bookmarks"]["deals_daily"]["files"]["1JanFileID"]
    assert entry["modified_time"] == touched.modified_time


def test_google_sheet_is_exported_as_csv(gdrive_server: DriveServer, sync: Sync) -> None:
    gdrive_server.add_spreadsheet("1SheetID", "region,target\nEMEA,100\nAPAC,\n", name="Targets")
    config = {
        "api_base_url": gdrive_server.base_url,
        "oauth_token": gdrive_server.issue_token(),
        "files": [{"file_id": "1SheetID", "object": "targets"}],
    }
    first = sync(config)
    assert first.records["targets"] == [
        {"region": "EMEA", "target": "100"},
        {"region": "APAC", "target": None},
    ]
    exports = [r for r in gdrive_server.requests if r.kind == "export"]
    assert {r.query["mimeType"] for r in exports} == {"text/csv"}
    assert gdrive_server.count("media") == 0  # Sheets are never fetched with alt=media
    entry = first.state["bookmarks"]["targets"]["files"]["1SheetID"]
    assert entry["md5"]  # taken from the exported bytes: Drive gives Sheets no md5Checksum

    gdrive_server.clear_log()
    second = sync(config, state=first.state)
    assert second.records == {}
    assert gdrive_server.count("export", status=200) == 1  # discovery's header read only
    gdrive_server.update_file("1SheetID", "region,target\nEMEA,120\n")
    third = sync(config, state=second.state)
    assert third.records["targets"] == [{"region": "EMEA", "target": "120"}]


def test_service_account_jwt_flow(drive: DriveServer, sync: Sync) -> None:
    key = drive.service_account_key()
    config = api_config(drive, service_account_key=json.dumps(key))
    result = sync(config)
    assert len(result.records["deals_daily"]) == 3
    # One token minted at the key's token_uri, then reused for every Drive call.
    assert drive.count("token", status=200) == 1
    assert drive.count("metadata", status=200) >= 2


def test_service_account_token_is_renewed_after_401(drive: DriveServer) -> None:
    key = drive.service_account_key()
    tap = TapGDriveCsv(
        config=api_config(drive, service_account_key=json.dumps(key)), parse_env_config=False
    )
    drive.expire_tokens()  # the token minted during discovery is now refused
    drive.clear_log()
    version = tap.source.describe("1JanFileID")  # 401, a new token, then 200
    assert version.name == "deals_2024_01.csv"
    assert [(r.kind, r.status) for r in drive.requests] == [
        ("metadata", 401),
        ("token", 200),
        ("metadata", 200),
    ]


def test_revoked_service_account_key_names_the_fix(drive: DriveServer, discover: Discover) -> None:
    key = drive.service_account_key()
    drive.revoke_key(key["private_key_id"])
    with pytest.raises(AuthError) as caught:
        discover(api_config(drive, service_account_key=json.dumps(key)))
    message = str(caught.value)
    assert key["client_email"] in message
    assert "invalid_grant" in message
    assert "TAP_GDRIVE_CSV_SERVICE_ACCOUNT_KEY" in message
    assert key["private_key"] not in message


def test_rejected_oauth_token_names_the_fix(drive: DriveServer, discover: Discover) -> None:
    with pytest.raises(AuthError) as caught:
        discover(api_config(drive, oauth_token="ya29.stale"))
    message = str(caught.value)
    assert "HTTP 401" in message
    assert "'1JanFileID'" in message
    assert "TAP_GDRIVE_CSV_OAUTH_TOKEN" in message
    assert "ya29.stale" not in message


def test_missing_file_is_404_with_file_id_and_sharing_hint(
    drive: DriveServer, discover: Discover
) -> None:
    drive.remove_file("1FebFileID")
    with pytest.raises(FileNotFoundInSourceError) as caught:
        discover(api_config(drive))
    message = str(caught.value)
    assert "'1FebFileID'" in message
    assert "HTTP 404 notFound: File not found: 1FebFileID." in message
    assert "share the file" in message


def test_denied_file_is_403_with_sharing_hint(drive: DriveServer, discover: Discover) -> None:
    drive.deny("1JanFileID")
    key = drive.service_account_key("reader@proj.iam.gserviceaccount.com")
    with pytest.raises(AccessDeniedError) as caught:
        discover(api_config(drive, service_account_key=json.dumps(key)))
    message = str(caught.value)
    assert "'1JanFileID'" in message
    assert "appNotAuthorizedToFile" in message
    assert "reader@proj.iam.gserviceaccount.com" in message


def test_transient_errors_are_retried(drive: DriveServer, sync: Sync) -> None:
    drive.fail_next("media", 503, times=2, file_id="1FebFileID")
    drive.fail_next("metadata", 403, "userRateLimitExceeded", file_id="1JanFileID")
    result = sync(api_config(drive))
    assert len(result.records["deals_daily"]) == 3
    assert drive.count("media", "1FebFileID", status=503) == 2


def test_persistent_rate_limit_gives_up_with_a_transient_error(
    drive: DriveServer, discover: Discover
) -> None:
    drive.fail_next("metadata", 429, "rateLimitExceeded", times=10)
    with pytest.raises(SourceFileError) as caught:
        discover({**api_config(drive), "max_retries": 3})
    assert caught.value.transient
    assert "after 3 attempts" in str(caught.value)
    assert drive.count("metadata", status=429) == 3


def test_empty_drive_file_is_refused_without_a_range_request(
    gdrive_server: DriveServer, discover: Discover
) -> None:
    gdrive_server.add_file("1EmptyID", b"", name="empty.csv")
    config = {
        "api_base_url": gdrive_server.base_url,
        "oauth_token": gdrive_server.issue_token(),
        "files": [{"file_id": "1EmptyID", "object": "empty"}],
    }
    with pytest.raises(CsvFormatError, match=r"'1EmptyID' \(empty.csv\) is empty"):
        discover(config)
    assert gdrive_server.count("media") == 0


def test_unreachable_api_is_retried_then_reported(discover: Discover) -> None:
    with DriveServer() as server:
        base_url, token = server.base_url, server.issue_token()
    config = {  # the server is stopped: connections are refused
        "api_base_url": base_url,
        "oauth_token": token,
        "max_retries": 2,
        "files": [{"file_id": "1JanFileID", "object": "deals_daily"}],
    }
    with pytest.raises(TapGDriveCsvError) as caught:
        discover(config)
    assert caught.value.transient
    assert f"could not reach {base_url}/drive/v3/files/1JanFileID" in str(caught.value)
    assert "after 2 attempts" in str(caught.value)


def test_google_doc_is_refused(gdrive_server: DriveServer, discover: Discover) -> None:
    gdrive_server.add_file(
        "1DocID", "x", name="Notes", mime_type="application/vnd.google-apps.document"
    )
    config = {
        "api_base_url": gdrive_server.base_url,
        "oauth_token": gdrive_server.issue_token(),
        "files": [{"file_id": "1DocID", "object": "notes"}],
    }
    with pytest.raises(SourceFileError, match="point file_id at a CSV file or a Google Sheet"):
        discover(config)


def test_large_header_needs_more_than_one_ranged_read(
    gdrive_server: DriveServer, discover: Discover
) -> None:
    columns = [f"column_{i:05d}_with_a_long_name" for i in range(4000)]  # ~130 KB header
    gdrive_server.add_file("1WideID", ",".join(columns) + "\n" + ",".join("1" * 4000) + "\n")
    config = {
        "api_base_url": gdrive_server.base_url,
        "oauth_token": gdrive_server.issue_token(),
        "files": [{"file_id": "1WideID", "object": "wide"}],
    }
    catalog = discover(config)
    assert list(catalog["streams"][0]["schema"]["properties"]) == columns
    assert gdrive_server.count("media", "1WideID", ranged=True) == 2
    assert gdrive_server.downloads() == 0


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"files": [{"file_id": "x", "object": "o"}]}, "TAP_GDRIVE_CSV_OAUTH_TOKEN"),
        (
            {"files": [{"file_id": "x", "object": "o"}], "service_account_key": "/path/key.json"},
            "not valid JSON",
        ),
        (
            {"files": [{"file_id": "x", "object": "1bad"}], "oauth_token": "t"},
            "not a valid object name",
        ),
        (
            {
                "files": [{"file_id": "x", "object": "o"}],
                "oauth_token": "t",
                "service_account_key": json.dumps(
                    {"client_email": "a", "private_key": "b", "token_uri": "c"}
                ),
            },
            "keep only one",
        ),
    ],
)
def test_configuration_errors(config: dict[str, Any], expected: str, discover: Discover) -> None:
    with pytest.raises(TapGDriveCsvError, match=expected):
        discover(config)
