"""``gureum tls ca``: the certificate of gureum's local CA (PEM), the one every node on a
store serves HTTPS under, for clients to trust (``docs/tls.md``). Read from the store,
not through a server: ``--data-dir`` or ``--database-url`` say which, as for the server.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gureum.cli.client import CLIError


def cmd_tls_ca(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from gureum.settings import Settings
    from gureum.store import Store
    from gureum.tls.authority_store import local_certificate

    given: dict[str, Any] = {"data_dir": args.data_dir, "database_url": args.database_url}
    settings = Settings.model_validate({k: v for k, v in given.items() if v is not None})
    url = sa.engine.make_url(settings.resolved_database_url)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
        raise CLIError(f"no store at {url.database}: start `gureum server` once to make its CA")
    store = Store(settings.resolved_database_url)
    try:
        certificate = local_certificate(store)
    except sa.exc.DBAPIError as exc:  # a store older than its table, or out of reach
        raise CLIError(f"cannot read the CA from the store: {exc.orig}") from exc
    finally:
        store.close()
    if certificate is None:
        raise CLIError("the store has no CA yet: start `gureum server` once to make it")
    print(certificate, end="")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``tls ca`` to ``gureum``'s commands."""
    tls = commands.add_parser("tls", help="the local CA the HTTPS edge's certificates come from")
    actions = tls.add_subparsers(dest="action", required=True, metavar="ACTION")
    ca = actions.add_parser("ca", help="print the CA's certificate (PEM), for clients to trust")
    ca.add_argument(
        "--data-dir", type=Path, default=None, help="the server's data directory (SQLite store)"
    )
    ca.add_argument("--database-url", default=None, help="the server's store, if not SQLite")
    ca.set_defaults(func=cmd_tls_ca)
