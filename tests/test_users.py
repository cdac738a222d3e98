"""videx.users, as the web's user pages call it: every change audited with the user's row
hash (never the password), bad input one line and no change, and the CLI around it."""

from __future__ import annotations

import json

import pytest

from videx import audit, users
from videx.errors import InputError, NotFound


def last_entry(cat) -> tuple[dict, list]:
    entry = cat.auditlog.entries(1)[0]
    return entry, cat.auditlog.rows_of(entry["id"])


def test_each_user_change_is_one_audited_entry_with_the_row_hash(db):
    users.add_user(db, "jdoe", "detective", "a-long-password")
    entry, rows = last_entry(db)
    assert entry["command"] == "users add" and "a-long-password" not in entry["args"]
    assert rows == [("users", "jdoe", audit.row_hash("users", db.row_for_hash("users",
                                                                               "jdoe")))]
    users.set_role(db, "jdoe", "admin")
    entry, rows = last_entry(db)
    assert (entry["command"], json.loads(entry["args"])) == (
        "users set-role", {"name": "jdoe", "role": "admin", "was": "detective"})
    before = db.users.get("jdoe")["password_changed_at"]
    users.reset_password(db, "jdoe", "another-long-one")
    entry, rows = last_entry(db)
    assert entry["command"] == "users reset-password" and json.loads(entry["args"]) == {
        "name": "jdoe"}
    assert db.users.get("jdoe")["password_changed_at"] >= before
    assert users.check_password(db, "jdoe", "another-long-one") == {"name": "jdoe",
                                                                   "role": "admin"}
    assert users.check_password(db, "jdoe", "a-long-password") is None
    users.disable_user(db, "jdoe")
    assert users.get_user(db, "jdoe") is None
    users.enable_user(db, "jdoe")
    assert users.get_user(db, "jdoe") == {"name": "jdoe", "role": "admin"}
    n = db.auditlog.count()
    users.set_role(db, "jdoe", "admin")                 # no change: no entry
    assert db.auditlog.count() == n
    assert audit.verify(db, deep=True).ok


@pytest.mark.parametrize("call, error, text", [
    (lambda db: users.add_user(db, "a b", "admin", "a-long-password"), InputError,
     "user name 'a b'"),
    (lambda db: users.add_user(db, "jdoe", "chief", "a-long-password"), InputError,
     "role 'chief'"),
    (lambda db: users.add_user(db, "jdoe", "admin", "x" * 2000), InputError,
     "at most 1024 characters"),
    (lambda db: users.add_user(db, "rroe", "admin", "a-long-password"), InputError,
     "user rroe exists"),
    (lambda db: users.set_role(db, "nobody", "admin"), NotFound, "no user 'nobody'"),
    (lambda db: users.reset_password(db, "nobody", "a-long-password"), NotFound,
     "no user 'nobody'"),
    (lambda db: users.disable_user(db, "nobody"), NotFound, "no user 'nobody'"),
])
def test_bad_input_is_one_line_and_changes_nothing(db, call, error, text):
    users.add_user(db, "rroe", "detective", "a-long-password")
    n, before = db.auditlog.count(), db.users.all()
    with pytest.raises(error, match=text):
        call(db)
    assert db.auditlog.count() == n and db.users.all() == before


def test_the_cli_sets_roles_and_passwords(city, run):
    assert run("users", "add", "jdoe", "--role", "detective", "--password-stdin",
               input="a-long-password\n").exit_code == 0
    r = run("users", "set-role", "jdoe", "--role", "analyst")
    assert r.exit_code == 0 and r.stdout.strip() == "user jdoe: detective -> analyst"
    r = run("users", "reset-password", "jdoe", "--password-stdin", input="short\n")
    assert r.exit_code == 1 and "at least 10 characters" in r.stderr
    r = run("users", "reset-password", "jdoe", "--password-stdin", input="much-longer-now\n")
    assert r.exit_code == 0
    r = run("users", "set-role", "ghost", "--role", "admin")
    assert r.exit_code == 1 and r.stderr.strip() == (
        "Error: no user 'ghost' (see videx users list)")
    assert run("audit", "verify", "--deep").exit_code == 0


def test_a_user_row_edited_outside_videx_grants_nothing(city, run, tmp_path, open_db):
    """Signing in and each look-up compare the row with its audit record: a role raised, a
    user inserted or re-enabled with SQL gets no access; set through videx, it works."""
    from conftest import edit
    for name in ("jdoe", "rroe"):
        assert run("users", "add", name, "--role", "detective", "--password-stdin",
                   input="a-long-password\n").exit_code == 0
    assert run("users", "disable", "rroe").exit_code == 0
    with open_db() as cat:
        assert users.check_password(cat, "jdoe", "a-long-password")["role"] == "detective"
        stolen = cat.db.scalar("SELECT password_hash FROM users WHERE name = 'jdoe'")
    edit(tmp_path / "videx.db", "UPDATE users SET role = 'admin' WHERE name = 'jdoe'",
         "UPDATE users SET disabled = 0 WHERE name = 'rroe'")
    edit(tmp_path / "videx.db", "INSERT INTO users (name, role, password_hash, created_at, "
         "disabled) VALUES ('mallory', 'admin', ?, 'x', 0)", params=(stolen,))
    with open_db() as cat:
        for name in ("jdoe", "rroe", "mallory"):
            assert users.get_user(cat, name) is None, name
            assert users.check_password(cat, name, "a-long-password") is None, name
    assert run("users", "set-role", "jdoe", "--role", "admin").exit_code == 0   # audited now
    with open_db() as cat:
        assert users.get_user(cat, "jdoe") == {"name": "jdoe", "role": "admin"}
