"""Running ``videx serve``: uvicorn worker processes, each on its own SO_REUSEPORT socket.

The settings reach the workers through the environment (``VIDEX_SERVE_*``), so every worker,
and every ``videx serve`` instance on the same PostgreSQL catalog, builds the same application.
"""

from __future__ import annotations

import json
import secrets
import socket
import tempfile
import threading

from videx import users as users_mod
from videx.errors import VidexError


def _warm_up() -> None:
    """Load what the first upload or clip page would otherwise wait for (PyAV and the
    intake, some 0.2-0.3 s), in the background while the worker starts serving."""
    try:
        import av  # noqa: F401

        from videx import intake, probe_av  # noqa: F401
    except ImportError:                  # PyAV missing: probing falls back to ffprobe
        pass


def _app_from_env():
    """The application for ``uvicorn --factory`` worker processes (settings from ``serve``,
    through ``VIDEX_SERVE_OPTIONS``; the secret through ``VIDEX_SERVER_SECRET``)."""
    import os
    import threading

    from videx.web.app import create_app
    threading.Thread(target=_warm_up, name="videx-warm-up", daemon=True).start()
    options = json.loads(os.environ["VIDEX_SERVE_OPTIONS"])
    options["trusted_proxies"] = tuple(options.get("trusted_proxies") or ())
    return create_app(options.pop("location"), secret=os.environ["VIDEX_SERVER_SECRET"],
                      **options)


def serve(location: str, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          **options) -> None:
    """Run the web interface until interrupted (uvicorn; ``workers`` processes share one
    secret and one preview cache). ``options``: ``videx.web.WebOptions``'s fields (basemap,
    trusted_proxies, https_cookies, idle_timeout_s, public_url, ...)."""
    import os

    import uvicorn

    from videx.catalog import open_catalog
    from videx.web.app import WebOptions
    with open_catalog(location) as cat:          # fail now, in one line, on a bad catalog
        if not users_mod.list_users(cat):
            raise VidexError("no users yet: add one with videx users add NAME --role admin "
                             "--password-stdin")
    if options.get("basemap"):
        from videx.basemap import open_tiles
        open_tiles(options["basemap"])           # a bad basemap: refused now, in one line
    from videx.web.sessions import ProxyRule
    ProxyRule(tuple(options.get("trusted_proxies") or ()))
    unknown = set(options) - set(WebOptions.__dataclass_fields__)
    if unknown:
        raise VidexError(f"internal: unknown serve options {sorted(unknown)}")
    os.environ.setdefault("VIDEX_SERVER_SECRET", secrets.token_urlsafe(32))
    os.environ["VIDEX_SERVE_OPTIONS"] = json.dumps({
        "location": location, "cache_dir": tempfile.mkdtemp(prefix="videx-serve-"),
        **{k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}})
    if workers > 1 and hasattr(socket, "SO_REUSEPORT"):
        _serve_reuseport(host, port, workers)
        return
    uvicorn.run("videx.web.server:_app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level="warning")


def _listening_socket(host: str, port: int, share: bool = True) -> socket.socket:
    """A TCP socket bound to the address, listening when ``share`` (with SO_REUSEPORT:
    the workers' sockets share the address); without ``share`` only bound, to find out
    whether anything else listens there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto given: connections accepted on a socket made with proto 0 inherit it, and asyncio
    # then leaves Nagle's algorithm on, so each keep-alive response waited ~40 ms for the
    # browser's delayed ACK (uvicorn's own --workers sockets have this bug: Kludex/uvicorn#3149)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if share:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise VidexError(f"cannot listen on {host}:{port}: {err.strerror}") from err
    if share:
        sock.listen(2048)
    return sock


def _worker(sock: socket.socket) -> None:
    """One server process on its own socket (see ``_serve_reuseport``)."""
    import uvicorn
    config = uvicorn.Config("videx.web.server:_app_from_env", factory=True,
                            log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def _serve_reuseport(host: str, port: int, workers: int) -> None:
    """``workers`` processes, each accepting on its own SO_REUSEPORT socket, so the kernel
    spreads connections over them evenly by address. (With uvicorn's one shared socket,
    whichever process wakes first takes each new connection: a browser's keep-alive
    connections piled up on one process, measured at 84% of the work on one of two workers,
    while the other core idled.) A worker that dies is started again; SIGTERM or Ctrl-C
    stops them all."""
    import multiprocessing
    import signal
    # another server on the port (even another videx serve, whose sockets would share it
    # with ours) is refused, as a plain bind would be
    _listening_socket(host, port, share=False).close()
    sockets = [_listening_socket(host, port) for _ in range(workers)]
    spawn = multiprocessing.get_context("spawn")
    procs = [spawn.Process(target=_worker, args=(sock,), daemon=True) for sock in sockets]
    stopping = threading.Event()

    def stop(signum, frame):
        stopping.set()
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        for proc in procs:
            proc.start()
        while not stopping.wait(0.5):
            for i, proc in enumerate(procs):
                if not proc.is_alive():                # crashed: start another on its socket
                    procs[i] = spawn.Process(target=_worker, args=(sockets[i],), daemon=True)
                    procs[i].start()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        for proc in procs:
            proc.terminate()                           # uvicorn finishes open requests
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
        for sock in sockets:
            sock.close()
