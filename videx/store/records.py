"""Upsert and read by id, shared by the camera and incident stores."""

from __future__ import annotations


def upsert(cat, table: str, record: dict, now: str) -> tuple[str, dict | None]:
    """Insert or update ``record`` by its ``id`` inside the open write transaction; return
    ("added" | "changed" | "unchanged", the previous row). Booleans are stored as 0/1."""
    record = {k: (int(v) if isinstance(v, bool) else v) for k, v in record.items()}
    old = cat.db.one(f"SELECT * FROM {table} WHERE id = ?", [record["id"]])
    if old is not None and all(old.get(k) == v for k, v in record.items()):
        return "unchanged", old
    columns = list(record) + ["updated_at"]
    cat.db.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        "ON CONFLICT (id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id"),
        list(record.values()) + [now])
    cat.touch(table, record["id"])
    return ("added" if old is None else "changed"), old


def rows_by_id(cat, table: str, ids: list[str]) -> dict[str, dict]:
    """{id: stored row} of those ``ids`` that exist in ``table`` (500 ids a query)."""
    out: dict[str, dict] = {}
    ids = list(dict.fromkeys(ids))
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        for row in cat.db.dicts(f"SELECT * FROM {table} WHERE id IN "
                                f"({', '.join('?' * len(part))})", part):
            out[row["id"]] = row
    return out
