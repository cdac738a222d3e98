"""People who sign in to ``videx serve``, and what each role may do.

Roles, each including the one before: ``detective`` (search, canvass, watch clips, record
outcomes and reviews, download reports and packages), ``analyst`` (also the study), ``admin``
(also users, imports and the audit log). Passwords are hashed with argon2id
(``argon2-cffi``); the hash never leaves the catalog and is never written to the audit log.

Users are protected rows (``videx.store.protected``): every function here that changes one
writes it in one transaction with an audit entry that names the user and what changed (never
the password or its hash) and records the row's content hash, so a role, a disabled flag or a
password hash edited outside videx is named by ``audit verify --deep``. The web's user pages
call these functions; each raises a one-line ``InputError``/``NotFound`` for bad input and
changes nothing then.

Disabling a user, giving them another role or a new password ends their web sessions on every
server at once (``_end_sessions``).

Signing in and every later look-up of the user (``check_password``, ``get_user``) also
compare the user's row with the hash its last audit entry recorded: a user inserted, enabled,
promoted or given another password hash outside videx gets no access, whether or not anyone
runs ``audit verify --deep``.
"""

from __future__ import annotations

import re
import time

from videx.errors import InputError, NotFound
from videx.timeutil import iso_utc, now_utc

ROLES = ("detective", "analyst", "admin")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024     # argon2 takes any length; a megabyte "password" is an attack


def allowed(role: str | None, needed: str) -> bool:
    """Whether ``role`` includes ``needed`` (admin > analyst > detective)."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def _hasher():
    from argon2 import PasswordHasher
    return PasswordHasher()


def _check_name(name: str) -> None:
    if not NAME.match(name or ""):
        raise InputError(f"user name {name!r}: use letters, digits, '.', '_' or '-' (at most "
                         "64, starting with a letter or digit)")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InputError(f"role {role!r}: use {', '.join(ROLES)}")


def _hash_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD:
        raise InputError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise InputError(f"the password must have at most {MAX_PASSWORD} characters")
    return _hasher().hash(password)


def add_user(cat, name: str, role: str, password: str, replace: bool = False) -> None:
    """Add a user (or, with ``replace``, set an existing user's role and password and enable
    them again)."""
    _check_name(name)
    _check_role(role)
    hashed = _hash_password(password)
    now = iso_utc(now_utc())
    with cat.write("users add", {"name": name, "role": role, "replace": replace}) as tx:
        old = cat.users.get(name)
        if old is not None and not replace:
            raise InputError(f"user {name} exists (use --replace to set a new role or "
                             "password)")
        if old is None:
            cat.users.add(name, role, hashed, now)
        else:
            tx.args["was"] = {"role": old["role"], "disabled": bool(old["disabled"])}
            _end_sessions(cat, name)
            cat.users.update(name, role=role, password_hash=hashed, password_changed_at=now,
                             disabled=0)


def set_role(cat, name: str, role: str) -> dict:
    """Give a user another role; returns the user as it was."""
    _check_role(role)
    with cat.write("users set-role", {"name": name, "role": role}) as tx:
        old = _require(cat, name)
        tx.args["was"] = old["role"]
        if old["role"] == role and _audited(cat, name):
            tx.cancelled = True              # nothing changes: no entry
        else:                                # (a row edited outside videx is re-recorded)
            _end_sessions(cat, name)
            cat.users.update(name, role=role)
    return old


def reset_password(cat, name: str, password: str) -> None:
    """Set a new password for a user (the entry records that it changed, never what to)."""
    hashed = _hash_password(password)
    with cat.write("users reset-password", {"name": name}):
        _require(cat, name)
        _end_sessions(cat, name)
        cat.users.update(name, password_hash=hashed, password_changed_at=iso_utc(now_utc()))


def disable_user(cat, name: str) -> None:
    """Stop a user from signing in (their history stays)."""
    with cat.write("users disable", {"name": name}):
        _require(cat, name)
        _end_sessions(cat, name)
        cat.users.update(name, disabled=1)


def enable_user(cat, name: str) -> None:
    """Let a disabled user sign in again."""
    with cat.write("users enable", {"name": name}):
        _require(cat, name)
        cat.users.update(name, disabled=0)


def _end_sessions(cat, name: str) -> None:
    """End a user's web sessions on every server (inside the user's change): their rows go,
    and sessions started before now are refused (``sessions_valid_from``: a sign-in whose
    password was checked before the change cannot start one after it)."""
    cat.sessions.end_for_user(name)
    cat.users.update(name, sessions_valid_from=time.time())


def count_sessions(cat) -> dict[str, int]:
    """{user name: open web sessions}."""
    return cat.sessions.counts()


def _require(cat, name: str) -> dict:
    user = cat.users.get(name)
    if user is None:
        raise NotFound(f"no user {name!r} (see videx users list)")
    return user


def list_users(cat) -> list[dict]:
    """Users by name (no hashes)."""
    return cat.users.all()


def _audited(cat, name: str) -> dict | None:
    """A user's row when it is exactly as its last audit entry recorded it, else None."""
    from videx import audit
    row = cat.users.with_audited_hash(name)
    if row is None:
        return None
    audited = row.pop("videx_audited_hash")
    return row if audited == audit.row_hash("users", row) else None


def _trusted(cat, name: str) -> dict | None:
    """A user's row when it is enabled and exactly as its last audit entry recorded it,
    else None."""
    row = _audited(cat, name)
    return None if row is None or row["disabled"] else row


def get_user(cat, name: str) -> dict | None:
    """An enabled user (name, role) whose row matches its audit record, or None."""
    row = _trusted(cat, name)
    return None if row is None else {"name": row["name"], "role": row["role"]}


def check_password(cat, name: str, password: str) -> dict | None:
    """The user (name, role) when the name and password match an enabled user whose row
    matches its audit record, else None. A missing user costs as much time as a wrong
    password (no way to probe for names)."""
    from argon2.exceptions import VerificationError
    row = _trusted(cat, name) if len(password or "") <= MAX_PASSWORD else None
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
