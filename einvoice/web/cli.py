"""``einvoice serve [--host 127.0.0.1] [--port 8000] [--no-worker] [--no-migrate]``: wire into einvoice/cli.py
with ``add_parser(commands)``. Also runnable on its own: ``python -m einvoice.web.cli serve``.

Runs the web application (`einvoice.web.create_app`) with uvicorn on the database of the settings
(``EINVOICE_DATABASE_URL``; with nothing configured the SQLite file in the data folder), after
migrating it to the newest schema; with ``--no-migrate`` it only checks that the schema is current
and exits with status 2 otherwise (N instances: ``einvoice db upgrade`` once, then start them all;
see deploy/README.md). ``X-Forwarded-For``/``-Proto`` are taken only from ``EINVOICE_TRUSTED_PROXIES``
(default 127.0.0.1): the client address behind the local nginx is the real one, and the proxy's own
address stays known for the trusted-header login (`web.peer`).

Unless ``--no-worker``, a worker thread in the same process processes the received items (on
SQLite that is the one worker the database should have: do not run ``einvoice worker`` beside it;
on PostgreSQL run ``--no-worker`` servers and any number of ``einvoice worker`` processes as you
like). SIGTERM/SIGINT finish the requests and the job in hand, then stop.

Environment besides the settings: ``EINVOICE_API_TOKEN`` (read API; unset: the read API answers
503), ``EINVOICE_SECRET_KEY`` (status links; unset: a key kept in the data folder),
``EINVOICE_BASE_URL`` (the address in receipts' links, as in the receipt mails; default: the request's).
"""

from __future__ import annotations

import argparse
import logging
import sys


def _serve(args) -> int:
    import uvicorn

    from ..config import load_settings
    from ..store.db import Database
    from ..store.migrate import SchemaNotCurrentError, check_current, upgrade
    from .app import create_app

    logging.basicConfig(level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("einvoice.web")
    settings = load_settings()
    if args.no_migrate:  # several instances: `einvoice db upgrade` ran once before they started
        try:
            check_current(settings.effective_database_url)
        except SchemaNotCurrentError as exc:
            print(f"einvoice: {exc}", file=sys.stderr)
            return 2
    else:
        upgrade(settings.effective_database_url)
    db = Database(settings=settings)
    app = create_app(settings, db, worker=not args.no_worker)
    log.info("einvoice serving on http://%s:%d with %s, %s", args.host, args.port, db,
             "no worker (--no-worker)" if args.no_worker else "an in-process worker")
    from ..config import setting
    from .peer import behind_proxies

    # forwarded headers applied by us (not uvicorn) so the proxy's own address stays known (web.peer)
    config = uvicorn.Config(behind_proxies(app, setting("EINVOICE_TRUSTED_PROXIES") or "127.0.0.1"), host=args.host,
                            port=args.port, log_level=args.log_level, server_header=False, date_header=True,
                            access_log=True, lifespan="on", proxy_headers=False)
    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it caught once it has shut down
        pass
    finally:
        db.dispose()
    return 0 if server.started else 1


def add_parser(subparsers) -> argparse.ArgumentParser:
    serve = subparsers.add_parser(
        "serve", help="run the web intake: upload page, API, status pages (and a worker unless --no-worker)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--no-worker", action="store_true",
                       help="do not process items in this process (run `einvoice worker` separately)")
    serve.add_argument("--no-migrate", action="store_true",
                       help="do not migrate the database at start; refuse to start (exit 2) unless its schema is "
                            "current (several instances: run `einvoice db upgrade` once, then start them)")
    serve.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    serve.set_defaults(func=_serve)
    return serve


def main(argv: list[str] | None = None) -> int:
    """``python -m einvoice.web.cli …`` runs the same command line as ``einvoice …``."""
    from ..cli import main as einvoice_main

    return einvoice_main(argv)


if __name__ == "__main__":
    sys.exit(main())
