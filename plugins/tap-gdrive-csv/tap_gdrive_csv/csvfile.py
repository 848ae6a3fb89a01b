"""CSV parsing with pyarrow: the header, and the rows as all-string Arrow record batches.

Every column is read as a nullable string (an empty cell is null): typing is the loader's job,
which coerces strings to the asset's columns and quarantines bad rows. Quoted cells may hold
line breaks (spreadsheet exports do). Parse errors become messages naming the file and the
CSV settings to check. This module never decides which files to read.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from tap_gdrive_csv.configuration import CsvOptions
from tap_gdrive_csv.exceptions import CsvFormatError
from tap_gdrive_csv.sources.base import FileSource, FileVersion

# 1 MiB blocks (~10k rows) keep RECORD chunks cache-friendly; BATCH output reads larger
# blocks so its Parquet row groups are not tiny.
BLOCK_SIZE = 1 << 20
BATCH_BLOCK_SIZE = 16 << 20
HEAD_BYTES = 64 << 10
MAX_HEAD_BYTES = 16 << 20


def _read_options(options: CsvOptions, block_size: int = BLOCK_SIZE) -> pacsv.ReadOptions:
    return pacsv.ReadOptions(encoding=options.encoding, block_size=block_size)


def _header_from_text(text: str, options: CsvOptions) -> list[str]:
    # The header is parsed with Python's csv module, not Arrow: a streaming Arrow reader
    # closed after its first block can still have a background read in flight, which aborts
    # the process at exit ("terminate called without an active exception", apache/arrow
    # #34314 and #43604). Arrow's reader skips a UTF-8 byte-order mark and blank lines before
    # the header; so does this. An unterminated quote raises csv.Error (strict mode).
    rows = csv.reader(
        io.StringIO(text.removeprefix("\ufeff"), newline=""),
        delimiter=options.delimiter,
        quotechar=options.quote_char,
        strict=True,
    )
    for row in rows:
        if row:
            return row
    raise csv.Error("Empty CSV file")


def _parse_options(options: CsvOptions) -> pacsv.ParseOptions:
    return pacsv.ParseOptions(
        delimiter=options.delimiter, quote_char=options.quote_char, newlines_in_values=True
    )


def _format_error(version: FileVersion, what: str, exc: Exception) -> CsvFormatError:
    return CsvFormatError(
        f"cannot parse {what} of file {version.file_id!r} ({version.name}) as CSV: {exc}. "
        "Check the delimiter, quote_char and encoding settings against the file",
        file_id=version.file_id,
    )


def check_header(names: Sequence[str], version: FileVersion) -> list[str]:
    """Reject headers that cannot become a stream schema (empty or repeated names)."""
    seen: set[str] = set()
    for index, name in enumerate(names, start=1):
        if not name.strip():
            msg = (
                f"column {index} of file {version.file_id!r} ({version.name}) has no name: "
                "give every column a header (the first row names the columns)"
            )
            raise CsvFormatError(msg, file_id=version.file_id)
        if name in seen:
            msg = (
                f"file {version.file_id!r} ({version.name}) names the column {name!r} twice: "
                "rename one of them"
            )
            raise CsvFormatError(msg, file_id=version.file_id)
        seen.add(name)
    return list(names)


def _names_from_bytes(data: bytes, options: CsvOptions) -> list[str]:
    return _header_from_text(data.decode(options.encoding), options)


def read_header(source: FileSource, version: FileVersion, options: CsvOptions) -> list[str]:
    """Read only as much of the file as its header needs (a ranged download on Drive)."""
    return _header_from_head(lambda size: source.head(version, size), version, options)


def header_of(path: Path, version: FileVersion, options: CsvOptions) -> list[str]:
    """Return the header of a file already on local disk."""

    def head(size: int) -> tuple[bytes, bool]:
        with path.open("rb") as handle:
            data = handle.read(size + 1)
        return data[:size], len(data) <= size

    return _header_from_head(head, version, options)


def _header_from_head(
    head: Callable[[int], tuple[bytes, bool]], version: FileVersion, options: CsvOptions
) -> list[str]:
    ascii_compatible = "\n".encode(options.encoding, errors="replace") == b"\n"
    size = HEAD_BYTES
    while True:
        data, complete = head(size)
        if not complete and ascii_compatible:
            # Cut at the last line break so the parser never sees half a row.
            cut = data.rfind(b"\n")
            data = data[: cut + 1] if cut >= 0 else b""
        if not data.strip() and complete:
            msg = (
                f"file {version.file_id!r} ({version.name}) is empty: a CSV needs a header row "
                "naming its columns"
            )
            raise CsvFormatError(msg, file_id=version.file_id)
        if data and (complete or ascii_compatible):
            try:
                return check_header(_names_from_bytes(data, options), version)
            except (csv.Error, UnicodeDecodeError) as exc:
                if complete or size >= MAX_HEAD_BYTES:
                    raise _format_error(version, "the header", exc) from exc
        if size >= MAX_HEAD_BYTES:
            msg = (
                f"found no complete header row in the first {MAX_HEAD_BYTES >> 20} MiB of file "
                f"{version.file_id!r} ({version.name}): is it a CSV file?"
            )
            raise CsvFormatError(msg, file_id=version.file_id)
        size *= 4


def iter_batches(
    path: Path,
    version: FileVersion,
    options: CsvOptions,
    header: Sequence[str],
    columns: Sequence[str],
    *,
    block_size: int = BLOCK_SIZE,
) -> Iterator[pa.RecordBatch]:
    """Yield the file's rows as record batches of the given columns, all nullable strings.

    Args:
        path: The file on local disk.
        version: Which file this is (for error messages).
        options: Delimiter, quote character and encoding.
        header: The file's header (checked by the caller).
        columns: The columns to read, in output order (the selected ones).
        block_size: Bytes of CSV per record batch.

    Yields:
        Non-empty record batches.

    Raises:
        CsvFormatError: If a row cannot be parsed.
    """
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
        # pyarrow reads every column when include_columns is empty: read one, drop it below.
        include_columns=list(columns) or [header[0]],
    )
    try:
        reader = pacsv.open_csv(
            path,
            read_options=_read_options(options, block_size),
            parse_options=_parse_options(options),
            convert_options=convert,
        )
        with reader:
            for batch in reader:
                if batch.num_rows:
                    yield batch if columns else batch.select([])
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise _format_error(version, "a row", exc) from exc
