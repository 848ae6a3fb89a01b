"""Per-value coercion rules: JSON / CSV-ish input -> the contract's Python values.

Rules (the README repeats them):
- null is accepted for optional columns; for required ones the row is rejected.
- boolean: JSON true/false, or the text true/false/1/0 (any case).
- int/long: JSON integers, integral JSON numbers (``4.0``), or decimal text (``"42"``); values
  outside the type's range are rejected, fractions are rejected (never rounded).
- float/double: numbers or numeric text; NaN and infinities are kept when sent as such (text
  ``NaN``/``Infinity``/``inf``, or the tokens Python's json module writes), but a finite value
  beyond the type's range (``1e400``, or ``1e39`` for ``float``) is rejected, never stored as
  infinity.
- decimal(p,s): numbers or text, exactly: more than ``s`` fractional digits (unless zeros) or
  more than ``p`` digits is a reject.
- date ``YYYY-MM-DD``; time ``HH:MM[:SS[.ffffff]]``; timestamp/timestamptz ISO-8601 (``T`` or
  space, optional fraction up to 6 digits, ``Z`` or offsets). Offsets are normalised to UTC;
  a value without offset is taken as UTC; a date alone means midnight. More than microsecond
  precision with non-zero digits, or a moment outside 0001-01-01..9999-12-31 UTC once its
  offset is applied, is a reject.
- string: text only (JSON-text columns from JSON Schema store any value as JSON).
- uuid: the canonical 8-4-4-4-12 hex form; binary: base64 text.
- list/struct/map: recursively; struct fields not in the type follow ``unknown_columns``.
Never writes anything; raises `Rejected` with a reason naming the column.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import re
import uuid
from collections.abc import Callable
from decimal import Context, Decimal, InvalidOperation
from typing import Any

import msgspec

from target_iceberg.contract.model import JsonText
from target_iceberg.types import DecimalType, ListType, MapType, Primitive, TypeNode

Coerce = Callable[[Any], Any]

_INT_RANGE = {"int": (-(2**31), 2**31 - 1), "long": (-(2**63), 2**63 - 1)}
_FLOAT32_MAX = 3.4028234663852886e38
_MAX_INT_DIGITS = 19  # no long has more; Python refuses to parse very long digit strings
_NON_FINITE = frozenset({"nan", "inf", "infinity"})
_INT_TEXT = re.compile(r"^[+-]?\d+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$")
_TIMESTAMP = re.compile(
    r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})
_JSON = msgspec.json.Encoder(decimal_format="number")
_WIDE = Context(prec=100)


class Rejected(ValueError):
    """A value breaks the contract; ``column`` is the dotted path, ``reason`` says why."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}" if column else reason)
        self.column = column
        self.reason = reason


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _wrong(path: str, value: Any, node: TypeNode) -> Rejected:
    return Rejected(path, f"{_show(value)} is not a valid {node}")


def _boolean(path: str) -> Coerce:
    def coerce(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            text = value.strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
        raise _wrong(path, value, Primitive("boolean"))

    return coerce


def _integer(path: str, name: str) -> Coerce:
    low, high = _INT_RANGE[name]

    def coerce(value: Any) -> int:
        if isinstance(value, bool):
            raise _wrong(path, value, Primitive(name))
        if isinstance(value, int):
            number = value
        elif isinstance(value, float | Decimal):
            if not math.isfinite(value) or value != int(value):
                raise Rejected(path, f"{_show(value)} is not a whole number; {name} never rounds")
            number = int(value)
        elif isinstance(value, str) and _INT_TEXT.match(value.strip()):
            text = value.strip()
            if len(text.lstrip("+-0")) > _MAX_INT_DIGITS:
                raise Rejected(path, f"{_show(value)} overflows {name} (range {low}..{high})")
            number = int(text)
        else:
            raise _wrong(path, value, Primitive(name))
        if not low <= number <= high:
            raise Rejected(path, f"{number} overflows {name} (range {low}..{high})")
        return number

    return coerce


def _floating(path: str, name: str) -> Coerce:
    def overflow(value: Any) -> Rejected:
        if name == "float":
            return Rejected(path, f"{_show(value)} overflows float (32-bit); use double")
        return Rejected(
            path, f"{_show(value)} overflows double (largest 1.8e308); use a decimal or string"
        )

    def coerce(value: Any) -> float:
        if isinstance(value, bool):
            raise _wrong(path, value, Primitive(name))
        if isinstance(value, float):
            number = value  # already IEEE: NaN and infinities included, as sent
        elif isinstance(value, int | Decimal):
            try:
                number = float(value)
            except OverflowError:
                raise overflow(value) from None
            if not math.isfinite(number) and (isinstance(value, int) or value.is_finite()):
                raise overflow(value)
        elif isinstance(value, str):
            text = value.strip()
            try:
                number = float(text)
            except ValueError:
                raise _wrong(path, value, Primitive(name)) from None
            if not math.isfinite(number) and text.lower().lstrip("+-") not in _NON_FINITE:
                raise overflow(value)
        else:
            raise _wrong(path, value, Primitive(name))
        if name == "float" and math.isfinite(number) and abs(number) > _FLOAT32_MAX:
            raise overflow(value)
        return number

    return coerce


def _decimal(path: str, node: DecimalType) -> Coerce:
    quantum = Decimal(1).scaleb(-node.scale)
    limit = Decimal(10) ** (node.precision - node.scale)

    def coerce(value: Any) -> Decimal:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            raise _wrong(path, value, node)
        try:
            number = Decimal(value.strip() if isinstance(value, str) else str(value))
        except InvalidOperation:
            raise _wrong(path, value, node) from None
        if not number.is_finite():
            raise _wrong(path, value, node)
        if abs(number) >= limit:
            raise Rejected(path, f"{_show(value)} overflows {node}")
        scaled = number.quantize(quantum, context=_WIDE)
        if scaled != number:
            raise Rejected(
                path,
                f"{_show(value)} has more than {node.scale} decimal places; {node} never rounds",
            )
        return scaled

    return coerce


def _date(path: str) -> Coerce:
    def coerce(value: Any) -> dt.date:
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str) and _DATE.match(value.strip()):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise _wrong(path, value, Primitive("date"))

    return coerce


def _micros(path: str, value: Any, digits: str | None) -> int:
    if not digits:
        return 0
    if len(digits) > 6 and digits[6:].strip("0"):
        raise Rejected(path, f"{_show(value)} has sub-microsecond precision, which would be lost")
    return int(digits[:6].ljust(6, "0"))


def _time(path: str) -> Coerce:
    def coerce(value: Any) -> dt.time:
        if isinstance(value, dt.time):
            return value
        match = _TIME.match(value.strip()) if isinstance(value, str) else None
        if match:
            hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
            micros = _micros(path, value, match[4])
            if hour < 24 and minute < 60 and second < 60:
                return dt.time(hour, minute, second, micros)
        raise _wrong(path, value, Primitive("time"))

    return coerce


def _timestamp(path: str, name: str) -> Coerce:
    zoned = name == "timestamptz"

    def coerce(value: Any) -> dt.datetime:
        if isinstance(value, dt.datetime):
            moment = value
        else:
            match = _TIMESTAMP.match(value.strip()) if isinstance(value, str) else None
            if not match:
                raise _wrong(path, value, Primitive(name))
            day, clock, fraction, zone = match.groups()
            micros = _micros(path, value, fraction)
            text = f"{day}T{clock or '00:00'}"
            if zone and zone not in {"Z", "z"}:
                text += zone if len(zone) != 5 else f"{zone[:3]}:{zone[3:]}"
            try:
                moment = dt.datetime.fromisoformat(text).replace(microsecond=micros)
            except ValueError:
                raise _wrong(path, value, Primitive(name)) from None
        try:
            if moment.tzinfo is not None:
                moment = moment.astimezone(dt.UTC)
            else:
                moment = moment.replace(tzinfo=dt.UTC)
        except OverflowError:
            raise Rejected(
                path, f"{_show(value)} is outside 0001-01-01..9999-12-31 once converted to UTC"
            ) from None
        return moment if zoned else moment.replace(tzinfo=None)

    return coerce


def _string(path: str) -> Coerce:
    def coerce(value: Any) -> str:
        if isinstance(value, str):
            return value
        raise _wrong(path, value, Primitive("string"))

    return coerce


def _non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_non_finite(v) for v in value)
    return False


def _json_text(path: str) -> Coerce:
    def coerce(value: Any) -> str:
        if isinstance(value, str):
            return value
        text = _JSON.encode(value)
        # The encoder writes NaN and infinities as null: never let that pass silently.
        if b"null" in text and _non_finite(value):
            raise Rejected(path, "NaN or Infinity cannot be kept as JSON text (JSON has none)")
        return text.decode()

    return coerce


def _uuid(path: str) -> Coerce:
    def coerce(value: Any) -> bytes:
        if isinstance(value, uuid.UUID):
            return value.bytes
        if isinstance(value, str) and _UUID.match(value.strip()):
            return uuid.UUID(value.strip()).bytes
        raise _wrong(path, value, Primitive("uuid"))

    return coerce


def _binary(path: str) -> Coerce:
    def coerce(value: Any) -> bytes:
        if isinstance(value, bytes):
            return value
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                pass
        raise Rejected(path, f"{_show(value)} is not base64 text, as binary columns expect")

    return coerce


def _primitive(path: str, node: Primitive) -> Coerce:
    if isinstance(node, JsonText):
        return _json_text(path)
    name = node.name
    if name == "boolean":
        return _boolean(path)
    if name in _INT_RANGE:
        return _integer(path, name)
    if name in {"float", "double"}:
        return _floating(path, name)
    if name == "date":
        return _date(path)
    if name == "time":
        return _time(path)
    if name in {"timestamp", "timestamptz"}:
        return _timestamp(path, name)
    if name == "uuid":
        return _uuid(path)
    if name == "binary":
        return _binary(path)
    return _string(path)


def value_coercer(node: TypeNode, path: str, *, ignore_unknown: bool = False) -> Coerce:
    """The coercion function for values of ``node`` (nulls are handled by the caller).

    Args:
        node: the type tree.
        path: the column path named in rejection reasons.
        ignore_unknown: drop struct fields the type lacks instead of rejecting the value.
    """
    if isinstance(node, Primitive):
        return _primitive(path, node)
    if isinstance(node, DecimalType):
        return _decimal(path, node)
    if isinstance(node, ListType):
        inner = value_coercer(node.element, f"{path}[]", ignore_unknown=ignore_unknown)

        def coerce_list(value: Any) -> list[Any]:
            if not isinstance(value, list):
                raise _wrong(path, value, node)
            return [None if v is None else inner(v) for v in value]

        return coerce_list
    if isinstance(node, MapType):
        key = value_coercer(node.key, f"{path}.key", ignore_unknown=ignore_unknown)
        val = value_coercer(node.value, f"{path}.value", ignore_unknown=ignore_unknown)

        def coerce_map(value: Any) -> list[tuple[Any, Any]]:
            if not isinstance(value, dict):
                raise _wrong(path, value, node)
            return [(key(k), None if v is None else val(v)) for k, v in value.items()]

        return coerce_map
    fields = {
        name: value_coercer(sub, f"{path}.{name}", ignore_unknown=ignore_unknown)
        for name, sub in node.fields
    }

    def coerce_struct(value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise _wrong(path, value, node)
        if not ignore_unknown and not value.keys() <= fields.keys():
            extra = sorted(set(value) - set(fields))
            raise Rejected(
                path, f"unknown field(s) {extra} (set unknown_columns: ignore to drop them)"
            )
        return {
            name: None if (v := value.get(name)) is None else fn(v) for name, fn in fields.items()
        }

    return coerce_struct
