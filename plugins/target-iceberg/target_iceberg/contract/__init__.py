"""The contract a table keeps: asset spec or Singer SCHEMA -> type tree -> Iceberg and Arrow.

Submodules: `model` (the contract), `mapping` (the one type visitor), `jsonschema` (Singer
SCHEMA -> contract), `evolution` (table schema + contract -> planned schema with field ids).
"""

from __future__ import annotations

from target_iceberg.contract.model import Contract, ContractColumn, JsonText

__all__ = ["Contract", "ContractColumn", "JsonText"]
