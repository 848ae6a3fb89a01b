"""tap-gdrive-csv: a Singer tap for CSV files and Google Sheets on Google Drive.

Each distinct ``object`` in ``files`` is one stream whose schema is the CSV header (all columns
nullable strings). Discovery reads only each file's header (a ranged download); with an input
catalog the catalog's columns are used and files are checked against them while reading, unless
``headers_from_files`` asks for the files' headers again (for runners that cache the catalog).
The tap only reads from Drive; it must never print a secret (tokens, keys) to any output.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Sequence
from types import FrameType

from singer_sdk import Stream, Tap
from singer_sdk.singerlib import Schema

from plugin_errors import exit_after_signal, run_cli
from tap_gdrive_csv.configuration import CONFIG_SCHEMA, Settings, load_settings
from tap_gdrive_csv.csvfile import read_header
from tap_gdrive_csv.exceptions import HeaderMismatchError, error_kind
from tap_gdrive_csv.output import FastSingerWriter
from tap_gdrive_csv.sources.base import FileSource
from tap_gdrive_csv.sources.local import LocalFolderSource
from tap_gdrive_csv.stream import CsvObjectStream, header_difference, string_schema


class TapGDriveCsv(Tap):
    """Reads CSV files and Google Sheets from Google Drive (or a local folder)."""

    name = "tap-gdrive-csv"
    package_name = "tap-gdrive-csv"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = FastSingerWriter

    @functools.cached_property
    def settings(self) -> Settings:
        """The validated settings (raises ConfigError with every problem at once)."""
        return load_settings(self.config)

    @functools.cached_property
    def source(self) -> FileSource:
        """Where the files are read from: the local folder, or Drive."""
        settings = self.settings
        if settings.local_folder:
            return LocalFolderSource(settings.local_folder, root=settings.local_root)
        # Imported here: a local-folder run never pays for JWT, cryptography and the Drive client.
        from tap_gdrive_csv.auth import ServiceAccountTokens, StaticToken, TokenProvider
        from tap_gdrive_csv.sources.drive import DriveSource
        from tap_gdrive_csv.transport import Transport

        transport = Transport(timeout=settings.request_timeout, max_retries=settings.max_retries)
        tokens: TokenProvider
        if settings.service_account_key is not None:
            tokens = ServiceAccountTokens(
                settings.service_account_key,
                transport,
                subject=settings.service_account_subject,
            )
        else:
            assert settings.oauth_token is not None
            tokens = StaticToken(settings.oauth_token)
        return DriveSource(settings.api_base_url, tokens, transport)

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:  # pragma: no cover
        """Write the latest STATE (the SDK does), then exit 128+signum, never 0."""
        with contextlib.suppress(SystemExit):  # the SDK's handler exits 0
            super()._handle_termination(signum, frame)
        exit_after_signal(signum)

    def discover_streams(self) -> Sequence[Stream]:
        """Return one stream per object, its schema taken from the catalog or the files.

        Returns:
            The streams, in configuration order.
        """
        streams: list[Stream] = []
        for name, file_ids in self.settings.objects.items():
            header = self._catalog_header(name) or self._discover_header(name, file_ids)
            streams.append(
                CsvObjectStream(
                    self,
                    name=name,
                    header=header,
                    file_ids=file_ids,
                    settings=self.settings,
                    source=self.source,
                )
            )
        return streams

    def setup_mapper(self) -> None:
        """With ``headers_from_files``, put the files' headers into the input catalog first.

        The SDK builds each stream's SCHEMA message from the input catalog here. A catalog
        cached by the runner may predate a header change that discovery would have picked up,
        so the headers are read as discovery reads them (with its errors) and replace the
        catalog's columns; the catalog's selection metadata still applies (a column it does not
        know is selected, as with Meltano's ``<stream>.*`` rule).
        """
        catalog = self.input_catalog
        if catalog is not None and self.settings.headers_from_files:
            for name, file_ids in self.settings.objects.items():
                entry = catalog.get_stream(name)
                if entry is not None:
                    header = self._discover_header(name, file_ids)
                    if header != self._catalog_header(name):
                        entry.schema = Schema.from_dict(string_schema(header))
        super().setup_mapper()

    def _catalog_header(self, name: str) -> list[str] | None:
        catalog = self.input_catalog
        entry = catalog.get_stream(name) if catalog is not None else None
        if entry is None:
            return None
        properties = entry.schema.to_dict().get("properties") or {}
        return list(properties) or None

    def _discover_header(self, name: str, file_ids: Sequence[str]) -> list[str]:
        first: tuple[str, list[str]] | None = None
        for file_id in file_ids:
            version = self.source.describe(file_id)
            header = read_header(self.source, version, self.settings.csv)
            self.logger.info(
                "Object %s: file %s (%s) has %d columns", name, file_id, version.name,
                len(header),
            )
            if first is None:
                first = (file_id, header)
            elif set(header) != set(first[1]):
                msg = (
                    f"files {first[0]!r} and {file_id!r} both feed object {name!r} but their "
                    f"headers differ ({file_id!r} has {header_difference(first[1], header)}): "
                    "give each object files with one header, or map the odd file to its own "
                    "object in source.files"
                )
                raise HeaderMismatchError(msg, file_id=file_id)
        assert first is not None
        return first[1]


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: the SDK's CLI; every failure is one line on stderr, no traceback.

    Args:
        argv: Arguments (default: the process's).

    Exit codes (`plugin_errors`): 0 success; 2 terminal (a setting, a file id, a CSV to fix);
    75 transient (Drive unavailable, a rate limit that outlasted the retries); 3 internal (a
    bug); 143 SIGTERM.
    """
    run_cli(
        TapGDriveCsv.name,
        lambda: TapGDriveCsv.cli.main(
            args=list(argv) if argv is not None else None, prog_name=TapGDriveCsv.name
        ),
        logger=logging.getLogger(TapGDriveCsv.name),
        extra=error_kind,
    )

