"""The protected tables: rows whose every change is recorded, with the content hash of the row,
in the audit entry of the transaction that made it, and that ``audit verify --deep`` compares,
row by row, with that record (a row edited, inserted or deleted outside videx is named).

A table is protected when its rows are evidence (cameras, incidents, clips, outcomes,
reviews) or decide who may do what or how times are read (users, settings). Activity scans and
refused files are not: they can be recomputed from the clips at any time.

How to register a table (e.g. the request records of another module):

1. create the table in a migration (``videx.store.schema``); if the migration protects a table
   that already holds rows (not a new, empty one), name it in ``protects=`` so that the
   migration's audit entry records every row as its baseline;
2. add one line to ``TABLES`` below: the table, its key column, and whether that key is an
   integer (``INTEGER PRIMARY KEY`` ids) or text;
3. in the store module that writes the table, call ``cat.touch(table, key)`` after every
   INSERT, UPDATE or DELETE of a row (inside ``Catalog.write``); the entry then records the
   row's hash (or that it was deleted).

That is all: ``Catalog.row_for_hash``, ``audit verify --deep``, the baseline of an old catalog
and ``db copy``'s checks follow the list. Settings need no step 3: ``Catalog.set_setting``
touches the row itself, so a new setting (a public URL, an SMTP host) is protected by being
written through it. ``skip`` names rows that are not protected: ``audit_head``, the chain's
own bookkeeping, is written after the entry it points to is sealed and is checked by the
chain walk instead.
"""

from __future__ import annotations

from typing import NamedTuple


class Protected(NamedTuple):
    """A protected table: its key column, whether the key is an integer, rows not protected."""

    table: str
    key: str
    integer_key: bool = False
    skip: tuple[str, ...] = ()


TABLES: list[Protected] = [
    Protected("cameras", "id"),
    Protected("incidents", "id"),
    Protected("clips", "id", integer_key=True),
    Protected("outcomes", "id", integer_key=True),
    Protected("reviews", "id", integer_key=True),
    Protected("bookmarks", "id", integer_key=True),
    Protected("requests", "id", integer_key=True),
    Protected("request_files", "id", integer_key=True),
    Protected("users", "name"),
    Protected("settings", "key", skip=("audit_head",)),
]


def protect(table: str, key: str, integer_key: bool = False,
            skip: tuple[str, ...] = ()) -> Protected:
    """Register a table as protected (see module docstring); returns its entry."""
    for known in TABLES:
        if known.table == table:
            return known
    entry = Protected(table, key, integer_key, skip)
    TABLES.append(entry)
    return entry


def get(table: str) -> Protected:
    """The registration of ``table`` (KeyError when it is not protected)."""
    for known in TABLES:
        if known.table == table:
            return known
    raise KeyError(table)


def names() -> tuple[str, ...]:
    """The protected tables, in the order ``audit verify --deep`` checks them."""
    return tuple(t.table for t in TABLES)
