"""The authority is kept in the store: made once, the same for every node on it."""

from __future__ import annotations

import datetime
import threading

from gureum.store import Store, open_store
from gureum.tls.authority import Authority, new_authority
from gureum.tls.authority_store import local_authority, local_certificate


def test_made_once_then_read(store: Store) -> None:
    assert local_certificate(store) is None
    first = local_authority(store)
    assert local_authority(store) == first
    assert local_certificate(store) == first.certificate_pem


def test_two_nodes_starting_at_once_end_with_one(store: Store) -> None:
    """Both make an authority before either inserts; both keep the one that won."""
    both_made = threading.Barrier(2, timeout=10)

    def make(now: datetime.datetime) -> Authority:
        made = new_authority(now)
        both_made.wait()
        return made

    other = open_store(store.url)
    kept: list[Authority] = []

    def start(node: Store) -> None:
        kept.append(local_authority(node, make))

    try:
        threads = [threading.Thread(target=start, args=(node,)) for node in (store, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        other.close()
    assert len(kept) == 2 and kept[0] == kept[1]
