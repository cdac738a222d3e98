"""``videx serve``: the detective's loop in a browser, on the shared catalog.

A Starlette application with server-rendered Jinja2 pages and small scripts of its own (the
map is Leaflet, vendored from npm and served by videx; no CDN). One module per family of
pages, as Datasette's ``views/``:

- ``app``: the ``Web`` object every page shares (options, catalog pool, audit batcher,
  templates, sign-in limiter, preview cache, basemap) and the one route table;
- ``signin``, ``sessions``: signing in and out, server-side sessions, the client's address
  behind a trusted proxy, sign-in limits;
- ``incidents``: search, the incident page, the synchronized view, "cameras near a place at a
  time", the forms that add to the case record, the report and package downloads;
- ``clips``: the player, clip media by catalogue id only, camera pages, basemap tiles;
- ``requests``: requests to camera owners, "my requests";
- ``upload``: the camera owner's public upload page (no account; the link is the credential);
- ``study``: the analyst's study page; ``admin``: imports, the audit log, users;
- ``pool``: pooled connections and batched audit entries; ``server``: the worker processes.

Every request opens the catalog as the signed-in user (``web:NAME`` in the audit log beside
the server's OS account), so every view of evidence and every change is audited with who did
it. Security: argon2 password hashes; sessions kept in the catalog (signing out, disabling a
user, a new role or password end them on every instance); a signed HttpOnly SameSite=Strict
cookie; a per-session form token on every POST; sign-in limits per client address and per
name; ``X-Forwarded-For`` believed only from ``--trusted-proxy``; clips served by catalogue
id only; a strict Content-Security-Policy (everything from videx itself).
"""

from videx.web.app import Web, WebOptions, create_app
from videx.web.pool import AuditBatcher, CatalogPool
from videx.web.server import _listening_socket, serve
from videx.web.sessions import LoginLimiter

__all__ = ["AuditBatcher", "CatalogPool", "LoginLimiter", "Web", "WebOptions", "create_app",
           "serve", "_listening_socket"]
