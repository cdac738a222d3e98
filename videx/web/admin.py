"""The administrator's pages: imports, the audit log, and users (add, disable and enable,
new password, new role; every change audited, and a user's sessions end with it)."""

from __future__ import annotations

import json

from videx.errors import VidexError

AUDIT_PAGE = 100


async def imports(web, request, user):
    """Upload a camera registry or an incident list (CSV or GeoJSON), as the command line
    imports it: nothing is written when a row is bad unless "keep the good rows" is ticked."""
    import shutil
    import tempfile
    from pathlib import Path
    if request.method == "GET":
        return web.page(request, "imports.html", {"report": None})
    form = await web.form_checked(request)
    kind = web.text(form, "kind")
    upload = form.get("file")
    if kind not in ("cameras", "incidents") or upload is None or not getattr(
            upload, "filename", ""):
        raise VidexError("Choose what to import and a file.")
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in (".csv", ".geojson", ".json", ".txt"):
        raise VidexError("Upload a CSV or GeoJSON file.")
    data = await upload.read()
    skip_bad = web.text(form, "skip_bad") == "yes"

    def work():
        from videx import cameras, incidents
        folder = Path(tempfile.mkdtemp(dir=web.cache, prefix="import-"))
        path = folder / f"upload{suffix}"
        path.write_bytes(data)
        try:
            with web.catalog_for(user) as cat:
                if kind == "cameras":
                    rep = cameras.import_cameras(cat, path, skip_bad=skip_bad)
                else:
                    rep = incidents.import_incidents(cat, path, skip_bad=skip_bad)
            from videx.web.app import plain_words
            name = upload.filename[:200]
            return {"summary": plain_words(rep.summary().replace(str(path), name)),
                    "errors": [plain_words(str(e).replace(str(path), name))
                               for e in rep.errors[:50]]}
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return web.page(request, "imports.html", {"report": await web.run_slow(work)})


def readable(args: str | None) -> str:
    """An audit entry's arguments for people: "camera PRIV-001 · status requested"."""
    try:
        value = json.loads(args or "{}")
    except ValueError:
        return args or ""
    if not isinstance(value, dict):
        return str(value)
    parts = []
    for key, item in value.items():
        if item in (None, "", [], {}):
            continue
        if isinstance(item, (list, dict)):
            item = json.dumps(item, ensure_ascii=False)
            item = item if len(item) <= 80 else item[:77] + "..."
        parts.append(f"{key.replace('_', ' ')} {item}")
    return " · ".join(parts)


async def audit_log(web, request, user):
    """The audit log newest first, in local time, filtered by case and by person."""
    from videx import audit
    q = {k: v.strip() for k, v in request.query_params.items()}
    try:
        before = int(q.get("before") or 0) or None
    except ValueError:
        before = None

    def work():
        with web.catalog_for(user) as cat:
            entries = cat.auditlog.recent(AUDIT_PAGE + 1, q.get("case") or None,
                                          q.get("who") or None, before)
            for e in entries:
                e["details"] = readable(e["args"])
            return {"entries": entries[:AUDIT_PAGE], "more": len(entries) > AUDIT_PAGE,
                    "check": audit.verify(cat), "zone": cat.display_zone(), "q": q}
    ctx = await web.run_slow(work)
    from videx.timeutil import format_local, parse_instant
    for e in ctx["entries"]:
        e["local"] = format_local(parse_instant(e["at"]), ctx["zone"])
    return web.page(request, "audit.html", ctx)


USER_ACTIONS = ("add", "disable", "enable", "role", "password")


async def users_page(web, request, user):
    """Users with their roles and open sessions; add one, or change one (audited)."""
    from videx import users as users_mod
    message = None
    if request.method == "POST":
        form = await web.form_checked(request)
        action, name = web.text(form, "action") or "add", web.text(form, "name").strip()
        if action not in USER_ACTIONS:
            raise VidexError("Unknown change to a user.")
        if action in ("disable", "role") and name == user["name"]:
            raise VidexError("You cannot disable yourself or change your own role: ask "
                             "another administrator.")

        def change():
            with web.catalog_for(user) as cat:
                if action == "add":
                    users_mod.add_user(cat, name, web.text(form, "role"),
                                       web.text(form, "password"))
                elif action == "disable":
                    users_mod.disable_user(cat, name)
                elif action == "enable":
                    users_mod.enable_user(cat, name)
                elif action == "role":
                    users_mod.set_role(cat, name, web.text(form, "role"))
                else:
                    users_mod.reset_password(cat, name, web.text(form, "password"))
        await web.run_slow(change)
        message = {"add": f"User {name} added.", "disable": f"{name} can no longer sign in.",
                   "enable": f"{name} can sign in again.",
                   "role": f"{name} is now {web.text(form, 'role')}; their sessions ended.",
                   "password": f"{name} has a new password; their sessions ended."}[action]

    def work():
        with web.catalog_for(user) as cat:
            return users_mod.list_users(cat), users_mod.count_sessions(cat)
    listed, sessions = await web.run_page(work)
    return web.page(request, "users.html", {"users": listed, "sessions": sessions,
                                            "roles": users_mod.ROLES, "message": message})
