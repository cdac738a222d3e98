"""People who sign in to ``videx serve``, and what each role may do.

Roles, each including the one before: ``detective`` (search, canvass, watch clips, record
outcomes and reviews, download reports and packages), ``analyst`` (also the study), ``admin``
(also users, imports and the audit log). Passwords are hashed with argon2id
(``argon2-cffi``); the hash never leaves the catalog and is never written to the audit log.

Disabling a user, giving them another role or a new password ends their sessions on every
server at once (``sessions_valid_from``: sessions started before it are refused).
"""

from __future__ import annotations

import re
import time

from videx.errors import InputError, NotFound
from videx.timeutil import iso_utc, now_utc

ROLES = ("detective", "analyst", "admin")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSWORD = 10


def allowed(role: str | None, needed: str) -> bool:
    """Whether ``role`` includes ``needed`` (admin > analyst > detective)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def _hasher():
    from argon2 import PasswordHasher
    return PasswordHasher()


def _check_password(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise InputError(f"the password must have at least {MIN_PASSWORD} characters")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(f"role {role!r}: use {', '.join(ROLES)}")


def add_user(cat, name: str, role: str, password: str, replace: bool = False) -> None:
    """Add a user (or, with ``replace``, set an existing user's role and password)."""
    if not NAME.match(name or ""):
        raise InputError(f"user name {name!r}: use letters, digits, '.', '_' or '-' (at most "
                         "64, starting with a letter or digit)")
    _check_role(role)
    _check_password(password)
    hashed = _hasher().hash(password)
    with cat.write("users add", {"name": name, "role": role, "replace": replace}):
        exists = cat.db.scalar("SELECT count(*) FROM users WHERE name = ?", [name])
        if exists and not replace:
            raise InputError(f"user {name} exists (use --replace to set a new role or "
                             "password)")
        if exists:
            cat.db.execute("UPDATE users SET role = ?, password_hash = ?, disabled = 0, "
                           "sessions_valid_from = ? WHERE name = ?",
                           [role, hashed, time.time(), name])
        else:
            cat.db.execute("INSERT INTO users (name, role, password_hash, created_at) "
                           "VALUES (?, ?, ?, ?)", [name, role, hashed, iso_utc(now_utc())])


def _change(cat, command: str, name: str, sets: str, values: list, args: dict) -> None:
    """Change a user's row and end their sessions, in one audited transaction."""
    with cat.write(command, {"name": name, **args}):
        cur = cat.db.execute(f"UPDATE users SET {sets}, sessions_valid_from = ? WHERE name = ?",
                             [*values, time.time(), name])
        if not cur.rowcount:
            raise NotFound(f"no user {name!r}")
        cat.sessions.end_for_user(name)


def disable_user(cat, name: str) -> None:
    """Stop a user from signing in (their history stays); ends their sessions."""
    _change(cat, "users disable", name, "disabled = 1", [], {})


def enable_user(cat, name: str) -> None:
    """Let a disabled user sign in again."""
    _change(cat, "users enable", name, "disabled = 0", [], {})


def set_role(cat, name: str, role: str) -> None:
    """Give a user another role; ends their sessions (they sign in again with it)."""
    _check_role(role)
    _change(cat, "users role", name, "role = ?", [role], {"role": role})


def set_password(cat, name: str, password: str) -> None:
    """Give a user a new password (the hash only is stored); ends their sessions."""
    _check_password(password)
    _change(cat, "users password", name, "password_hash = ?", [_hasher().hash(password)], {})


def list_users(cat) -> list[dict]:
    """Users by name (no hashes)."""
    return cat.db.dicts("SELECT name, role, created_at, disabled FROM users ORDER BY name")


def count_sessions(cat) -> dict[str, int]:
    """{user name: open web sessions}."""
    return cat.sessions.counts()


def get_user(cat, name: str) -> dict | None:
    """An enabled user (name, role), or None."""
    return cat.db.one("SELECT name, role FROM users WHERE name = ? AND disabled = 0", [name])


def check_password(cat, name: str, password: str) -> dict | None:
    """The user (name, role) when the name and password match an enabled user, else None.
    A missing user costs as much time as a wrong password (no way to probe for names)."""
    from argon2.exceptions import VerificationError
    row = cat.db.one("SELECT name, role, password_hash FROM users WHERE name = ? AND "
                     "disabled = 0", [name])
    hasher = _hasher()
    try:
        if row is None:
            hasher.verify(_DUMMY[0] or _dummy(hasher), "not the password")
            return None
        hasher.verify(row["password_hash"], password)
    except VerificationError:
        return None
    return {"name": row["name"], "role": row["role"]}


_DUMMY: list[str | None] = [None]


def _dummy(hasher) -> str:
    _DUMMY[0] = hasher.hash("a password nobody has")
    return _DUMMY[0]
