"""Who is asking: sign-in sessions, the client's address behind a proxy, sign-in limits.

A session is a row in the catalog (``web_sessions``, keyed by the SHA-256 of a random
256-bit id), so every ``videx serve`` instance on the catalog knows it and signing out ends it
everywhere: the old cookie is refused at once. The browser's cookie carries the id and the
form token, signed with the server secret (``VIDEX_SERVER_SECRET``: give every instance the
same) and re-signed on every response, so it expires after the idle timeout; every session
also ends ``session_max_s`` after sign-in, and when its user is disabled or given a new role
or password.

``X-Forwarded-For`` is believed only from the proxies named with ``--trusted-proxy``; the
client address it gives then counts for the sign-in limits and is written to the audit log.
"""

from __future__ import annotations

import collections
import hashlib
import ipaddress
import secrets
import threading
import time
from urllib.parse import urlencode


class LoginLimiter:
    """Failed sign-ins within ``window_s`` seconds: at most ``limit`` per (client address,
    name), ``4 * limit`` per client address (a flood of wrong names from one address stops
    that address only) and ``10 * limit`` per name from all addresses (an account under
    attack from many addresses waits; nobody else does)."""

    def __init__(self, limit: int = 5, window_s: float = 300.0):
        self.limit, self.window_s = limit, window_s
        self.failures: dict[tuple, collections.deque] = collections.defaultdict(
            collections.deque)
        self.lock = threading.Lock()

    def _recent(self, key, now) -> collections.deque:
        q = self.failures[key]
        while q and now - q[0] > self.window_s:
            q.popleft()
        if len(self.failures) > 10_000:      # forget keys whose failures have all expired
            for k in [k for k, v in self.failures.items() if not v or now - v[-1] >
                      self.window_s]:
                if k != key:
                    del self.failures[k]
        return q

    def _keys(self, address: str, name: str) -> list[tuple[tuple, int]]:
        name = name.lower()
        return [(("pair", address, name), self.limit), (("address", address), 4 * self.limit),
                (("name", name), 10 * self.limit)]

    def blocked(self, address: str, name: str) -> bool:
        now = time.monotonic()
        with self.lock:
            return any(len(self._recent(key, now)) >= most
                       for key, most in self._keys(address, name))

    def failed(self, address: str, name: str) -> None:
        now = time.monotonic()
        with self.lock:
            for key, _ in self._keys(address, name):
                self._recent(key, now).append(now)

    def succeeded(self, address: str, name: str) -> None:
        with self.lock:
            self.failures.pop(("pair", address, name.lower()), None)


class ProxyRule:
    """Which peers' ``X-Forwarded-For`` to believe (addresses or networks, e.g.
    ``127.0.0.1`` or ``10.0.0.0/8``); none by default."""

    def __init__(self, trusted: tuple[str, ...] = ()):
        self.networks = []
        for item in trusted:
            try:
                self.networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError as err:
                from videx.errors import OptionError
                raise OptionError(f"--trusted-proxy {item!r} is not an address or network "
                                  "(e.g. 127.0.0.1 or 10.0.0.0/8)", "trusted_proxy") from err

    def trusted(self, address: str | None) -> bool:
        try:
            ip = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(ip in net for net in self.networks)

    def client(self, request) -> str:
        """The client's address: the peer, or, when the peer is a trusted proxy, the nearest
        address in ``X-Forwarded-For`` that is not itself a trusted proxy."""
        peer = request.client.host if request.client else "?"
        if not self.networks or not self.trusted(peer):
            return peer
        hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",")
                if h.strip()]
        for hop in reversed(hops):
            if not self.trusted(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return peer          # a malformed header: the proxy itself is the client
        return peer


def session_hash(session_id: str) -> str:
    """What the catalog stores of a session id (never the id)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def trusted(row: dict | None) -> dict | None:
    """(name, role) of a session's user row when the row is exactly as its last audit entry
    recorded it (a role or user written into the catalog outside videx grants nothing)."""
    if row is None:
        return None
    from videx import audit
    audited = row.pop("videx_audited_hash")
    if audited != audit.row_hash("users", row):
        return None
    return {"name": row["name"], "role": row["role"]}


def signed_in(web, request, role: str):
    """(the signed-in user, None) or (None, a response: to sign-in, or "not allowed").
    Reads the session and its user in one statement, so an ended session, a disabled user
    or a changed role counts at once."""
    from starlette.responses import RedirectResponse
    sid = request.session.get("sid")
    user = None
    if sid:
        with web.catalog_for(None) as cat:
            user = trusted(cat.sessions.user(session_hash(sid),
                                             time.time() - web.options.session_max_s))
    if user is None:
        if sid:
            request.session.clear()
        nxt = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return None, RedirectResponse(f"/login?{urlencode({'next': nxt})}", 303)
    from videx import users
    if not users.allowed(user["role"], role):
        request.state.user = user
        return None, web.error(request, "Not allowed", f"This page needs the {role} role.",
                               403)
    return user, None


def start(web, request, name: str, password: str) -> tuple[dict | None, str]:
    """Check a sign-in and, when right, open a session (row and audit entry in one
    transaction); (the user or None, the client address). Slow on purpose (argon2)."""
    from videx import users
    client = web.proxies.client(request)
    began = time.time()          # a password changed after this instant ends the session
    with web.catalog_for(None) as cat:
        user = users.check_password(cat, name, password)
        if user is None:
            web.audited.record(None, "sign in refused", {"name": name[:100],
                                                         "address": client})
            return None, client
        sid = secrets.token_urlsafe(32)
        with cat.write("sign in", {"name": user["name"], "address": client}) as tx:
            tx.acting_as = f"web:{user['name']}"
            cat.sessions.purge(began - web.options.session_max_s)
            cat.sessions.start(session_hash(sid), user["name"], began, client,
                               request.headers.get("user-agent"))
    request.session.clear()                       # a fresh session: no fixation
    request.session.update({"sid": sid, "csrf": secrets.token_urlsafe(24)})
    return user, client


def end(web, request) -> None:
    """Sign out: the session's row goes (every instance refuses the cookie from now on)."""
    sid = request.session.get("sid")
    request.session.clear()
    if not sid:
        return
    with web.catalog_for(None) as cat:
        user = trusted(cat.sessions.user(session_hash(sid), 0.0))
        with cat.write("sign out", {"address": web.proxies.client(request)}) as tx:
            tx.acting_as = f"web:{user['name']}" if user else None
            if not cat.sessions.end(session_hash(sid)):
                tx.cancelled = True           # already ended: nothing to record
