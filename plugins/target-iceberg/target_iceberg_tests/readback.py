"""Independent read-back: DuckDB's Iceberg extension (loaded offline from its wheel)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import duckdb_extension_avro
import duckdb_extension_iceberg
from pyiceberg.table import Table


def _extension(package: Any, name: str) -> str:
    folder = Path(package.__file__).parent / "extensions" / f"v{duckdb.__version__}"
    return str(folder / f"{name}.duckdb_extension")


def duckdb_rows(
    table: Table, sql: str = "select * from t order by 1"
) -> tuple[list[str], list[tuple[Any, ...]], list[str]]:
    """Rows, column names and DuckDB column types of an Iceberg table, read by DuckDB."""
    con = duckdb.connect()
    con.execute(f"LOAD '{_extension(duckdb_extension_avro, 'avro')}'")
    con.execute(f"LOAD '{_extension(duckdb_extension_iceberg, 'iceberg')}'")
    location = table.metadata_location.removeprefix("file://")
    con.execute(f"create view t as select * from iceberg_scan('{location}')")
    result = con.execute(sql)
    names = [d[0] for d in result.description]
    rows = result.fetchall()
    types = [str(t) for t in con.execute("describe t").fetchall()]
    return names, rows, types
