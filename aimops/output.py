"""Printing for the CLI: aligned tables for people, JSON for machines.

What people read is made inert first (:func:`printable`): a name holding a terminal escape
sequence, a carriage return or a lone surrogate is shown escaped, never acted on. JSON stays
exact (its escapes are JSON's own).

Example:
    >>> print(format_table([{"name": "churn", "versions": 2}], ["name", "versions"]))
    NAME   VERSIONS
    churn  2
    >>> print(printable("churn" + chr(27) + "[2J"))
    churn\\x1b[2J
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import click


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows as left-aligned columns under upper-case headers; None shows as ``-``."""
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    headers = [column.upper() for column in columns]
    widths = [
        max([len(header)] + [len(line[i]) for line in cells]) for i, header in enumerate(headers)
    ]
    lines = [headers, *cells]
    return "\n".join(
        "  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list | tuple):
        return ", ".join(_cell(item) for item in value) or "-"
    return printable(str(value))


#: Unicode categories a terminal may act on instead of showing: controls (C0, C1: escape
#: sequences, carriage returns), format characters (bidirectional overrides), surrogates and
#: private use.
_ACTIVE = frozenset({"Cc", "Cf", "Cs", "Co"})


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` with every character a terminal could act on shown as its escape."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if (char == "\n" and keep_newlines) or unicodedata.category(char) not in _ACTIVE:
            out.append(char)
        else:
            out.append(char.encode("unicode_escape", "backslashreplace").decode("ascii"))
    return "".join(out)


def say(text: str, *, err: bool = False) -> None:
    """Print a line (or lines) for people, made inert by :func:`printable`."""
    click.echo(printable(text, keep_newlines=True), err=err)


def emit_json(data: Any) -> None:
    """Print ``data`` as indented JSON."""
    click.echo(json.dumps(data, indent=2, sort_keys=False, default=str))


def emit_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], empty: str) -> None:
    """Print a table, or ``empty`` when there are no rows."""
    click.echo(format_table(rows, columns) if rows else printable(empty))
