"""The asset spec's type grammar.

Parses type strings such as ``decimal(18,2)`` or ``list<struct<sku:string,qty:int>>`` into a
small, immutable type tree.

This module only parses and prints; mapping the tree to Arrow and Iceberg lives with the
writer. It must never accept a string it cannot print back unchanged (after normalising
white space), so specs, error messages and table schemas always speak the same language.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PRIMITIVES = (
    "boolean",
    "int",
    "long",
    "float",
    "double",
    "date",
    "time",
    "timestamp",
    "timestamptz",
    "string",
    "uuid",
    "binary",
)
MAX_DECIMAL_PRECISION = 38
_TOKEN = re.compile(r"\s*(?:([A-Za-z_][A-Za-z0-9_]*)|(\d+)|(.))")


class TypeSyntaxError(ValueError):
    """A type string does not follow the grammar; the message says where and what is valid."""


@dataclass(frozen=True)
class Primitive:
    """A primitive type named in `PRIMITIVES`."""

    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class DecimalType:
    """``decimal(precision, scale)``, 1 <= precision <= 38, 0 <= scale <= precision."""

    precision: int
    scale: int

    def __str__(self) -> str:
        return f"decimal({self.precision},{self.scale})"


@dataclass(frozen=True)
class ListType:
    """``list<element>``; elements may be null."""

    element: TypeNode

    def __str__(self) -> str:
        return f"list<{self.element}>"


@dataclass(frozen=True)
class MapType:
    """``map<key,value>``; keys must be primitive, values may be null."""

    key: TypeNode
    value: TypeNode

    def __str__(self) -> str:
        return f"map<{self.key},{self.value}>"


@dataclass(frozen=True)
class StructType:
    """``struct<name:type,...>``; field names unique, fields nullable."""

    fields: tuple[tuple[str, TypeNode], ...]

    def __str__(self) -> str:
        inner = ",".join(f"{name}:{typ}" for name, typ in self.fields)
        return f"struct<{inner}>"


TypeNode = Primitive | DecimalType | ListType | MapType | StructType


def valid_types_hint() -> str:
    """One line listing every type the grammar accepts, for error messages."""
    return ", ".join(PRIMITIVES) + ", decimal(p,s), list<T>, map<K,V>, struct<name:T,...>"


def parse_type(text: str) -> TypeNode:
    """Parse one type string.

    Args:
        text: e.g. ``long``, ``decimal(18,2)``, ``map<string,list<double>>``.

    Returns:
        The type tree.

    Raises:
        TypeSyntaxError: the string is not a valid type; the message names the offending
            position and the valid types.
    """
    parser = _Parser(text)
    node = parser.parse()
    parser.expect_end()
    return node


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[tuple[str, int]] = []
        for match in _TOKEN.finditer(text):
            token = match.group(1) or match.group(2) or match.group(3)
            if token is not None and token.strip():
                self.tokens.append((token, match.start(match.lastindex or 0)))
        self.pos = 0

    def fail(self, what: str) -> TypeSyntaxError:
        where = self.tokens[self.pos][1] if self.pos < len(self.tokens) else len(self.text)
        return TypeSyntaxError(
            f"{what} at character {where + 1} of {self.text!r}; valid types: {valid_types_hint()}"
        )

    def peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            want = f"{expected!r}" if expected else "a type"
            got = "the end" if token is None else repr(token)
            raise self.fail(f"expected {want} but found {got}")
        self.pos += 1
        return token

    def expect_end(self) -> None:
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()!r}")

    def number(self) -> int:
        token = self.take()
        if not token.isdigit():
            self.pos -= 1
            raise self.fail(f"expected a number but found {token!r}")
        return int(token)

    def parse(self) -> TypeNode:
        name = self.take()
        if name in PRIMITIVES:
            return Primitive(name)
        if name == "decimal":
            return self._decimal()
        if name == "list":
            self.take("<")
            element = self.parse()
            self.take(">")
            return ListType(element)
        if name == "map":
            return self._map()
        if name == "struct":
            return self._struct()
        self.pos -= 1
        raise self.fail(f"unknown type {name!r}")

    def _decimal(self) -> DecimalType:
        self.take("(")
        precision = self.number()
        self.take(",")
        scale = self.number()
        self.take(")")
        if not 1 <= precision <= MAX_DECIMAL_PRECISION:
            raise TypeSyntaxError(
                f"decimal precision {precision} in {self.text!r} must be between 1 and "
                f"{MAX_DECIMAL_PRECISION}"
            )
        if scale > precision:
            raise TypeSyntaxError(
                f"decimal scale {scale} in {self.text!r} must not exceed the precision {precision}"
            )
        return DecimalType(precision, scale)

    def _map(self) -> MapType:
        self.take("<")
        key = self.parse()
        if not isinstance(key, Primitive | DecimalType):
            raise TypeSyntaxError(f"map keys must be primitive types in {self.text!r}")
        self.take(",")
        value = self.parse()
        self.take(">")
        return MapType(key, value)

    def _struct(self) -> StructType:
        self.take("<")
        fields: list[tuple[str, TypeNode]] = []
        while True:
            name = self.take()
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                self.pos -= 1
                raise self.fail(f"expected a field name but found {name!r}")
            if any(name == seen for seen, _ in fields):
                raise TypeSyntaxError(f"struct field {name!r} appears twice in {self.text!r}")
            self.take(":")
            fields.append((name, self.parse()))
            if self.peek() == ",":
                self.take(",")
                continue
            self.take(">")
            return StructType(tuple(fields))
