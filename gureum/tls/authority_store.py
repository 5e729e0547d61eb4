"""gureum's local certificate authority in the store: created once, then read by every
node, on SQLite or PostgreSQL.

Two nodes starting at once on one database may both make an authority; each inserts
its own only if the row is absent, then reads back the row that won, so both end with
the same one. The private key never leaves the store but for the memory of a node.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable

import sqlalchemy as sa

from gureum.store import Store
from gureum.store.tables import certificate_authorities
from gureum.tls.authority import Authority, new_authority

#: The one authority's row.
LOCAL = "local"


def _read(store: Store) -> Authority | None:
    with store.engine.connect() as connection:
        row = connection.execute(
            sa.select(
                certificate_authorities.c.certificate, certificate_authorities.c.private_key
            ).where(certificate_authorities.c.name == LOCAL)
        ).first()
    return None if row is None else Authority(row.certificate, row.private_key)


def local_authority(
    store: Store,
    make: Callable[[datetime.datetime], Authority] = new_authority,
) -> Authority:
    """The store's authority; made with ``make`` and kept if the store has none yet."""
    found = _read(store)
    if found is not None:
        return found
    made = make(datetime.datetime.now(datetime.UTC))
    with store.engine.begin() as connection:
        connection.execute(
            store.insert(certificate_authorities)
            .values(
                name=LOCAL,
                certificate=made.certificate_pem,
                private_key=made.private_key_pem,
                created_ms=int(time.time() * 1000),
            )
            .on_conflict_do_nothing(index_elements=["name"])
        )
    kept = _read(store)
    assert kept is not None, "the authority was inserted, or another node's was"
    return kept


def local_certificate(store: Store) -> str | None:
    """The store's authority's certificate (PEM), if it has one (``gureum tls ca``)."""
    found = _read(store)
    return None if found is None else found.certificate_pem
